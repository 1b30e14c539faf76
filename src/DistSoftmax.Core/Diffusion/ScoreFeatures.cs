using DistSoftmax.Core.Linear;

namespace DistSoftmax.Core.Diffusion;

/// <summary>
/// The network's input for a point x_t at diffusion time t: φ(x_t, t) = [x_t,1/c_t, x_t,2/c_t, log t / L, 1] with
/// c_t = √(α_t² v + σ_t²) (v the data's per-coordinate variance, so the inputs have unit scale at every time — the
/// input scaling of Karras et al.'s EDM), the time concatenated as log t scaled to [−1, 1] by L = max(|log t_min|,
/// |log T|), and the constant 1 as a bias feature.
/// </summary>
public sealed record ScoreFeatures(double DataVariance, double LogTimeScale)
{
    public const int Dimension = 4;

    /// <summary>Features for data with the given samples and time range.</summary>
    public static ScoreFeatures For(DenseMatrix data, double timeMin, double timeMax)
    {
        double v = 0, mx = 0, my = 0;
        for (int i = 0; i < data.Rows; i++) { mx += data[i, 0]; my += data[i, 1]; }
        mx /= data.Rows; my /= data.Rows;
        for (int i = 0; i < data.Rows; i++) v += (data[i, 0] - mx) * (data[i, 0] - mx) + (data[i, 1] - my) * (data[i, 1] - my);
        v /= 2.0 * data.Rows;
        double scale = Math.Max(Math.Abs(Math.Log(timeMax)), Math.Abs(Math.Log(timeMin)));
        return new ScoreFeatures(v, scale > 0 ? scale : 1.0);
    }

    /// <summary>c_t = √(α_t² v + σ_t²).</summary>
    public double InputScale(double t)
    {
        double a = OrnsteinUhlenbeck.Alpha(t), s = OrnsteinUhlenbeck.Sigma(t);
        return Math.Sqrt(a * a * DataVariance + s * s);
    }

    public void Write(double x, double y, double t, Span<double> f)
    {
        double c = InputScale(t);
        f[0] = x / c;
        f[1] = y / c;
        f[2] = Math.Log(t) / LogTimeScale;
        f[3] = 1.0;
    }

    /// <summary>The time t encoded in a feature row (the inverse of <see cref="Write"/>'s third entry).</summary>
    public double Time(ReadOnlySpan<double> f) => Math.Exp(f[2] * LogTimeScale);
}
