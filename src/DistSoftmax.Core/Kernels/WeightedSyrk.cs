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
        BlockedSyrk.CheckShapes(a, rows, d, w, c.Length);
        if (rows == 0 || d == 0) return;
        if (d >= NativeMinColumns && NativeBlas.SyrkAvailable) Native(a, rows, d, w, c);
        else Managed(a, rows, d, w, c);
    }

    /// <summary>
    /// Whether <see cref="UpperSingle"/> runs here: OpenBLAS's ssyrk is loaded and d ≥ <see cref="NativeMinColumns"/>.
    /// </summary>
    public static bool SingleAvailable(int d) => d >= NativeMinColumns && NativeBlas.SingleSyrkAvailable;

    /// <summary>
    /// C₃₂ += Aᵀ diag(w) A in single precision, for a preconditioner's sampled Gram (CG on exact products corrects what
    /// it misses): the rows, scaled by √|w_i| as in the double path, are rounded to float in chunks of
    /// <see cref="ChunkRows"/>, and each chunk is two ssyrk calls into the float d×d <paramref name="c"/> (upper triangle).
    /// The caller folds C₃₂ into its double accumulator once (<see cref="AddUpper"/>). Rounding the rows costs a relative
    /// 6e-8 per entry, and float sums over a shard block's few thousand sampled rows about 1e-6 of the Gram's entries,
    /// against the sample's own (1 ± ε) spread. ssyrk ran 1.75× dsyrk's rate at d = 1000 on the development machine
    /// (two threads, 4096 rows each: 72–79 ms against 131–138 ms). Only where <see cref="SingleAvailable"/>.
    /// </summary>
    public static void UpperSingle(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<float> c)
    {
        BlockedSyrk.CheckShapes(a, rows, d, w, c.Length);
        if (!SingleAvailable(d)) throw new InvalidOperationException($"single-precision SYRK needs OpenBLAS's ssyrk and d ≥ {NativeMinColumns} (d = {d})");
        if (rows == 0) return;
        int chunk = Math.Min(ChunkRows, rows);
        var scaled = ArrayPool<double>.Shared.Rent(chunk * d);
        var rounded = ArrayPool<float>.Shared.Rent(chunk * d);
        try
        {
            for (int r0 = 0; r0 < rows; r0 += ChunkRows)
            {
                var (np, nn) = ScaleChunk(a, d, w, r0, Math.Min(rows, r0 + ChunkRows), scaled.AsSpan(0, chunk * d));
                int back = (chunk - nn) * d;
                SpanMath.Narrow(scaled.AsSpan(0, np * d), rounded.AsSpan(0, np * d));
                SpanMath.Narrow(scaled.AsSpan(back, nn * d), rounded.AsSpan(back, nn * d));
                if (np > 0) NativeBlas.SyrkUpperTransposedSingle(d, np, 1f, rounded.AsSpan(0, np * d), c);
                if (nn > 0) NativeBlas.SyrkUpperTransposedSingle(d, nn, -1f, rounded.AsSpan(back, nn * d), c);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(scaled);
            ArrayPool<float>.Shared.Return(rounded);
        }
    }

    /// <summary>The upper triangle of the float d×d <paramref name="single"/> added to that of the double d×d <paramref name="c"/>.</summary>
    public static void AddUpper(ReadOnlySpan<float> single, Span<double> c, int d)
    {
        for (int i = 0; i < d; i++)
        {
            var from = single.Slice(i * d + i, d - i);
            var to = c.Slice(i * d + i, d - i);
            for (int j = 0; j < from.Length; j++) to[j] += from[j];
        }
    }

    /// <summary>The managed kernels alone (the fallback, and the reference of the tests).</summary>
    public static void Managed(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<double> c)
    {
        if (d >= BlockedSyrk.MinColumns) BlockedSyrk.Upper(a, rows, d, w, c);
        else DenseKernels.SyrkUpper(a, rows, d, w, c);
    }

    private static void Native(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<double> c)
    {
        int chunk = Math.Min(ChunkRows, rows);
        var scaled = ArrayPool<double>.Shared.Rent(chunk * d);
        try
        {
            for (int r0 = 0; r0 < rows; r0 += ChunkRows)
            {
                var (np, nn) = ScaleChunk(a, d, w, r0, Math.Min(rows, r0 + ChunkRows), scaled.AsSpan(0, chunk * d));
                if (np > 0) NativeBlas.SyrkUpperTransposed(d, np, 1.0, scaled.AsSpan(0, np * d), c);
                if (nn > 0) NativeBlas.SyrkUpperTransposed(d, nn, -1.0, scaled.AsSpan((chunk - nn) * d, nn * d), c);
            }
        }
        finally { ArrayPool<double>.Shared.Return(scaled); }
    }

    /// <summary>
    /// Rows [r0, end) of A scaled by √|w_i| into one chunk buffer (chunk×d, chunk ≥ end − r0), split by the sign of
    /// their weight for the two SYRK calls, P = rows with w &gt; 0 from the front and N = rows with w &lt; 0 from the
    /// back (np + nn ≤ chunk); rows with w = 0 are skipped, and a NaN weight goes to P, so that it reaches C. Returns (np, nn).
    /// </summary>
    private static (int Positive, int Negative) ScaleChunk(ReadOnlySpan<double> a, int d, ReadOnlySpan<double> w, int r0, int end, Span<double> chunk)
    {
        int slots = chunk.Length / Math.Max(d, 1), np = 0, nn = 0;
        for (int r = r0; r < end; r++)
        {
            double wr = w[r];
            if (wr == 0) continue;
            var row = a.Slice(r * d, d);
            if (wr < 0) SpanMath.Multiply(row, Math.Sqrt(-wr), chunk.Slice((slots - ++nn) * d, d));
            else SpanMath.Multiply(row, Math.Sqrt(wr), chunk.Slice(np++ * d, d));
        }
        return (np, nn);
    }
}
