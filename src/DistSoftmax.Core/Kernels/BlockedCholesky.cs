using System.Numerics.Tensors;
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
                double s = h[j * d + j] - TensorPrimitives.Dot<double>(rowJ, rowJ);
                if (!(s > 0) || double.IsNaN(s)) return false;
                double ljj = Math.Sqrt(s);
                h[j * d + j] = ljj;
                for (int i = j + 1; i < k1; i++)
                    h[i * d + j] = (h[i * d + j] - TensorPrimitives.Dot<double>(h.AsSpan(i * d + k0, j - k0), rowJ)) / ljj;
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
                        row[j] = (row[j] - TensorPrimitives.Dot<double>(row.Slice(0, j), h.AsSpan((k0 + j) * d + k0, j))) / h[(k0 + j) * d + k0 + j];
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
        Vector256<double> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector256<double> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector256<double> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector256<double> s30 = default, s31 = default, s32 = default, s33 = default;
        int c = 0;
        for (; c + 4 <= b; c += 4)
        {
            var y0 = Vector256.LoadUnsafe(ref b0, (nuint)c); var y1 = Vector256.LoadUnsafe(ref b1, (nuint)c);
            var y2 = Vector256.LoadUnsafe(ref b2, (nuint)c); var y3 = Vector256.LoadUnsafe(ref b3, (nuint)c);
            var x = Vector256.LoadUnsafe(ref a0, (nuint)c);
            s00 = Vector256.FusedMultiplyAdd(x, y0, s00); s01 = Vector256.FusedMultiplyAdd(x, y1, s01);
            s02 = Vector256.FusedMultiplyAdd(x, y2, s02); s03 = Vector256.FusedMultiplyAdd(x, y3, s03);
            x = Vector256.LoadUnsafe(ref a1, (nuint)c);
            s10 = Vector256.FusedMultiplyAdd(x, y0, s10); s11 = Vector256.FusedMultiplyAdd(x, y1, s11);
            s12 = Vector256.FusedMultiplyAdd(x, y2, s12); s13 = Vector256.FusedMultiplyAdd(x, y3, s13);
            x = Vector256.LoadUnsafe(ref a2, (nuint)c);
            s20 = Vector256.FusedMultiplyAdd(x, y0, s20); s21 = Vector256.FusedMultiplyAdd(x, y1, s21);
            s22 = Vector256.FusedMultiplyAdd(x, y2, s22); s23 = Vector256.FusedMultiplyAdd(x, y3, s23);
            x = Vector256.LoadUnsafe(ref a3, (nuint)c);
            s30 = Vector256.FusedMultiplyAdd(x, y0, s30); s31 = Vector256.FusedMultiplyAdd(x, y1, s31);
            s32 = Vector256.FusedMultiplyAdd(x, y2, s32); s33 = Vector256.FusedMultiplyAdd(x, y3, s33);
        }
        Span<double> s = stackalloc double[16];
        s[0] = Vector256.Sum(s00); s[1] = Vector256.Sum(s01); s[2] = Vector256.Sum(s02); s[3] = Vector256.Sum(s03);
        s[4] = Vector256.Sum(s10); s[5] = Vector256.Sum(s11); s[6] = Vector256.Sum(s12); s[7] = Vector256.Sum(s13);
        s[8] = Vector256.Sum(s20); s[9] = Vector256.Sum(s21); s[10] = Vector256.Sum(s22); s[11] = Vector256.Sum(s23);
        s[12] = Vector256.Sum(s30); s[13] = Vector256.Sum(s31); s[14] = Vector256.Sum(s32); s[15] = Vector256.Sum(s33);
        for (; c < b; c++)
        {
            double x0 = Unsafe.Add(ref a0, c), x1 = Unsafe.Add(ref a1, c), x2 = Unsafe.Add(ref a2, c), x3 = Unsafe.Add(ref a3, c);
            double y0 = Unsafe.Add(ref b0, c), y1 = Unsafe.Add(ref b1, c), y2 = Unsafe.Add(ref b2, c), y3 = Unsafe.Add(ref b3, c);
            s[0] += x0 * y0; s[1] += x0 * y1; s[2] += x0 * y2; s[3] += x0 * y3;
            s[4] += x1 * y0; s[5] += x1 * y1; s[6] += x1 * y2; s[7] += x1 * y3;
            s[8] += x2 * y0; s[9] += x2 * y1; s[10] += x2 * y2; s[11] += x2 * y3;
            s[12] += x3 * y0; s[13] += x3 * y1; s[14] += x3 * y2; s[15] += x3 * y3;
        }
        for (int r = 0; r < ni; r++)
            for (int q = 0; q < nj && j + q <= i + r; q++)
                h[(i + r) * d + j + q] -= s[r * 4 + q];
    }
}
