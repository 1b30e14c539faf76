namespace DistSoftmax.Core.Statistics;

/// <summary>
/// Multiple softmax regression: the shard's sums for the Kronecker-factored curvature F ⊗ G of docs/MATH.md
/// ("Kronecker-factored curvature"), at x with the row terms of <paramref name="Kind"/>: with
/// Q_j = A2ᵀ B(z_j) A2 (d×d) and τ_j = tr Q_j, the shard returns Σ_j τ_j a1_j a1_jᵀ, Σ_j Q_j and Σ_j τ_j over its rows.
/// Solvers ask for the positive-semidefinite Gauss–Newton kind, so both factors are positive semidefinite.
/// <paramref name="SinglePrecision"/>: a shard that can (a family with fused row operators, single-precision products available: the AVX-512 kernel or OpenBLAS's sgemm)
/// projects the rows' low-rank terms onto A2 in single precision — the preconditioner only steers CG (about 1e-7
/// relative in the factors; their damping is 1e-8·tr/d), as the vector problems' sampled Gram does.
/// <paramref name="RowShare"/> below 1: the sums over a leverage-score sample of the shard's rows instead of all of
/// them (docs/MATH.md, "Sampled Kronecker factors"): row j is kept with probability
/// p_j = min(1, RowShare·rows·ℓ_j / Σℓ) (ℓ_j its leverage score in the shard's rows of A1), decided by a uniform draw
/// keyed by <paramref name="SampleSeed"/> and the row's global index, and its terms are weighted by 1/p_j, so every
/// sum is unbiased; the reply's Rows counts the rows kept.
/// <paramref name="SinglePassIterate"/>: as <see cref="HessianVectorRequest.SinglePassIterate"/>, for a single-precision request.
/// </summary>
public sealed record KroneckerFactorsRequest(double[] X, HessianKind Kind, bool SinglePrecision = false,
    double RowShare = 1.0, ulong SampleSeed = 0, bool SinglePassIterate = false) : ShardRequest(X)
{
    /// <summary>Whether <see cref="RowShare"/> asks for a sample: a finite share in (0, 1) (1 is every row).</summary>
    public bool Samples => RowShare < 1;
}
