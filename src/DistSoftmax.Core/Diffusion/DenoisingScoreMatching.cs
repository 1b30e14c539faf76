using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Core.Diffusion;

/// <summary>
/// Denoising score matching for the Ornstein–Uhlenbeck forward process (Vincent 2011; Song et al. 2021). For a data
/// point x_0, a time t and z ~ N(0, I), x_t = α_t x_0 + σ_t z and ∇ log p(x_t | x_0) = −z/σ_t; the σ_t²-weighted loss
///   E_t Σ σ_t² ‖s(x_t, t) + z/σ_t‖² = E_t Σ ‖σ_t s(x_t, t) + z‖²
/// is the network's squared loss ½Σ‖F(φ(x_t, t)) − y‖² with target y = −z and F = σ_t s. Its minimiser over all
/// functions is F = σ_t ∇log p_t, so the learned score converges to the exact score of the forward marginal.
/// Times are drawn log-uniformly in [t_min, T] (density ∝ 1/t), so the small times that shape the samples are not
/// starved.
/// </summary>
public static class DenoisingScoreMatching
{
    /// <summary>
    /// Training rows: <paramref name="copies"/> draws (t, z) for every data point (n·copies rows; inputs ×4 features,
    /// targets ×2), from stream (seed, <paramref name="stream"/>).
    /// </summary>
    public static (DenseMatrix Inputs, DenseMatrix Targets) TrainingSet(DenseMatrix data, ScoreFeatures features, int copies,
        double timeMin, double timeMax, ulong seed, ulong stream = 3)
    {
        if (data.Cols != 2) throw new ArgumentException($"diffusion data must be n×2, got {data.Rows}×{data.Cols}");
        if (copies < 1) throw new ParameterException(nameof(DiffusionOptions.Copies), copies, "must be at least 1");
        int rows = checked(data.Rows * copies);
        var inputs = new DenseMatrix(rows, ScoreFeatures.Dimension);
        var targets = new DenseMatrix(rows, 2);
        var rng = Rng.ForStream(seed, stream);
        double logMin = Math.Log(timeMin), logRange = Math.Log(timeMax) - logMin;
        int row = 0;
        for (int i = 0; i < data.Rows; i++)
            for (int c = 0; c < copies; c++, row++)
            {
                double t = Math.Exp(logMin + logRange * rng.NextDouble());
                double a = OrnsteinUhlenbeck.Alpha(t), s = OrnsteinUhlenbeck.Sigma(t);
                double z1 = rng.NextNormal(), z2 = rng.NextNormal();
                features.Write(a * data[i, 0] + s * z1, a * data[i, 1] + s * z2, t, inputs.RowMutable(row));
                targets[row, 0] = -z1;
                targets[row, 1] = -z2;
            }
        return (inputs, targets);
    }

    /// <summary>
    /// The loss ½Σ‖σ_t s(x_t, t) + z‖² that the exact score of the forward marginal of <paramref name="target"/> attains
    /// on DSM rows (x_t and t recovered from the features): the floor that no network beats on average, so a network's
    /// excess loss over it measures its distance to the exact score.
    /// </summary>
    public static double ExactScoreLoss(GaussianMixture target, ScoreFeatures features, DenseMatrix inputs, DenseMatrix targets)
    {
        double loss = 0;
        for (int r = 0; r < inputs.Rows; r++)
        {
            double t = features.Time(inputs.Row(r));
            double c = features.InputScale(t), sigma = OrnsteinUhlenbeck.Sigma(t);
            var (gx, gy) = OrnsteinUhlenbeck.Marginal(target, t).Score(inputs[r, 0] * c, inputs[r, 1] * c, 0.0);
            double rx = sigma * gx - targets[r, 0], ry = sigma * gy - targets[r, 1];
            loss += 0.5 * (rx * rx + ry * ry);
        }
        return loss;
    }

