using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// Row-major C (m×n) = A (m×k)·B (k×n), or C += A·B, in single or double precision on 512-bit vectors (AVX-512),
/// one thread: the matrix shards' dense products (<see cref="MatrixProducts.Gemm"/>, <see cref="MatrixProducts.GemmSingle"/>).
///
/// Register tile: <see cref="TileRows"/> rows of A times <see cref="TileVectors"/> vectors of B's row (64 floats or 32
/// doubles), 24 accumulators held over the whole k loop — per step p four loads of B, six broadcasts of A and 24
/// fused multiply-adds — then stored to (or added to) C once. B's k×64 panel is first copied into a contiguous
/// per-thread buffer when its rows lie far apart (a shard's forward product T·A2ᵀ reads rows n floats apart, which
/// map to the same cache sets) and the panel is reused by at least two row tiles; sums longer than
/// <see cref="MaxSliceSteps"/> (the back-projection's k = n) go in slices so that B's slice stays in L2 while every row
/// tile passes over it (single precision at d = 128: 16.4 → 12.1 ms). Columns past the last whole panel go
/// one vector at a time, then one value at a time; rows past the last whole tile, one row at a time.
/// Every entry of C is Σ_p a_ip·b_pj summed in order p = 0 … k−1 by fused multiply-adds from zero (then added to C),
/// whatever the shapes, tiles and threads: results are bit-for-bit reproducible.
///
/// Why not OpenBLAS here: Debian 12's OpenBLAS (0.3.21) runs its AVX2 (Haswell) kernels on this project's machines
/// — it predates AMD's AVX-512 processors, and the machines pin OPENBLAS_CORETYPE=Haswell because its AVX-512 kernels
/// compute wrong results there. Measured on one core (AMD EPYC, family 26), a 2048-row shard at n = 4096, d = 64 in
/// 128-row groups (`dotnet run -c Release --project bench/DistSoftmax.Benchmarks -- gemm-kernels 4096 64`), OpenBLAS's
/// sgemm against this kernel: forward T·A2ᵀ 12.0 against 5.6 ms, back-projection Y·A2 12.0 against 5.1 ms; dgemm 25.2
/// against 11.2 ms and 24.8 against 13.2 ms (d = 128: 2.1×, 1.9×, 2.2×, 1.9×; README, "Dependency decisions").
/// DISTSOFTMAX_MANAGED_GEMM=0 turns it off (the products then go to OpenBLAS, or the managed 256-bit kernel, as before).
/// </summary>
public static class Avx512Gemm
{
    /// <summary>Rows of A (and C) in one register tile.</summary>
    public const int TileRows = 6;

    /// <summary>512-bit vectors of B's row (and C's) in one register tile: 64 floats or 32 doubles.</summary>
    public const int TileVectors = 4;

    /// <summary>B's k×panel slice is copied into a contiguous buffer only up to this many bytes (it must stay in L2).</summary>
    public const int MaxPackedBytes = 256 * 1024;

    /// <summary>The environment variable that turns this kernel off ("0").</summary>
    public const string SwitchVariable = "DISTSOFTMAX_MANAGED_GEMM";

    /// <summary>Whether the processor has 512-bit vectors (and the kernel is not turned off).</summary>
    public static bool Available { get; } = Vector512.IsHardwareAccelerated && Environment.GetEnvironmentVariable(SwitchVariable) != "0";

    [ThreadStatic] private static float[]? _singlePanel;
    [ThreadStatic] private static double[]? _doublePanel;
    [ThreadStatic] private static float[]? _singleSums;
    [ThreadStatic] private static double[]? _doubleSums;

    /// <summary>Sums longer than this many steps p go in slices of it (B's slice of a panel: 128–256 KB).</summary>
    public const int MaxSliceSteps = 512;

    /// <summary>What a tile does with C: overwrite it, add its sums to it, or continue sums already stored in it.</summary>
    private enum TileStore { Overwrite, Add, Continue }

