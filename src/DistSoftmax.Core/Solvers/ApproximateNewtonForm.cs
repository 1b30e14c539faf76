namespace DistSoftmax.Core.Solvers;

/// <summary>
/// How approx-newton runs on a vector problem, chosen per solve by <see cref="VectorSolverCostModel.FormFor"/> as the
/// least predicted cost per iteration (matrix problems always use the Kronecker-preconditioned Newton-CG).
/// </summary>
public enum ApproximateNewtonForm
{
    /// <summary>Newton steps on the exact Gram: sampling would cost more than it saves (sparse rows, tiny instances).</summary>
    ExactGram,
    /// <summary>Newton steps on the leverage-sampled Hessian of s = c·ε⁻²·d·ln(d/δ) rows (seed 001), where s ≪ n.</summary>
    SampledNewton,
    /// <summary>Newton-CG preconditioned by a smaller leverage-sampled Gram, reused across iterations (large d, s ≈ n).</summary>
    PreconditionedCg,
}
