using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Core.Diffusion;

/// <summary>One component of a 2-D Gaussian mixture: weight π, mean μ, covariance Σ = [[Sxx, Sxy], [Sxy, Syy]].</summary>
public sealed record MixtureComponent(double Weight, double MeanX, double MeanY, double Sxx, double Sxy, double Syy);

/// <summary>
/// A 2-D Gaussian mixture p = Σ_j π_j N(μ_j, Σ_j) and its noised versions p_σ = p ∗ N(0, σ²I) = Σ_j π_j N(μ_j, Σ_j + σ²I),
/// whose score is known in closed form:
///   ∇ log p_σ(x) = Σ_j r_j(x) · (−(Σ_j + σ²I)⁻¹ (x − μ_j)),   r_j(x) = π_j N(x; μ_j, Σ_j + σ²I) / p_σ(x),
/// with the responsibilities r_j computed by log-sum-exp so that far-away points stay finite.
/// </summary>
public sealed class GaussianMixture
{
    public IReadOnlyList<MixtureComponent> Components { get; }

    public GaussianMixture(IReadOnlyList<MixtureComponent> components)
    {
        if (components.Count == 0) throw new ArgumentException("a mixture needs at least one component");
        double total = 0;
        foreach (var c in components)
        {
            if (!(c.Weight > 0)) throw new ArgumentException("mixture weights must be positive");
            if (!(c.Sxx >= 0 && c.Syy >= 0 && c.Sxx * c.Syy - c.Sxy * c.Sxy >= 0))
                throw new ArgumentException("a mixture covariance must be positive semidefinite");
            total += c.Weight;
        }
        Components = components.Select(c => c with { Weight = c.Weight / total }).ToArray();
    }

    /// <summary>The two-component default: weights 0.3 / 0.7 at (−2, 0) and (2, 0.5), one round and one elongated.</summary>
    public static GaussianMixture TwoComponents() => new(new[]
    {
        new MixtureComponent(0.3, -2.0, 0.0, 0.25, 0.0, 0.25),
        new MixtureComponent(0.7, 2.0, 0.5, 0.36, 0.15, 0.16),
    });

    /// <summary>
    /// The empirical distribution of n points (n×2) as a mixture of point masses (Σ_j = 0, equal weights): its noised
    /// version p_σ = (1/n) Σ_i N(x_i, σ²I) has the closed-form score above for every σ &gt; 0, which is the exact
    /// denoising-score-matching target for a training set of these points.
    /// </summary>
    public static GaussianMixture Empirical(DenseMatrix points)
    {
        if (points.Cols != 2) throw new ArgumentException($"samples must be n×2, got {points.Rows}×{points.Cols}");
        return new GaussianMixture(Enumerable.Range(0, points.Rows)
            .Select(i => new MixtureComponent(1.0, points[i, 0], points[i, 1], 0, 0, 0)).ToArray());
    }

    /// <summary>n draws (n×2) from p_σ (σ = 0: the mixture itself).</summary>
    public DenseMatrix Sample(int n, Rng rng, double sigma = 0.0)
    {
        var m = new DenseMatrix(n, 2);
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble(), acc = 0;
            var c = Components[^1];
            foreach (var comp in Components)
            {
                acc += comp.Weight;
                if (u < acc) { c = comp; break; }
            }
            // Cholesky of Σ: [[l11, 0], [l21, l22]].
            double l11 = Math.Sqrt(c.Sxx), l21 = l11 > 0 ? c.Sxy / l11 : 0, l22 = Math.Sqrt(Math.Max(c.Syy - l21 * l21, 0));
            double z1 = rng.NextNormal(), z2 = rng.NextNormal();
            m[i, 0] = c.MeanX + l11 * z1 + sigma * rng.NextNormal();
            m[i, 1] = c.MeanY + l21 * z1 + l22 * z2 + sigma * rng.NextNormal();
        }
        return m;
    }

    /// <summary>log(π_j N(x; μ_j, Σ_j + σ²I)) for every component.</summary>
    private void LogTerms(double x, double y, double sigma, Span<double> logs)
    {
        double s2 = sigma * sigma;
        for (int j = 0; j < Components.Count; j++)
        {
            var c = Components[j];
            double a = c.Sxx + s2, b = c.Sxy, d = c.Syy + s2, det = a * d - b * b;
            double dx = x - c.MeanX, dy = y - c.MeanY;
            double q = (d * dx * dx - 2 * b * dx * dy + a * dy * dy) / det;
            logs[j] = Math.Log(c.Weight) - Math.Log(2 * Math.PI) - 0.5 * Math.Log(det) - 0.5 * q;
        }
    }

    /// <summary>log p_σ(x).</summary>
    public double LogDensity(double x, double y, double sigma)
    {
        Span<double> logs = Components.Count <= 64 ? stackalloc double[Components.Count] : new double[Components.Count];
        LogTerms(x, y, sigma, logs);
        double max = double.NegativeInfinity;
        foreach (var l in logs) max = Math.Max(max, l);
        double s = 0;
        foreach (var l in logs) s += Math.Exp(l - max);
        return max + Math.Log(s);
    }

    /// <summary>The responsibilities r_j(x) of the components under p_σ.</summary>
    public void Responsibilities(double x, double y, double sigma, Span<double> r)
    {
        LogTerms(x, y, sigma, r);
        double max = double.NegativeInfinity;
        foreach (var l in r) max = Math.Max(max, l);
        double s = 0;
        for (int j = 0; j < r.Length; j++) { r[j] = Math.Exp(r[j] - max); s += r[j]; }
        for (int j = 0; j < r.Length; j++) r[j] /= s;
    }

    /// <summary>∇ log p_σ(x) (see the class summary).</summary>
    public (double X, double Y) Score(double x, double y, double sigma)
    {
        Span<double> r = Components.Count <= 64 ? stackalloc double[Components.Count] : new double[Components.Count];
        Responsibilities(x, y, sigma, r);
        double s2 = sigma * sigma, gx = 0, gy = 0;
        for (int j = 0; j < r.Length; j++)
        {
            var c = Components[j];
            double a = c.Sxx + s2, b = c.Sxy, d = c.Syy + s2, det = a * d - b * b;
            double dx = x - c.MeanX, dy = y - c.MeanY;
            gx -= r[j] * (d * dx - b * dy) / det;
            gy -= r[j] * (-b * dx + a * dy) / det;
        }
        return (gx, gy);
    }

    /// <summary>The scores of the n rows of a n×2 matrix.</summary>
    public DenseMatrix Scores(DenseMatrix points, double sigma)
    {
        var s = new DenseMatrix(points.Rows, 2);
        for (int i = 0; i < points.Rows; i++)
        {
            var (gx, gy) = Score(points[i, 0], points[i, 1], sigma);
            s[i, 0] = gx; s[i, 1] = gy;
        }
        return s;
    }

    /// <summary>
    /// The fraction of points assigned to each component, a point going to the component of largest responsibility
    /// under p_σ (σ the noise the points still carry).
    /// </summary>
    public double[] AssignmentFractions(DenseMatrix points, double sigma)
    {
        var counts = new double[Components.Count];
        Span<double> r = Components.Count <= 64 ? stackalloc double[Components.Count] : new double[Components.Count];
        for (int i = 0; i < points.Rows; i++)
        {
            Responsibilities(points[i, 0], points[i, 1], sigma, r);
            int best = 0;
            for (int j = 1; j < r.Length; j++) if (r[j] > r[best]) best = j;
            counts[best]++;
        }
        for (int j = 0; j < counts.Length; j++) counts[j] /= Math.Max(points.Rows, 1);
        return counts;
    }
}