    /// <summary>
    /// Relative L2 errors √(Σ_i‖s_θ − s‖² / Σ_i‖s‖²) of a learned score against the exact score of p_t at every time of
    /// <paramref name="times"/> (fresh draws from p_t, stream (seed, 4, l)), and the σ_t²-weighted error over all of
    /// them, √(Σ_l σ_l² Σ_i‖s_θ − s‖² / Σ_l σ_l² Σ_i‖s‖²) — the error in the network's own output F = σ_t s, so no
    /// single time dominates (the score itself grows like 1/σ_t as t → 0).
    /// </summary>
    public static (double[] PerTime, double Weighted) ScoreErrors(ScoreNetwork network, GaussianMixture target, DiffusionTimes times, int points, ulong seed)
    {
        var perTime = new double[times.Count];
        double num = 0, den = 0;
        for (int l = 0; l < times.Count; l++)
        {
            double t = times.Times[l], s2 = Math.Pow(OrnsteinUhlenbeck.Sigma(t), 2);
            var marginal = OrnsteinUhlenbeck.Marginal(target, t);
            var x = marginal.Sample(points, Rng.ForStream(seed, 4, (ulong)l));
            var exact = marginal.Scores(x, 0.0);
            var learned = network.Scores(x, t);
            double e2 = 0, n2 = 0;
            for (int i = 0; i < exact.Data.Length; i++)
            {
                double e = learned.Data[i] - exact.Data[i];
                e2 += e * e;
                n2 += exact.Data[i] * exact.Data[i];
            }
            perTime[l] = Math.Sqrt(e2 / n2);
            num += s2 * e2;
            den += s2 * n2;
        }
        return (perTime, Math.Sqrt(num / den));
    }

    /// <summary>
    /// Samples by the reverse-time SDE dx = [x + 2∇log p_t(x)] dt + √2 dB̄_t (Anderson 1982; Song et al. 2021), run
    /// from t = T to t_min by Euler–Maruyama on the geometric grid <paramref name="grid"/> (steps h_i = t_i − t_{i+1}):
    ///   x ← x + h_i (x + 2 s(x, t_i)) + √(2h_i) ξ,
    /// starting from the stationary law N(0, I) (which p_T approaches like e^{−T}); with <paramref name="denoise"/> a
    /// final Tweedie step x ← (x + σ²_{t_min} s(x, t_min)) / α_{t_min} = E[x_0 | x_{t_min}]. Stream (seed, 5).
    /// Throws <see cref="OperationCanceledException"/> at the next step once <paramref name="cancellation"/> is cancelled.
    /// </summary>
    public static DenseMatrix ReverseSde(Func<DenseMatrix, double, DenseMatrix> score, DiffusionTimes grid, int samples, ulong seed, bool denoise = true,
        CancellationToken cancellation = default)
    {
        if (samples < 1) throw new ParameterException(nameof(DiffusionOptions.Samples), samples, "must be at least 1");
        var rng = Rng.ForStream(seed, 5);
        var x = new DenseMatrix(samples, 2);
        for (int i = 0; i < x.Data.Length; i++) x.Data[i] = rng.NextNormal();
        for (int step = 0; step + 1 < grid.Count; step++)
        {
            cancellation.ThrowIfCancellationRequested();   // each step scores every sample: Ctrl+C stops at the next one
            double t = grid.Times[step], h = t - grid.Times[step + 1], noise = Math.Sqrt(2 * h);
            var s = score(x, t);
            for (int i = 0; i < x.Data.Length; i++) x.Data[i] += h * (x.Data[i] + 2 * s.Data[i]) + noise * rng.NextNormal();
        }
        if (denoise)
        {
            double t = grid.Min, a = OrnsteinUhlenbeck.Alpha(t), s2 = Math.Pow(OrnsteinUhlenbeck.Sigma(t), 2);
            var s = score(x, t);
            for (int i = 0; i < x.Data.Length; i++) x.Data[i] = (x.Data[i] + s2 * s.Data[i]) / a;
        }
        return x;
    }
}
