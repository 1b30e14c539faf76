using DistSoftmax.Core.Linear;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// A perturbation: one matrix per perturbed data matrix of a problem (Δ for A; ΔA1, ΔA2, ΔB for a matrix problem),
/// with the joint Frobenius norm √(Σ‖Δ_i‖²_F) as its size.
/// </summary>
public sealed record Perturbation(IReadOnlyList<IRowMatrix> Parts)
{
    public double Norm => Math.Sqrt(Parts.Sum(p => Math.Pow(SensitivityAnalysis.FrobeniusNorm(p), 2)));
}
