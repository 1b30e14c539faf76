using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// Cholesky factors of the sampled models, which arrive as packed upper triangles (d(d+1)/2, <see cref="Packed"/>):
/// the preconditioner's factor, and the triangle Lᵀ whose inverse gives the next build's leverage estimates
/// (LLᵀ ≈ Aᵀ diag(D) A plays the part of RᵀR of a sketch, <see cref="Sketching.LeverageProjection.FromTriangle"/>).
/// </summary>
internal static class PackedCholesky
{
    /// <summary>Diagonal damping relative to the mean eigenvalue tr/d, raised ×100 on each failed attempt.</summary>
    public const double RelativeDamping = 1e-10;

    /// <summary>
    /// The Cholesky factor (L in the lower triangle, d×d) of the symmetric matrix given packed, damped by
    /// <see cref="RelativeDamping"/>·tr/d, raised ×100 up to <paramref name="increases"/> times; null when it never
    /// factors. Each attempt unpacks afresh, so a first attempt that factors allocates one d×d array (8 MB at d = 1000).
    /// </summary>
    public static double[]? Factor(double[] packed, int d, int increases)
    {
        double trace = 0;
        for (int i = 0; i < d; i++) trace += packed[Packed.DiagonalIndex(i, d)];
        double damping = RelativeDamping * Math.Max(Math.Abs(trace) / d, double.Epsilon);
        for (int attempt = 0; attempt <= increases; attempt++, damping *= 100)
        {
            var work = Packed.ToSymmetric(packed, d);
            for (int i = 0; i < d; i++) work[i * d + i] += damping;
            bool ok = d >= BlockedCholesky.MinBlockedDimension
                ? BlockedCholesky.TryFactor(work, d)
                : DenseAlgebra.TryCholesky(work, d);
            if (ok) return work;
        }
        return null;
    }

    /// <summary>
    /// Lᵀ of a sampled Gram Σ (D_i/q_i) a_i a_iᵀ (packed by rows of the upper triangle, (Lᵀ)_ij = L_ji), or null when
    /// it does not factor at the smallest damping (a signed D of the exact Hessian).
    /// </summary>
    public static double[]? LeverageTriangle(double[] gramPacked, int d) =>
        Factor(gramPacked, d, 0) is { } factor ? UpperTriangleOf(factor, d) : null;

    /// <summary>Lᵀ of a Cholesky factor L (d×d row-major, lower), packed by rows of the upper triangle.</summary>
    public static double[] UpperTriangleOf(double[] factor, int d)
    {
        var triangle = new double[Packed.Length(d)];
        for (int i = 0, p = 0; i < d; i++)
            for (int j = i; j < d; j++, p++) triangle[p] = factor[j * d + i];
        return triangle;
    }
}
