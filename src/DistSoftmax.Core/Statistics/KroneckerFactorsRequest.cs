namespace DistSoftmax.Core.Statistics;

/// <summary>
/// Multiple softmax regression: the shard's sums for the Kronecker-factored curvature F ⊗ G of docs/MATH.md
/// ("Kronecker-factored curvature"), at x with the row terms of <paramref name="Kind"/>: with
/// Q_j = A2ᵀ B(z_j) A2 (d×d) and τ_j = tr Q_j, the shard returns Σ_j τ_j a1_j a1_jᵀ, Σ_j Q_j and Σ_j τ_j over its rows.
/// Solvers ask for the positive-semidefinite Gauss–Newton kind, so both factors are positive semidefinite.
/// </summary>
public sealed record KroneckerFactorsRequest(double[] X, HessianKind Kind) : ShardRequest(X);
