using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// A loss ℓ(z) of z = A x (n rows) whose value, z-gradient g(z) and z-Hessian B(z) can be assembled from
/// per-row terms and a few global scalars (see docs/MATH.md, "Families, in z-space"):
///
///   phase 1: each shard reports shifted partial sums over its rows  → merged → global scalars (and ℓ);
///   phase 2: given the global scalars every row's g_i, D_i and low-rank vectors q_ji are local, and
///            B = diag(D) + Σ_jk C_jk q_j q_kᵀ   with a small symmetric k×k matrix C of global scalars.
///
/// Implementations are stateless and thread-safe.
/// </summary>
public interface IVectorFamily
{
    /// <summary>Name as used on the command line, e.g. "normalized" or "rescaled-cosh".</summary>
    string Name { get; }

    /// <summary>How each phase-1 sum scales with the shift: Sums[j] ∝ exp(−Powers[j]·m).</summary>
    int[] ScalarPowers { get; }

    /// <summary>Number k of low-rank vectors q_j in B.</summary>
    int LowRankCount { get; }

    /// <summary>Phase 1 over one shard's rows: z (local), b (local), the optional reference globals of the request.</summary>
    ScalarSums LocalScalars(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[]? reference);

    /// <summary>
    /// Global scalars from the merged phase-1 sums (and the request's reference); element 0 is always ℓ
    /// (the loss without regulariser).
    /// </summary>
    double[] Globals(ScalarSums merged, double[]? reference);

    /// <summary>
    /// Phase 2 per-row terms: g (len n), D (len n) and q (k×n row-major: q[j·n + i]).
    /// </summary>
    void RowTerms(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] globals, HessianKind kind,
        Span<double> g, Span<double> d, Span<double> q);

    /// <summary>
    /// Both phases over one complete z (no reference): the globals of z alone, and its phase-2 terms into g, D and q,
    /// i.e. <c>RowTerms(z, b, Globals(LocalScalars(z, b, null), null), kind, g, d, q)</c>, the globals returned.
    /// For the matrix problems, whose every row of M is a softmax with its own normaliser. A family may fuse the
    /// phases (<see cref="NormalizedSoftmax"/> computes exp(z − max z) once instead of twice).
    /// </summary>
    double[] OwnGlobalsAndRowTerms(ReadOnlySpan<double> z, ReadOnlySpan<double> b, HessianKind kind,
        Span<double> g, Span<double> d, Span<double> q)
    {
        var globals = Globals(LocalScalars(z, b, null), null);
        RowTerms(z, b, globals, kind, g, d, q);
        return globals;
    }

    /// <summary>The symmetric k×k coefficients C (row-major) of the low-rank part.</summary>
    double[] LowRankCoefficients(double[] globals, HessianKind kind);

    /// <summary>
    /// Number of per-row vectors β_j, local given a reference, whose combination g = Σ_j γ_j β_j with global
    /// coefficients γ_j (<see cref="GradientCoefficients"/>) is the z-gradient: so loss and gradient need one pass.
    /// </summary>
    int GradientBasisCount { get; }

    /// <summary>β_j for the rows (k×n row-major), computed with the request's reference globals.</summary>
    void GradientBasis(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] reference, Span<double> basis);

    /// <summary>
    /// γ_j from the merged globals of the same request and its reference, or null when the basis cannot give the
    /// gradient accurately at that point (the caller then asks for a gradient pass).
    /// </summary>
    double[]? GradientCoefficients(double[] globals, double[] reference);

    /// <summary>
    /// The low-rank vectors as combinations of the gradient basis, q_j = Σ_b M_jb β_b, for the curvature model
    /// <paramref name="kind"/>: M (LowRankCount × GradientBasisCount, row-major) from the merged globals of a
    /// one-pass request and its reference. Then Aᵀq_j = Σ_b M_jb Aᵀβ_b exactly, so a Newton step needs no second pass
    /// for them. Every family here can; null would mean it cannot.
    /// </summary>
    double[]? LowRankFromBasis(double[] globals, double[] reference, HessianKind kind);
}