    /// <summary>C = A·B (or C += A·B) in double precision; the caller checked the shapes.</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb,
        Span<double> c, int ldc, bool accumulate) =>
        Run(m, n, k, a, lda, b, ldb, c, ldc, accumulate, ref _doublePanel, ref _doubleSums);

    /// <summary>C = A·B (or C += A·B) in single precision; the caller checked the shapes.</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate) =>
        Run(m, n, k, a, lda, b, ldb, c, ldc, accumulate, ref _singlePanel, ref _singleSums);

    private static void Run<T>(int m, int n, int k, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb,
        Span<T> c, int ldc, bool accumulate, ref T[]? panelBuffer, ref T[]? sumBuffer) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vector512.IsHardwareAccelerated) throw new PlatformNotSupportedException("the AVX-512 product needs 512-bit vectors");
        if (m == 0 || n == 0) return;
        ref T ra = ref MemoryMarshal.GetReference(a);
        ref T rb = ref MemoryMarshal.GetReference(b);
        ref T rc = ref MemoryMarshal.GetReference(c);
        int lanes = Vector512<T>.Count, width = TileVectors * lanes;
        bool pack = ldb != width && m >= 2 * TileRows && (long)k * width * Unsafe.SizeOf<T>() <= MaxPackedBytes;
        // Long sums go in slices of MaxSliceSteps steps, so that B's slice of the panel stays in L2 while every row tile
        // passes over it; each slice continues the entries' sums where the last one left them (in C, or for C += A·B in
        // a per-thread buffer first), which keeps every sum's order p = 0 … k−1.
        int slice = SliceSteps(k, m);
        bool viaBuffer = accumulate && slice < k;
        int j = 0;
        for (; j + width <= n; j += width)
        {
            ref T panel = ref Unsafe.Add(ref rb, j);
            int ldp = ldb;
            if (pack)
            {
                if (panelBuffer is null || panelBuffer.Length < k * width) panelBuffer = new T[k * width];
                for (int p = 0; p < k; p++)
                    MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref rb, p * ldb + j), width).CopyTo(panelBuffer.AsSpan(p * width, width));
                panel = ref MemoryMarshal.GetArrayDataReference(panelBuffer);
                ldp = width;
            }
            ref T target = ref Unsafe.Add(ref rc, j);
            int ldt = ldc;
            if (viaBuffer)
            {
                if (sumBuffer is null || sumBuffer.Length < m * width) sumBuffer = new T[m * width];
                target = ref MemoryMarshal.GetArrayDataReference(sumBuffer);
                ldt = width;
            }
            for (int p0 = 0; p0 < k; p0 += slice)
            {
                int steps = Math.Min(slice, k - p0);
                // The first slice starts from zero (or adds to C), later ones continue the sums stored in the target.
                var mode = p0 > 0 ? TileStore.Continue : accumulate && !viaBuffer ? TileStore.Add : TileStore.Overwrite;
                RowTiles(m, steps, ref Unsafe.Add(ref ra, p0), lda, ref Unsafe.Add(ref panel, p0 * ldp), ldp, ref target, ldt, mode);
            }
            if (viaBuffer)
                for (int i = 0; i < m; i++)
                {
                    var row = MemoryMarshal.CreateSpan(ref Unsafe.Add(ref rc, i * ldc + j), width);
                    TensorPrimitives.Add(row, sumBuffer.AsSpan(i * width, width), row);
                }
        }
        RemainderColumns(m, n - j, k, ref ra, lda, ref Unsafe.Add(ref rb, j), ldb, ref Unsafe.Add(ref rc, j), ldc, accumulate);
    }

    /// <summary>Steps p of one slice of a sum of k steps over m rows: <see cref="MaxSliceSteps"/> when the sum is longer
    /// and at least two row tiles share each slice of the panel, else the whole sum.</summary>
    private static int SliceSteps(int k, int m) => k > MaxSliceSteps && m >= 2 * TileRows ? MaxSliceSteps : k;

    /// <summary>One k-slice of a panel for every row of A: whole tiles of <see cref="TileRows"/> rows, then a row at a time.</summary>
    private static void RowTiles<T>(int m, int steps, ref T a, int lda, ref T panel, int ldp, ref T target, int ldt, TileStore mode)
        where T : unmanaged
    {
        int i = 0;
        for (; i + TileRows <= m; i += TileRows)
            Tile6x4(steps, ref Unsafe.Add(ref a, i * lda), lda, ref panel, ldp, ref Unsafe.Add(ref target, i * ldt), ldt, mode);
        for (; i < m; i++)
            Tile1x4(steps, ref Unsafe.Add(ref a, i * lda), ref panel, ldp, ref Unsafe.Add(ref target, i * ldt), mode);
    }

    /// <summary>C's <paramref name="columns"/> columns past the last whole panel (fewer than a panel's width): a vector,
    /// then a value at a time, each entry the ordered sum of fused multiply-adds (then added to C when accumulating).</summary>
    private static void RemainderColumns<T>(int m, int columns, int k, ref T a, int lda, ref T b, int ldb, ref T c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int lanes = Vector512<T>.Count, j = 0;
        for (; j + lanes <= columns; j += lanes)
            for (int i = 0; i < m; i++)
                Tile1x1(k, ref Unsafe.Add(ref a, i * lda), ref Unsafe.Add(ref b, j), ldb, ref Unsafe.Add(ref c, i * ldc + j), accumulate);
        for (; j < columns; j++)
            for (int i = 0; i < m; i++)
            {
                T s = T.Zero;
                for (int p = 0; p < k; p++) s = T.FusedMultiplyAdd(Unsafe.Add(ref a, i * lda + p), Unsafe.Add(ref b, p * ldb + j), s);
                ref T cij = ref Unsafe.Add(ref c, i * ldc + j);
                cij = accumulate ? cij + s : s;
            }
    }

    /// <summary>
    /// B (k×n, row-major, <paramref name="ldb"/> apart) rearranged for <see cref="MultiplyPacked{T}"/>: each whole panel of
    /// <see cref="TileVectors"/> vectors (k × 64 floats or k × 32 doubles) contiguous, panel after panel, then the columns
    /// past the last whole panel as one k × (n mod width) row-major block. For a B that many products share (a shard's
    /// A2ᵀ in its forward products), so that no call copies its panels again.
    /// </summary>
    public static T[] PackPanels<T>(ReadOnlySpan<T> b, int k, int n, int ldb) where T : unmanaged
    {
        int width = TileVectors * Vector512<T>.Count, whole = n / width * width, rest = n - whole;
        var packed = new T[(long)k * n];
        int at = 0;
        for (int j = 0; j < whole; j += width)
            for (int p = 0; p < k; p++, at += width)
                b.Slice(p * ldb + j, width).CopyTo(packed.AsSpan(at, width));
        for (int p = 0; p < k && rest > 0; p++, at += rest)
            b.Slice(p * ldb + whole, rest).CopyTo(packed.AsSpan(at, rest));
        return packed;
    }

    /// <summary>C = A·B in double precision from B's <see cref="PackPanels{T}"/>; the caller checked the shapes.</summary>
    public static void MultiplyPacked(int m, int n, int k, ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> packed, Span<double> c, int ldc) =>
        RunPacked(m, n, k, a, lda, packed, c, ldc);

    /// <summary>C = A·B in single precision from B's <see cref="PackPanels{T}"/>; the caller checked the shapes.</summary>
    public static void MultiplyPacked(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> packed, Span<float> c, int ldc) =>
        RunPacked(m, n, k, a, lda, packed, c, ldc);

    /// <summary>
    /// <see cref="Run{T}"/> for an overwritten C whose B is already in panels: the same tiles and the same order of
    /// every sum (bit for bit the same C), with no copying.
    /// </summary>
    private static void RunPacked<T>(int m, int n, int k, ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> packed, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Vector512.IsHardwareAccelerated) throw new PlatformNotSupportedException("the AVX-512 product needs 512-bit vectors");
        if (m == 0 || n == 0) return;
        if (packed.Length < (long)k * n) throw new ArgumentException($"packed B has {packed.Length} values, not {(long)k * n}");
        ref T ra = ref MemoryMarshal.GetReference(a);
        ref T rc = ref MemoryMarshal.GetReference(c);
        int lanes = Vector512<T>.Count, width = TileVectors * lanes, whole = n / width * width, rest = n - whole;
        int slice = SliceSteps(k, m);
        for (int j = 0; j < whole; j += width)
        {
            ref T panel = ref Unsafe.AsRef(in packed[(j / width) * k * width]);
            ref T target = ref Unsafe.Add(ref rc, j);
            for (int p0 = 0; p0 < k; p0 += slice)
            {
                int steps = Math.Min(slice, k - p0);
                var mode = p0 > 0 ? TileStore.Continue : TileStore.Overwrite;
                RowTiles(m, steps, ref Unsafe.Add(ref ra, p0), lda, ref Unsafe.Add(ref panel, p0 * width), width, ref target, ldc, mode);
            }
        }
        // The columns past the last whole panel, from the k × rest block (leading dimension rest).
        if (rest > 0)
            RemainderColumns(m, rest, k, ref ra, lda, ref Unsafe.AsRef(in packed[whole * k]), rest, ref Unsafe.Add(ref rc, whole), ldc, false);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
    }

    /// <summary>C's 6 rows × 4 vectors from A's 6 rows (k each, lda apart) and B's k rows of 4 vectors (ldb apart).</summary>
    private static void Tile6x4<T>(int k, ref T a, int lda, ref T b, int ldb, ref T c, int ldc, TileStore mode) where T : unmanaged
    {
        int w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<T> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        Vector512<T> c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
        if (mode == TileStore.Continue)
        {
            LoadRow(ref c, out c00, out c01, out c02, out c03);
            LoadRow(ref Unsafe.Add(ref c, ldc), out c10, out c11, out c12, out c13);
            LoadRow(ref Unsafe.Add(ref c, 2 * ldc), out c20, out c21, out c22, out c23);
            LoadRow(ref Unsafe.Add(ref c, 3 * ldc), out c30, out c31, out c32, out c33);
            LoadRow(ref Unsafe.Add(ref c, 4 * ldc), out c40, out c41, out c42, out c43);
            LoadRow(ref Unsafe.Add(ref c, 5 * ldc), out c50, out c51, out c52, out c53);
        }
        ref T a0 = ref a;
        ref T a1 = ref Unsafe.Add(ref a, lda);
        ref T a2 = ref Unsafe.Add(ref a, 2 * lda);
        ref T a3 = ref Unsafe.Add(ref a, 3 * lda);
        ref T a4 = ref Unsafe.Add(ref a, 4 * lda);
        ref T a5 = ref Unsafe.Add(ref a, 5 * lda);
        for (int p = 0; p < k; p++)
        {
            ref T bp = ref Unsafe.Add(ref b, p * ldb);
            var b0 = Vector512.LoadUnsafe(ref bp);
            var b1 = Vector512.LoadUnsafe(ref bp, (nuint)w);
            var b2 = Vector512.LoadUnsafe(ref bp, (nuint)(2 * w));
            var b3 = Vector512.LoadUnsafe(ref bp, (nuint)(3 * w));
            var x = Vector512.Create(Unsafe.Add(ref a0, p));
            c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01); c02 = Fma(x, b2, c02); c03 = Fma(x, b3, c03);
            x = Vector512.Create(Unsafe.Add(ref a1, p));
            c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11); c12 = Fma(x, b2, c12); c13 = Fma(x, b3, c13);
            x = Vector512.Create(Unsafe.Add(ref a2, p));
            c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21); c22 = Fma(x, b2, c22); c23 = Fma(x, b3, c23);
            x = Vector512.Create(Unsafe.Add(ref a3, p));
            c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31); c32 = Fma(x, b2, c32); c33 = Fma(x, b3, c33);
            x = Vector512.Create(Unsafe.Add(ref a4, p));
            c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41); c42 = Fma(x, b2, c42); c43 = Fma(x, b3, c43);
            x = Vector512.Create(Unsafe.Add(ref a5, p));
            c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51); c52 = Fma(x, b2, c52); c53 = Fma(x, b3, c53);
        }
        bool add = mode == TileStore.Add;
        StoreRow(ref c, c00, c01, c02, c03, add);
        StoreRow(ref Unsafe.Add(ref c, ldc), c10, c11, c12, c13, add);
        StoreRow(ref Unsafe.Add(ref c, 2 * ldc), c20, c21, c22, c23, add);
        StoreRow(ref Unsafe.Add(ref c, 3 * ldc), c30, c31, c32, c33, add);
        StoreRow(ref Unsafe.Add(ref c, 4 * ldc), c40, c41, c42, c43, add);
        StoreRow(ref Unsafe.Add(ref c, 5 * ldc), c50, c51, c52, c53, add);
    }

    /// <summary>One row of C, 4 vectors wide.</summary>
    private static void Tile1x4<T>(int k, ref T a, ref T b, int ldb, ref T c, TileStore mode) where T : unmanaged
    {
        int w = Vector512<T>.Count;
        Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default;
        if (mode == TileStore.Continue) LoadRow(ref c, out c0, out c1, out c2, out c3);
        for (int p = 0; p < k; p++)
        {
            ref T bp = ref Unsafe.Add(ref b, p * ldb);
            var x = Vector512.Create(Unsafe.Add(ref a, p));
            c0 = Fma(x, Vector512.LoadUnsafe(ref bp), c0);
            c1 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)w), c1);
            c2 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)(2 * w)), c2);
            c3 = Fma(x, Vector512.LoadUnsafe(ref bp, (nuint)(3 * w)), c3);
        }
        StoreRow(ref c, c0, c1, c2, c3, mode == TileStore.Add);
    }

    /// <summary>One row of C, one vector wide.</summary>
    private static void Tile1x1<T>(int k, ref T a, ref T b, int ldb, ref T c, bool add) where T : unmanaged
    {
        var c0 = Vector512<T>.Zero;
        for (int p = 0; p < k; p++)
            c0 = Fma(Vector512.Create(Unsafe.Add(ref a, p)), Vector512.LoadUnsafe(ref Unsafe.Add(ref b, p * ldb)), c0);
        if (add) c0 += Vector512.LoadUnsafe(ref c);
        c0.StoreUnsafe(ref c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LoadRow<T>(ref T c, out Vector512<T> v0, out Vector512<T> v1, out Vector512<T> v2, out Vector512<T> v3) where T : unmanaged
    {
        int w = Vector512<T>.Count;
        v0 = Vector512.LoadUnsafe(ref c);
        v1 = Vector512.LoadUnsafe(ref c, (nuint)w);
        v2 = Vector512.LoadUnsafe(ref c, (nuint)(2 * w));
        v3 = Vector512.LoadUnsafe(ref c, (nuint)(3 * w));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<T>(ref T c, Vector512<T> v0, Vector512<T> v1, Vector512<T> v2, Vector512<T> v3, bool add) where T : unmanaged
    {
        int w = Vector512<T>.Count;
        if (add)
        {
            v0 += Vector512.LoadUnsafe(ref c);
            v1 += Vector512.LoadUnsafe(ref c, (nuint)w);
            v2 += Vector512.LoadUnsafe(ref c, (nuint)(2 * w));
            v3 += Vector512.LoadUnsafe(ref c, (nuint)(3 * w));
        }
        v0.StoreUnsafe(ref c);
        v1.StoreUnsafe(ref c, (nuint)w);
        v2.StoreUnsafe(ref c, (nuint)(2 * w));
        v3.StoreUnsafe(ref c, (nuint)(3 * w));
    }
}
