using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// C += Aᵀ diag(w) A on the upper triangle of the d×d row-major C (SYRK), blocked for large d. Rows of A are taken
/// in chunks of <see cref="ChunkRows"/>; for each chunk S = diag(w)·A_chunk is formed once, and C is updated in
/// 4×16 register tiles C[p…p+3, q…q+15] += Σ_r S[r, p…p+3]ᵀ A[r, q…q+15] (16 accumulators, 8 loads per 16 fused
/// multiply-adds), the tile's slice of the chunk (128×16 doubles) staying in L1. C is read and written once per chunk
/// instead of once per four rows as in <see cref="DenseKernels.SyrkUpper(ReadOnlySpan{double}, int, int, ReadOnlySpan{double}, Span{double})"/>,
/// which made that kernel memory-bound once C (8 MB at d = 1000) left the cache.
/// Single-threaded: shards call it once per row block and run the blocks on all cores. The order of operations is
/// fixed by the shapes, so results are deterministic.
/// </summary>
public static class BlockedSyrk
{
    /// <summary>Rows per chunk (the K dimension of one pass over C).</summary>
    public const int ChunkRows = 128;

    /// <summary>Columns of A from which the blocked kernel beats the four-row one.</summary>
    public const int MinColumns = 64;

    /// <summary>Columns per register tile: four 256-bit vectors.</summary>
    private const int TileColumns = 16;

    public static void Upper(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<double> c)
    {
        CheckShapes(a, rows, d, w, c.Length);
        var s = ArrayPool<double>.Shared.Rent(Math.Max(1, Math.Min(rows, ChunkRows) * d));
        try
        {
            for (int r0 = 0; r0 < rows; r0 += ChunkRows)
            {
                int kc = Math.Min(ChunkRows, rows - r0);
                var chunk = a.Slice(r0 * d, kc * d);
                for (int r = 0; r < kc; r++)
                    SpanMath.Multiply(chunk.Slice(r * d, d), w[r0 + r], s.AsSpan(r * d, d));
                Chunk(chunk, s, kc, d, c);
            }
        }
        finally { ArrayPool<double>.Shared.Return(s); }
    }

    /// <summary>The shapes every weighted SYRK needs: A rows×d, w of rows entries, C (of either precision) d×d.</summary>
    internal static void CheckShapes(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, int cLength)
    {
        if (rows < 0 || d < 0 || a.Length < (long)rows * d) throw new ArgumentException($"A has {a.Length} entries, fewer than {rows}×{d}");
        if (w.Length < rows) throw new ArgumentException($"w has {w.Length} entries, expected {rows}");
        if (cLength < d * d) throw new ArgumentException($"C has {cLength} entries, expected {d}×{d}");
    }

    private static void Chunk(ReadOnlySpan<double> a, double[] s, int kc, int d, Span<double> c)
    {
        Span<double> tile = stackalloc double[4 * TileColumns];
        ref double a0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(a);
        ref double s0 = ref s[0];
        int q0 = 0;
        for (; q0 + TileColumns <= d; q0 += TileColumns)
            for (int p = 0; p < Math.Min(d, q0 + TileColumns); p += 4)
            {
                int np = Math.Min(4, d - p);
                Tile16(ref a0, ref s0, kc, d, p, np, q0, tile);
                AddTile(c, d, p, np, q0, TileColumns, tile);
            }
        for (; q0 + 4 <= d; q0 += 4)
            for (int p = 0; p < Math.Min(d, q0 + 4); p += 4)
            {
                int np = Math.Min(4, d - p);
                Tile4(ref a0, ref s0, kc, d, p, np, q0, tile);
                AddTile(c, d, p, np, q0, 4, tile);
            }
        for (int q = q0; q < d; q++)                                    // the last d mod 4 columns, entries p ≤ q
            for (int p = 0; p <= q; p++)
            {
                double acc = 0;
                for (int r = 0; r < kc; r++) acc += s[r * d + p] * a[r * d + q];
                c[p * d + q] += acc;
            }
    }

    /// <summary>C[p + i, q0 + j] += tile[i·width + j] where the entry is on or above the diagonal.</summary>
    private static void AddTile(Span<double> c, int d, int p, int np, int q0, int width, ReadOnlySpan<double> tile)
    {
        for (int i = 0; i < np; i++)
        {
            int row = p + i, from = Math.Max(0, row - q0);
            var target = c.Slice(row * d + q0, width);
            for (int j = from; j < width; j++) target[j] += tile[i * width + j];
        }
    }

