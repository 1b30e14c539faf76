namespace DistSoftmax.Core.Solvers;

/// <summary>What preconditions the CG of <see cref="NewtonCg"/>.</summary>
public enum CgPreconditioning
{
    /// <summary>Plain CG (the newton-cg solver).</summary>
    None,
    /// <summary>The Kronecker-factored curvature F ⊗ G of a matrix problem (its approx-newton).</summary>
    Kronecker,
    /// <summary>The leverage-score-sampled Gram of a vector problem, Cholesky-factorised (its approx-newton at large d).</summary>
    SampledGram,
}
