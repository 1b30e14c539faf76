using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// Cholesky factors of the sampled models, which arrive as packed upper triangles (d(d+1)/2, <see cref="Packed"/>),
/// returned packed the same way: R with A = RᵀR, row i holding R_ii … R_i,d−1. That is the triangle whose inverse gives
/// the next build's leverage estimates (RᵀR ≈ Aᵀ diag(D) A plays the part of a sketch's R,
/// <see cref="Sketching.LeverageProjection.FromTriangle"/>), and both triangular solves read it by rows
/// (<see cref="SolveTransposed"/>, <see cref="Solve"/>).
/// </summary>
internal static class PackedCholesky
{
    /// <summary>Diagonal damping relative to the mean eigenvalue tr/d, raised ×100 on each failed attempt.</summary>
    public const double RelativeDamping = 1e-10;

    /// <summary>
    /// R packed (d(d+1)/2) with RᵀR = A + μI for the symmetric A given packed, μ = <see cref="RelativeDamping"/>·tr/d
    /// raised ×100 up to <paramref name="increases"/> times; null when it never factors. OpenBLAS's dpotrf where Debian's
    /// libopenblas is present (single-threaded, 12.7 ms at d = 1000 in `bench … algebra` against 21.5 ms for the managed
    /// blocked factorisation on both cores), else the managed factorisation of the full matrix, transposed.
    /// <paramref name="into"/>: an array of d(d+1)/2 values no longer read by anyone (a replaced factor) that receives
    /// R, so that no fresh pages are written: on these VMs packing R into a new 4 MB array took 18–22 ms at d = 1000,
    /// more than dpotrf's 8 ms. Untouched when the factorisation fails.
    /// </summary>
    public static double[]? FactorUpper(double[] packed, int d, int increases, double[]? into = null)
    {
        // A non-finite entry does not factor: dpotrf does not reject NaN pivots, and the damping would be NaN too.
        if (!double.IsFinite(SpanMath.Sum(packed))) return null;
        double trace = 0;
        for (int i = 0; i < d; i++) trace += packed[Packed.DiagonalIndex(i, d)];
        double damping = RelativeDamping * Math.Max(Math.Abs(trace) / d, double.Epsilon);
        var work = SquareScratch.Rent(d);
        try
        {
            for (int attempt = 0; attempt <= increases; attempt++, damping *= 100)
                if (TryFactor(packed, d, damping, work))
                {
                    if (into is null || into.Length != Packed.Length(d)) return Packed.FromUpper(work, d);
                    Packed.AddUpper(work, d, into, overwrite: true);
                    return into;
                }
            return null;
        }
        finally
        {
            SquareScratch.Return(work);
        }
    }

    /// <summary>R of A + μI into the upper triangle of <paramref name="work"/> (d×d row-major; other entries not meaningful).</summary>
    private static bool TryFactor(double[] packed, int d, double damping, double[] work)
    {
        for (int i = 0; i < d; i++)
        {
            packed.AsSpan(Packed.DiagonalIndex(i, d), d - i).CopyTo(work.AsSpan(i * d + i, d - i));
            work[i * d + i] += damping;
        }
        if (NativeBlas.CholeskyUpper(work, d) is bool native) return native;
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++) work[j * d + i] = work[i * d + j];
        bool ok = d >= BlockedCholesky.MinBlockedDimension
            ? BlockedCholesky.TryFactor(work, d)
            : DenseAlgebra.TryCholesky(work, d);
        if (!ok) return false;
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++) work[i * d + j] = work[j * d + i];   // R = Lᵀ
        return true;
    }

    /// <summary>y ← R⁻ᵀy for packed R (forward substitution with L = Rᵀ, by rows of R: y_j /= R_jj, then y_{j+1…} −= R_j,{j+1…}·y_j).</summary>
    public static void SolveTransposed(ReadOnlySpan<double> r, int d, Span<double> y)
    {
        for (int j = 0; j < d; j++)
        {
            int diagonal = Packed.DiagonalIndex(j, d);
            double yj = y[j] / r[diagonal];
            y[j] = yj;
            if (yj != 0 && j + 1 < d)
                SpanMath.MultiplyAdd(r.Slice(diagonal + 1, d - j - 1), -yj, y[(j + 1)..], y[(j + 1)..]);
        }
    }

    /// <summary>y ← R⁻¹y for packed R (back substitution, by rows of R: y_i = (y_i − R_i,{i+1…}·y_{i+1…}) / R_ii).</summary>
    public static void Solve(ReadOnlySpan<double> r, int d, Span<double> y)
    {
        for (int i = d - 1; i >= 0; i--)
        {
            int diagonal = Packed.DiagonalIndex(i, d);
            y[i] = (y[i] - SpanMath.Dot(r.Slice(diagonal + 1, d - i - 1), y[(i + 1)..])) / r[diagonal];
        }
    }

    /// <summary>
    /// R of a sampled Gram Σ (D_i/q_i) a_i a_iᵀ, packed by rows of the upper triangle, or null when it does not factor
    /// at the smallest damping (a signed D of the exact Hessian).
    /// </summary>
    public static double[]? LeverageTriangle(double[] gramPacked, int d) => FactorUpper(gramPacked, d, 0);
}
