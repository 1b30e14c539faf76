using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Core.Diffusion;

/// <summary>Noise levels σ_1 &gt; σ_2 &gt; … &gt; σ_L, geometric from <c>max</c> down to <c>min</c>.</summary>
public sealed record NoiseSchedule(double[] Sigmas)
{
    public static NoiseSchedule Geometric(double max, double min, int levels)
    {
        if (!(min > 0 && max > min && double.IsFinite(max))) throw new ParameterException(nameof(DiffusionOptions.SigmaMin), min, "and {0} must satisfy 0 < min < max", related: [nameof(DiffusionOptions.SigmaMax)]);
        if (levels < 2) throw new ParameterException(nameof(DiffusionOptions.Levels), levels, "must be at least 2");
        var s = new double[levels];
        for (int l = 0; l < levels; l++) s[l] = max * Math.Pow(min / max, l / (double)(levels - 1));
        return new NoiseSchedule(s);
    }

    public int Levels => Sigmas.Length;
    public double Max => Sigmas[0];
    public double Min => Sigmas[^1];
    /// <summary>The middle level σ_{⌊L/2⌋} (the level the tests bound).</summary>
    public double Middle => Sigmas[Sigmas.Length / 2];
}

/// <summary>
/// The network's input for a noised point x̃ at level σ: φ(x̃, σ) = [x̃₁/c, x̃₂/c, log σ / log σ_max-scale, 1] with
/// c = √(v + σ²) (v the data's per-coordinate variance, so the inputs have unit scale at every level — the input
/// scaling of Karras et al.'s EDM) and the constant 1 as a bias feature.
/// </summary>
public sealed record ScoreFeatures(double DataVariance, double LogSigmaScale)
{
    public const int Dimension = 4;

    /// <summary>Features for data with the given samples and schedule (v from the samples, log σ scaled to [−1, 1]).</summary>
    public static ScoreFeatures For(DenseMatrix data, NoiseSchedule schedule)
    {
        double v = 0, mx = 0, my = 0;
        for (int i = 0; i < data.Rows; i++) { mx += data[i, 0]; my += data[i, 1]; }
        mx /= data.Rows; my /= data.Rows;
        for (int i = 0; i < data.Rows; i++) v += (data[i, 0] - mx) * (data[i, 0] - mx) + (data[i, 1] - my) * (data[i, 1] - my);
        v /= 2.0 * data.Rows;
        double scale = Math.Max(Math.Abs(Math.Log(schedule.Max)), Math.Abs(Math.Log(schedule.Min)));
        return new ScoreFeatures(v, scale > 0 ? scale : 1.0);
    }

    public void Write(double x, double y, double sigma, Span<double> f)
    {
        double c = Math.Sqrt(DataVariance + sigma * sigma);
        f[0] = x / c;
        f[1] = y / c;
        f[2] = Math.Log(sigma) / LogSigmaScale;
        f[3] = 1.0;
    }
}

/// <summary>
/// A learned score s_θ(x, σ) = F(W, φ(x, σ)) / σ: the network predicts σ·∇log p_σ, the quantity the σ²-weighted
/// denoising score-matching loss fits with targets −ε (see <see cref="DenoisingScoreMatching"/>).
/// </summary>
public sealed class ScoreNetwork(NetworkModel model, double[] weights, ScoreFeatures features)
{
    public NetworkModel Model { get; } = model;
    public double[] Weights { get; } = weights;
    public ScoreFeatures Features { get; } = features;

    /// <summary>s_θ at the n rows of <paramref name="points"/> (n×2) for one σ.</summary>
    public DenseMatrix Scores(DenseMatrix points, double sigma)
    {
        int n = points.Rows;
        var f = new double[n * ScoreFeatures.Dimension];
        for (int i = 0; i < n; i++) Features.Write(points[i, 0], points[i, 1], sigma, f.AsSpan(i * ScoreFeatures.Dimension, ScoreFeatures.Dimension));
        var output = new DenseMatrix(n, 2);
        Model.Predict(Weights, f, n, output.Data);
        for (int i = 0; i < output.Data.Length; i++) output.Data[i] /= sigma;
        return output;
    }
}