    /// <summary>tile[i·16 + j] = Σ_r S[r, p + i] A[r, q0 + j] for i &lt; 4 (rows past np alias the last), j &lt; 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile16(ref double a0, ref double s0, int kc, int d, int p, int np, int q0, Span<double> tile)
    {
        int p1 = p + Math.Min(1, np - 1), p2 = p + Math.Min(2, np - 1), p3 = p + Math.Min(3, np - 1);
        Vector256<double> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector256<double> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector256<double> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector256<double> c30 = default, c31 = default, c32 = default, c33 = default;
        for (int r = 0; r < kc; r++)
        {
            nint row = (nint)r * d;
            ref double ar = ref Unsafe.Add(ref a0, row + q0);
            var x0 = Vector256.LoadUnsafe(ref ar, 0); var x1 = Vector256.LoadUnsafe(ref ar, 4);
            var x2 = Vector256.LoadUnsafe(ref ar, 8); var x3 = Vector256.LoadUnsafe(ref ar, 12);
            ref double sr = ref Unsafe.Add(ref s0, row);
            var e = Vector256.Create(Unsafe.Add(ref sr, p));
            c00 = Vector256.FusedMultiplyAdd(e, x0, c00); c01 = Vector256.FusedMultiplyAdd(e, x1, c01);
            c02 = Vector256.FusedMultiplyAdd(e, x2, c02); c03 = Vector256.FusedMultiplyAdd(e, x3, c03);
            e = Vector256.Create(Unsafe.Add(ref sr, p1));
            c10 = Vector256.FusedMultiplyAdd(e, x0, c10); c11 = Vector256.FusedMultiplyAdd(e, x1, c11);
            c12 = Vector256.FusedMultiplyAdd(e, x2, c12); c13 = Vector256.FusedMultiplyAdd(e, x3, c13);
            e = Vector256.Create(Unsafe.Add(ref sr, p2));
            c20 = Vector256.FusedMultiplyAdd(e, x0, c20); c21 = Vector256.FusedMultiplyAdd(e, x1, c21);
            c22 = Vector256.FusedMultiplyAdd(e, x2, c22); c23 = Vector256.FusedMultiplyAdd(e, x3, c23);
            e = Vector256.Create(Unsafe.Add(ref sr, p3));
            c30 = Vector256.FusedMultiplyAdd(e, x0, c30); c31 = Vector256.FusedMultiplyAdd(e, x1, c31);
            c32 = Vector256.FusedMultiplyAdd(e, x2, c32); c33 = Vector256.FusedMultiplyAdd(e, x3, c33);
        }
        ref double t = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(tile);
        c00.StoreUnsafe(ref t, 0); c01.StoreUnsafe(ref t, 4); c02.StoreUnsafe(ref t, 8); c03.StoreUnsafe(ref t, 12);
        c10.StoreUnsafe(ref t, 16); c11.StoreUnsafe(ref t, 20); c12.StoreUnsafe(ref t, 24); c13.StoreUnsafe(ref t, 28);
        c20.StoreUnsafe(ref t, 32); c21.StoreUnsafe(ref t, 36); c22.StoreUnsafe(ref t, 40); c23.StoreUnsafe(ref t, 44);
        c30.StoreUnsafe(ref t, 48); c31.StoreUnsafe(ref t, 52); c32.StoreUnsafe(ref t, 56); c33.StoreUnsafe(ref t, 60);
    }

    /// <summary>As <see cref="Tile16"/> for four columns (tile[i·4 + j]).</summary>
    private static void Tile4(ref double a0, ref double s0, int kc, int d, int p, int np, int q0, Span<double> tile)
    {
        int p1 = p + Math.Min(1, np - 1), p2 = p + Math.Min(2, np - 1), p3 = p + Math.Min(3, np - 1);
        Vector256<double> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int r = 0; r < kc; r++)
        {
            nint row = (nint)r * d;
            var x = Vector256.LoadUnsafe(ref Unsafe.Add(ref a0, row + q0));
            ref double sr = ref Unsafe.Add(ref s0, row);
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref sr, p)), x, c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref sr, p1)), x, c1);
            c2 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref sr, p2)), x, c2);
            c3 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref sr, p3)), x, c3);
        }
        ref double t = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(tile);
        c0.StoreUnsafe(ref t, 0); c1.StoreUnsafe(ref t, 4); c2.StoreUnsafe(ref t, 8); c3.StoreUnsafe(ref t, 12);
    }
}
