using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// Right-looking blocked Cholesky H = L Lᵀ of a symmetric d×d row-major matrix, L left in the lower triangle (the
/// contract of <see cref="DenseAlgebra.TryCholesky"/>). For each diagonal block of <see cref="BlockSize"/> columns:
///   1. L₁₁ = chol(H₁₁) (unblocked, b×b);
///   2. L₂₁ = H₂₁ L₁₁⁻ᵀ, one forward substitution per row below the block (rows split over threads);
///   3. H₂₂ ← H₂₂ − L₂₁ L₂₁ᵀ on the lower triangle (a SYRK of dot products of length b on 4×4 register tiles, row
///      strips split over threads).
/// ≈ d³/3 flops, almost all in step 3. Every entry is computed by the same operations whichever thread owns it, so
/// the factor does not depend on the thread count.
/// </summary>
public static class BlockedCholesky
{
    /// <summary>Columns per diagonal block (a row strip of L₂₁ is 64 doubles: one 512-byte run per row).</summary>
    public const int BlockSize = 64;

    /// <summary>Below this dimension the unblocked loop of <see cref="DenseAlgebra.TryCholesky"/> is as fast.</summary>
    public const int MinBlockedDimension = 192;

    /// <summary>Rows of the trailing update handed to one thread at a time.</summary>
    private const int RowsPerTask = 16;

    /// <summary>
    /// In-place factorisation; false (h partly overwritten) when H is not numerically positive definite.
    /// <paramref name="maxThreads"/> ≤ 0 means all cores.
    /// </summary>
    public static bool TryFactor(Span<double> h, int d, int maxThreads = 0)
    {
        if (h.Length < d * d) throw new ArgumentException($"H has {h.Length} entries, fewer than {d}×{d}");
        // Worker threads cannot capture a span: factor an array copy and copy it back.
        var copy = h.Slice(0, d * d).ToArray();
        bool ok = Factor(copy, d, maxThreads > 0 ? maxThreads : Environment.ProcessorCount);
        copy.CopyTo(h);
        return ok;
    }

    /// <summary>In-place factorisation of the d×d row-major array.</summary>
    public static bool Factor(double[] h, int d, int threads)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) };
        for (int k0 = 0; k0 < d; k0 += BlockSize)
        {
            int b = Math.Min(BlockSize, d - k0), k1 = k0 + b;
            // 1. The diagonal block, left-looking inside the block (earlier blocks are already subtracted).
            for (int j = k0; j < k1; j++)
            {
                var rowJ = h.AsSpan(j * d + k0, j - k0);
                double s = h[j * d + j] - SpanMath.Dot(rowJ, rowJ);
                if (!(s > 0) || double.IsNaN(s)) return false;
                double ljj = Math.Sqrt(s);
                h[j * d + j] = ljj;
                for (int i = j + 1; i < k1; i++)
                    h[i * d + j] = (h[i * d + j] - SpanMath.Dot(h.AsSpan(i * d + k0, j - k0), rowJ)) / ljj;
            }
            if (k1 == d) break;
            int below = d - k1;
            int tasks = (below + RowsPerTask - 1) / RowsPerTask;
            // 2. L₂₁: row i solves L₁₁ x = h[i, k0:k1]ᵀ in place.
            void Panel(int task)
            {
                int i0 = k1 + task * RowsPerTask, i1 = Math.Min(d, i0 + RowsPerTask);
                for (int i = i0; i < i1; i++)
                {
                    var row = h.AsSpan(i * d + k0, b);
                    for (int j = 0; j < b; j++)
                        row[j] = (row[j] - SpanMath.Dot(row.Slice(0, j), h.AsSpan((k0 + j) * d + k0, j))) / h[(k0 + j) * d + k0 + j];
                }
            }
            // 3. H₂₂ −= L₂₁ L₂₁ᵀ on the lower triangle; strips are taken bottom-up (the longest first) for balance.
            void Trailing(int task)
            {
                int i0 = k1 + (tasks - 1 - task) * RowsPerTask, i1 = Math.Min(d, i0 + RowsPerTask);
                SyrkLowerStrip(h, d, k0, b, k1, i0, i1);
            }
            if (threads > 1 && tasks > 1)
            {
                Parallel.For(0, tasks, options, Panel);
                Parallel.For(0, tasks, options, Trailing);
            }
            else
            {
                for (int t = 0; t < tasks; t++) Panel(t);
                for (int t = 0; t < tasks; t++) Trailing(t);
            }
        }
        return true;
    }

    /// <summary>h[i, j] −= Σ_c h[i, k0 + c] h[j, k0 + c] for rows i ∈ [i0, i1), columns j ∈ [k1, i].</summary>
    private static void SyrkLowerStrip(double[] h, int d, int k0, int b, int k1, int i0, int i1)
    {
        for (int i = i0; i < i1; i += 4)
        {
            int ni = Math.Min(4, i1 - i);
            int jEnd = i + ni;                               // columns < jEnd may be needed by some row of the group
            int j = k1;
            for (; j + 4 <= jEnd; j += 4) Tile4x4(h, d, k0, b, i, ni, j, 4);
            if (j < jEnd) Tile4x4(h, d, k0, b, i, ni, j, jEnd - j);
        }
    }

    /// <summary>One 4×4 tile (ni rows from i, nj columns from j) of the update, kept to the lower triangle.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x4(double[] h, int d, int k0, int b, int i, int ni, int j, int nj)
    {
        ref double a0 = ref h[i * d + k0];
        ref double a1 = ref h[(i + Math.Min(1, ni - 1)) * d + k0];
        ref double a2 = ref h[(i + Math.Min(2, ni - 1)) * d + k0];
        ref double a3 = ref h[(i + Math.Min(3, ni - 1)) * d + k0];
        ref double b0 = ref h[j * d + k0];
        ref double b1 = ref h[(j + Math.Min(1, nj - 1)) * d + k0];
        ref double b2 = ref h[(j + Math.Min(2, nj - 1)) * d + k0];
        ref double b3 = ref h[(j + Math.Min(3, nj - 1)) * d + k0];
        Span<double> s = stackalloc double[16];
        DotBlock.FourByFour(ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3, b, s);
        for (int r = 0; r < ni; r++)
            for (int q = 0; q < nj && j + q <= i + r; q++)
                h[(i + r) * d + j + q] -= s[r * 4 + q];
    }
}
