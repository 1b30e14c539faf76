using DistSoftmax.Core.Kernels;
namespace DistSoftmax.Core.Solvers.TrustRegion;

/// <summary>A trust-region subproblem's answer: min_p m(p) = ∇Lᵀp + ½pᵀHp subject to ‖p‖ ≤ Δ.</summary>
/// <param name="P">The step (d values).</param>
/// <param name="PredictedDecrease">−m(p) ≥ 0, the decrease the model predicts.</param>
/// <param name="OnBoundary">Whether ‖p‖ = Δ (to the subproblem's tolerance), i.e. the radius binds.</param>
/// <param name="NegativeCurvature">Most negative model curvature met (an eigenvalue or a Rayleigh quotient; 0 when none).</param>
public sealed record TrustRegionStep(double[] P, double PredictedDecrease, bool OnBoundary, double NegativeCurvature)
{
    /// <summary>The step's length in the region's norm (‖p‖, or ‖p‖_M for a preconditioned Steihaug path): what the
    /// radius is compared with and updated from.</summary>
    public double RegionNorm { get; init; } = SpanMath.Norm(P);
}
