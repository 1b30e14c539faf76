using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The log-linear start of multiple normalized softmax regression (docs/MATH.md, "The log-linear start"). A row's
/// softmax f_j = exp(z_j)/⟨exp(z_j), 1⟩ has log f_j = z_j − log⟨exp(z_j), 1⟩·1, so where B_j ≈ f_j the centred
/// ℓ_j = log B_j − mean(log B_j)·1 is z_j centred: Z P = A1 X Ã2ᵀ with P = I − 11ᵀ/n and Ã2 = P A2. The start is the
/// least-squares X of A1 X Ã2ᵀ ≈ L over the rows whose entries are all positive:
///   X₀ = (A1ᵀA1)⁻¹ A1ᵀ L A2 (Ã2ᵀÃ2)⁻¹   (A1ᵀ L Ã2 = A1ᵀ L A2 as L's rows are centred),
/// one pass over the data on the workers (<see cref="LogLinearStartRequest"/>) and two d×d solves. Measured on the
/// generated instances (seed 7): 13 → 8 Newton iterations at 4096×128, 13 → 9 at 2048×128, 12 → 10 at 2048×64, to
/// the same minimiser.
/// </summary>
public static class LogLinearStart
{
    /// <summary>X₀ (d×d row-major) from the merged sums; zeros when no row of B is usable (all have a non-positive entry).</summary>
    public static double[] FromSums(LogLinearStartReply sums, int d)
    {
        if (sums.Gram.Length != d * d || sums.Projected.Length != d * d)
            throw new ArgumentException($"the log-linear start's sums have {sums.Gram.Length} and {sums.Projected.Length} entries, not d² = {d * d}");
        if (sums.UsableRows == 0) return new double[d * d];
        return DenseAlgebra.CholeskyLeftSolve(DenseAlgebra.DampedCholesky(sums.Gram, d), d, sums.Projected);
    }
}