/// <summary>
/// Denoising score matching (Vincent 2011; Song &amp; Ermon 2019) at a schedule of noise levels. For a data point x,
/// a level σ and ε ~ N(0, I), the noised point is x̃ = x + σε and ∇_x̃ log p(x̃ | x) = −ε/σ; the σ²-weighted loss
///   Σ σ² ‖s(x̃, σ) + ε/σ‖² = Σ ‖σ s(x̃, σ) + ε‖²
/// is the network's squared loss ½Σ‖F(φ(x̃, σ)) − y‖² with target y = −ε and F = σ s. Its minimiser over all
/// functions is F = σ ∇log p_σ, so the learned score converges to the exact one of the noised data distribution.
/// </summary>
public static class DenoisingScoreMatching
{
    /// <summary>
    /// Training rows: every data point at every level, <paramref name="copies"/> noise draws each
    /// (n·L·copies rows; inputs ×4 features, targets ×2), from stream (seed, 3).
    /// </summary>
    public static (DenseMatrix Inputs, DenseMatrix Targets) TrainingSet(DenseMatrix data, NoiseSchedule schedule, ScoreFeatures features,
        int copies, ulong seed)
    {
        if (data.Cols != 2) throw new ArgumentException($"diffusion data must be n×2, got {data.Rows}×{data.Cols}");
        if (copies < 1) throw new ParameterException(nameof(DiffusionOptions.Copies), copies, "must be at least 1");
        int rows = checked(data.Rows * schedule.Levels * copies);
        var inputs = new DenseMatrix(rows, ScoreFeatures.Dimension);
        var targets = new DenseMatrix(rows, 2);
        var rng = Rng.ForStream(seed, 3);
        int t = 0;
        for (int i = 0; i < data.Rows; i++)
            foreach (var sigma in schedule.Sigmas)
                for (int c = 0; c < copies; c++, t++)
                {
                    double e1 = rng.NextNormal(), e2 = rng.NextNormal();
                    features.Write(data[i, 0] + sigma * e1, data[i, 1] + sigma * e2, sigma, inputs.RowMutable(t));
                    targets[t, 0] = -e1;
                    targets[t, 1] = -e2;
                }
        return (inputs, targets);
    }

    /// <summary>
    /// The training loss ½Σ‖σ s(x̃, σ) + ε‖² that the exact score of <paramref name="target"/> attains on DSM rows
    /// (x̃ and σ recovered from the features): the floor that no network can beat on average, so a network's excess
    /// loss over it measures how far it is from the exact score.
    /// </summary>
    public static double ExactScoreLoss(GaussianMixture target, ScoreFeatures features, DenseMatrix inputs, DenseMatrix targets)
    {
        double loss = 0;
        for (int t = 0; t < inputs.Rows; t++)
        {
            double sigma = Math.Exp(inputs[t, 2] * features.LogSigmaScale);
            double c = Math.Sqrt(features.DataVariance + sigma * sigma);
            var (gx, gy) = target.Score(inputs[t, 0] * c, inputs[t, 1] * c, sigma);
            double rx = sigma * gx - targets[t, 0], ry = sigma * gy - targets[t, 1];
            loss += 0.5 * (rx * rx + ry * ry);
        }
        return loss;
    }

    /// <summary>
    /// Relative L2 error √(Σ‖s_θ − s‖² / Σ‖s‖²) of a learned score against the exact score of p_σ, over
    /// <paramref name="points"/> fresh draws from p_σ (stream (seed, 4, level)).
    /// </summary>
    public static double RelativeError(ScoreNetwork network, GaussianMixture target, double sigma, int points, ulong seed, int level = 0)
    {
        var x = target.Sample(points, Rng.ForStream(seed, 4, (ulong)level), sigma);
        var exact = target.Scores(x, sigma);
        var learned = network.Scores(x, sigma);
        double num = 0, den = 0;
        for (int i = 0; i < exact.Data.Length; i++)
        {
            double e = learned.Data[i] - exact.Data[i];
            num += e * e;
            den += exact.Data[i] * exact.Data[i];
        }
        return Math.Sqrt(num / den);
    }

    /// <summary>
    /// Annealed Langevin dynamics (Song &amp; Ermon 2019, Algorithm 1): start from N(0, σ_1² I) (plus the data mean
    /// <paramref name="center"/>), and for each level i run T steps x ← x + (α_i/2) s(x, σ_i) + √α_i z with
    /// α_i = ε σ_i²/σ_L²; finally one denoising step x ← x + σ_L² s(x, σ_L) (Tweedie's formula). Stream (seed, 5).
    /// </summary>
    public static DenseMatrix AnnealedLangevin(Func<DenseMatrix, double, DenseMatrix> score, NoiseSchedule schedule, int samples,
        int stepsPerLevel, double epsilon, ulong seed, (double X, double Y) center = default, bool denoise = true)
    {
        if (samples < 1) throw new ParameterException(nameof(DiffusionOptions.Samples), samples, "must be at least 1");
        if (stepsPerLevel < 1) throw new ParameterException(nameof(DiffusionOptions.LangevinSteps), stepsPerLevel, "must be at least 1");
        if (!(epsilon > 0)) throw new ParameterException(nameof(DiffusionOptions.LangevinEpsilon), epsilon, "must be > 0");
        var rng = Rng.ForStream(seed, 5);
        var x = new DenseMatrix(samples, 2);
        for (int i = 0; i < samples; i++)
        {
            x[i, 0] = center.X + schedule.Max * rng.NextNormal();
            x[i, 1] = center.Y + schedule.Max * rng.NextNormal();
        }
        double last = schedule.Min * schedule.Min;
        foreach (var sigma in schedule.Sigmas)
        {
            double alpha = epsilon * sigma * sigma / last, noise = Math.Sqrt(alpha);
            for (int t = 0; t < stepsPerLevel; t++)
            {
                var s = score(x, sigma);
                for (int i = 0; i < x.Data.Length; i++) x.Data[i] += 0.5 * alpha * s.Data[i] + noise * rng.NextNormal();
            }
        }
        if (denoise)
        {
            var s = score(x, schedule.Min);
            for (int i = 0; i < x.Data.Length; i++) x.Data[i] += last * s.Data[i];
        }
        return x;
    }
}
