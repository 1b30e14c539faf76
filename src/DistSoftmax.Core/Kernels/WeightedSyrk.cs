using System.Buffers;
using System.Numerics.Tensors;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// The weighted Gram of a row block, C += Aᵀ diag(w) A on the upper triangle of the d×d row-major C (A rows×d
/// row-major, w of either sign): the exact Hessian AᵀDA of a vector shard, its Gauss–Newton form and the sampled
/// Gram of gathered rows all come here.
///
/// With OpenBLAS's dsyrk (<see cref="NativeBlas.SyrkAvailable"/>) and d ≥ <see cref="NativeMinColumns"/>, rows are
/// taken in chunks of <see cref="ChunkRows"/> and split by the sign of their weight:
///
///   Aᵀ diag(w) A = P ᵀP − NᵀN,   P = rows a_i·√w_i (w_i &gt; 0),   N = rows a_i·√(−w_i) (w_i &lt; 0),
///
/// two dsyrk calls per chunk (rows with w_i = 0 are skipped; a NaN weight goes to P, so it propagates into C as the
/// managed kernels propagate it). Measured on the 2-core development machine, one row block per core
/// (GFLOP/s counting rows·d² flops; managed / dsyrk; `dotnet run -c Release --project bench/DistSoftmax.Benchmarks --
/// syrk ROWS D`): d = 1000 36–40 / 86–91, d = 400 50–65 / 80–86, d = 200 38 / 60, d = 100 33–36 / 40–48, d = 64
/// 23–33 / 32–38; at d = 48 a tie, at d = 30 the managed four-row kernel wins (18 / 11–13) (README, "Dependency decisions").
/// Otherwise the managed kernels run: <see cref="BlockedSyrk"/> from <see cref="BlockedSyrk.MinColumns"/> columns, the
/// four-row <see cref="DenseKernels.SyrkUpper(ReadOnlySpan{double}, int, int, ReadOnlySpan{double}, Span{double})"/>
/// below. Single-threaded either way (OpenBLAS is set to one thread); the chunking is fixed by the row count, so
/// the result of a given block does not depend on threads or calls.
/// </summary>
public static class WeightedSyrk
{
    /// <summary>Columns from which dsyrk is used (faster at every d measured from 64 on, a tie at 48, slower at 30).</summary>
    public const int NativeMinColumns = 64;

    /// <summary>Rows per chunk of scaled copies (one chunk×d buffer: 2 MB at d = 1000).</summary>
    public const int ChunkRows = 256;

    public static void Upper(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<double> c)
    {
        BlockedSyrk.CheckShapes(a, rows, d, w, c);
        if (rows == 0 || d == 0) return;
        if (d >= NativeMinColumns && NativeBlas.SyrkAvailable) Native(a, rows, d, w, c);
        else Managed(a, rows, d, w, c);
    }

    /// <summary>The managed kernels alone (the fallback, and the reference of the tests).</summary>
    public static void Managed(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<double> c)
    {
        if (d >= BlockedSyrk.MinColumns) BlockedSyrk.Upper(a, rows, d, w, c);
        else DenseKernels.SyrkUpper(a, rows, d, w, c);
    }

    private static void Native(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<double> c)
    {
        // One chunk×d buffer for both signs: P's rows from the front, N's from the back (np + nn ≤ chunk).
        int chunk = Math.Min(ChunkRows, rows);
        var scaled = ArrayPool<double>.Shared.Rent(chunk * d);
        try
        {
            for (int r0 = 0; r0 < rows; r0 += ChunkRows)
            {
                int end = Math.Min(rows, r0 + ChunkRows), np = 0, nn = 0;
                for (int r = r0; r < end; r++)
                {
                    double wr = w[r];
                    if (wr == 0) continue;
                    var row = a.Slice(r * d, d);
                    if (wr < 0) TensorPrimitives.Multiply(row, Math.Sqrt(-wr), scaled.AsSpan((chunk - ++nn) * d, d));
                    else TensorPrimitives.Multiply(row, Math.Sqrt(wr), scaled.AsSpan(np++ * d, d));
                }
                if (np > 0) NativeBlas.SyrkUpperTransposed(d, np, 1.0, scaled.AsSpan(0, np * d), c);
                if (nn > 0) NativeBlas.SyrkUpperTransposed(d, nn, -1.0, scaled.AsSpan((chunk - nn) * d, nn * d), c);
            }
        }
        finally { ArrayPool<double>.Shared.Return(scaled); }
    }
}
