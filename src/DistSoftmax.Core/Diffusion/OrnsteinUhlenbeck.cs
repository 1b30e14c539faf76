namespace DistSoftmax.Core.Diffusion;

/// <summary>
/// The variance-preserving forward process of the diffusion model: the Ornstein–Uhlenbeck SDE
///   dx_t = −x_t dt + √2 dB_t,   so   x_t = e^{−t} x_0 + √(1 − e^{−2t}) z,  z ~ N(0, I),
/// whose stationary law is N(0, I). A mixture p_0 = Σ_j π_j N(μ_j, Σ_j) stays a mixture at every t:
///   p_t = Σ_j π_j N(α_t μ_j, α_t² Σ_j + σ_t² I),   α_t = e^{−t},  σ_t² = 1 − e^{−2t},
/// so the exact score ∇log p_t is available in closed form (<see cref="GaussianMixture.Score"/> of <see cref="Marginal"/>).
/// </summary>
public static class OrnsteinUhlenbeck
{
    /// <summary>α_t = e^{−t}, the signal scale at time t.</summary>
    public static double Alpha(double t) => Math.Exp(-t);

    /// <summary>σ_t = √(1 − e^{−2t}), the noise scale at time t (computed as √(−expm1(−2t)) for small t).</summary>
    public static double Sigma(double t) => Math.Sqrt(-ExpMinusOne(-2 * t));

    /// <summary>The law p_t of x_t when x_0 ~ <paramref name="data"/> (t ≥ 0).</summary>
    public static GaussianMixture Marginal(GaussianMixture data, double t)
    {
        if (!(t >= 0 && double.IsFinite(t))) throw new ArgumentException($"a diffusion time must be finite and ≥ 0, got {t}");
        double a = Alpha(t), a2 = a * a, s2 = 1 - a2;
        return new GaussianMixture(data.Components.Select(c =>
            new MixtureComponent(c.Weight, a * c.MeanX, a * c.MeanY, a2 * c.Sxx + s2, a2 * c.Sxy, a2 * c.Syy + s2)).ToArray());
    }

    /// <summary>e^x − 1 without cancellation for small |x|.</summary>
    private static double ExpMinusOne(double x) => Math.Abs(x) < 1e-5 ? x + 0.5 * x * x + x * x * x / 6 : Math.Exp(x) - 1;
}
