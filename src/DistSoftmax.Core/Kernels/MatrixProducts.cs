using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// Dense row-major matrix products with explicit leading dimensions (BLAS dgemm, "NN" case only):
///
///   C (m×n) = A (m×k) · B (k×n)          or  C += A · B  with <c>accumulate</c>,
///
/// entry (i, j) of A at a[i·lda + j] (likewise B with ldb, C with ldc). Transposed products are written as NN
/// products of a stored transpose (a shard keeps A2ᵀ and A1ᵀ next to A2 and A1), so there is one kernel to tune.
///
/// The kernel is register-blocked: 4 rows of A times 8 columns of B (two 256-bit vectors) are accumulated in
/// eight registers over the whole k loop with fused multiply-adds, then stored to (or added to) C once; columns
/// are taken in blocks whose k×nb slice of B stays in cache while every row tile passes over it. The summation
/// order of every C entry is fixed (p = 0..k−1, then added to C), so results do not depend on threads or calls.
/// Single-threaded: callers parallelise over fixed row blocks. On a processor with 512-bit vectors every product goes
/// to <see cref="Avx512Gemm"/> (2–2.3× OpenBLAS's AVX2 kernels on a shard's products; same summation order); elsewhere
/// products of at least <see cref="NativeMinimumWork"/> multiply-adds go to OpenBLAS's dgemm when it is installed
/// (<see cref="NativeBlas"/>, single-threaded too) and the rest to this 256-bit kernel.
/// Measured (Release, one core of a shared AMD EPYC, ms per product) for the shapes of a matrix shard with
/// n = 1000, d = 64 — this kernel / TensorPrimitives axpy-or-dot loop / MathNet.Numerics 5.0 managed provider:
///   A1·X (1000×64·64×64) 0.33 / 6.2 / 5.6;  T·A2ᵀ (1000×64·64×1000) 2.6 / 9.4 / 27;
///   G·A2 (1000×1000·1000×64) 3.1 / 13 / 31;  A1ᵀ·P (64×1000·1000×64) 0.16 / 0.47 / 1.2.
/// </summary>
public static class MatrixProducts
{
    /// <summary>Products of at least this many multiply-adds (m·n·k) go to <see cref="NativeBlas"/> when it is loaded.</summary>
    public const long NativeMinimumWork = 1L << 18;

    public static void Gemm(int m, int n, int k, ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb,
        Span<double> c, int ldc, bool accumulate)
    {
        if (!CheckProduct(m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc, a.Overlaps(c) || b.Overlaps(c))) return;
        if (k == 0)
        {
            ClearUnlessAccumulating(c, m, n, ldc, accumulate);
            return;
        }
        if (Avx512Gemm.Available)
        {
            Avx512Gemm.Multiply(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }
        if (NativeBlas.Available && (long)m * n * k >= NativeMinimumWork)
        {
            NativeBlas.Gemm(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
            return;
        }

        ref double ra = ref MemoryMarshal.GetReference(a);
        ref double rb = ref MemoryMarshal.GetReference(b);
        ref double rc = ref MemoryMarshal.GetReference(c);
        int vecEnd = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            // Column blocks of B small enough to stay in L2 (k × nb doubles ≈ 256 KB) while all row tiles pass over them.
            int nb = Math.Max(8, (32768 / k) & ~7);
            vecEnd = n & ~3;
            for (int j0 = 0; j0 < vecEnd; j0 += nb)
            {
                int j1 = Math.Min(vecEnd, j0 + nb);
                int i = 0;
                for (; i + 4 <= m; i += 4)
                {
                    int j = j0;
                    for (; j + 8 <= j1; j += 8) Tile4x8(k, ref ra, lda, ref rb, ldb, ref rc, ldc, i, j, accumulate);
                    for (; j < j1; j += 4)
                        for (int r = i; r < i + 4; r++) Tile1x4(k, ref ra, lda, ref rb, ldb, ref rc, ldc, r, j, accumulate);
                }
                for (; i < m; i++)
                {
                    int j = j0;
                    for (; j + 8 <= j1; j += 8) Tile1x8(k, ref ra, lda, ref rb, ldb, ref rc, ldc, i, j, accumulate);
                    for (; j < j1; j += 4) Tile1x4(k, ref ra, lda, ref rb, ldb, ref rc, ldc, i, j, accumulate);
                }
            }
        }
        for (int j = vecEnd; j < n; j++)
            for (int i = 0; i < m; i++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s = Math.FusedMultiplyAdd(a[i * lda + p], b[p * ldb + j], s);
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s;
            }
    }

    /// <summary>Whether <see cref="GemmSingle"/> can run here: 512-bit vectors (<see cref="Avx512Gemm"/>) or OpenBLAS's sgemm.</summary>
    public static bool SingleAvailable => Avx512Gemm.Available || NativeBlas.SingleGemmAvailable;

    /// <summary>
    /// <see cref="Gemm"/> in single precision, for the products that only steer CG (a matrix shard's single-precision
    /// Hessian-vector products and Kronecker factors): <see cref="Avx512Gemm"/> where the processor has 512-bit
    /// vectors, else OpenBLAS's sgemm; throws where neither is (<see cref="SingleAvailable"/>).
    /// </summary>
    public static void GemmSingle(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        if (!CheckProduct(m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc, a.Overlaps(c) || b.Overlaps(c))) return;
        if (k == 0) ClearUnlessAccumulating(c, m, n, ldc, accumulate);
        else if (Avx512Gemm.Available) Avx512Gemm.Multiply(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else if (NativeBlas.SingleGemmAvailable) NativeBlas.GemmSingle(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else throw new PlatformNotSupportedException("single-precision products need 512-bit vectors or OpenBLAS's sgemm");
    }

    /// <summary>
    /// B (k×n, row-major) in the AVX-512 kernel's panels (<see cref="Avx512Gemm.PackPanels{T}"/>) for the products
    /// <see cref="GemmPacked"/> and <see cref="GemmSinglePacked"/> make with it; empty where that kernel does not run.
    /// </summary>
    public static T[] PanelsFor<T>(ReadOnlySpan<T> b, int k, int n) where T : unmanaged =>
        Avx512Gemm.Available && k > 0 && n > 0 ? Avx512Gemm.PackPanels(b, k, n, n) : Array.Empty<T>();

    /// <summary>
    /// C = A·B (overwritten) for a B that many products share, given as it is (k×n, leading dimension n) and as its
    /// <see cref="PanelsFor{T}"/>: the kernel then reads the panels instead of copying them out of B each call (a
    /// shard's forward products by A2ᵀ; 4096×128 single precision, 2048 rows in 128-row groups: 27.1 → 25.0 ms). The
    /// same bits as <see cref="Gemm"/>.
    /// </summary>
    public static void GemmPacked(int m, int n, int k, ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, ReadOnlySpan<double> bPanels,
        Span<double> c, int ldc)
    {
        if (bPanels.IsEmpty || k == 0) Gemm(m, n, k, a, lda, b, n, c, ldc, false);
        else if (CheckProduct(m, n, k, a.Length, lda, b.Length, n, c.Length, ldc, a.Overlaps(c) || bPanels.Overlaps(c)))
            Avx512Gemm.MultiplyPacked(m, n, k, a, lda, bPanels, c, ldc);
    }

    /// <summary><see cref="GemmPacked"/> in single precision (<see cref="GemmSingle"/>'s bits); B itself is read only
    /// where there are no panels, so a caller holding the panels may pass it empty.</summary>
    public static void GemmSinglePacked(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, ReadOnlySpan<float> bPanels,
        Span<float> c, int ldc)
    {
        if (bPanels.IsEmpty || k == 0) GemmSingle(m, n, k, a, lda, b, n, c, ldc, false);
        else if (CheckProduct(m, n, k, a.Length, lda, bPanels.Length, n, c.Length, ldc, a.Overlaps(c) || bPanels.Overlaps(c)))
            Avx512Gemm.MultiplyPacked(m, n, k, a, lda, bPanels, c, ldc);
    }

    /// <summary>An empty sum (k = 0): C = 0, or C unchanged when accumulating.</summary>
    private static void ClearUnlessAccumulating<T>(Span<T> c, int m, int n, int ldc, bool accumulate)
    {
        if (!accumulate) for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
    }

    /// <summary>Row-major transpose: t (cols×rows) = sᵀ for s (rows×cols).</summary>
    public static double[] Transpose(ReadOnlySpan<double> s, int rows, int cols)
    {
        var t = new double[(long)rows * cols];
        Transpose(s, rows, cols, t);
        return t;
    }

    /// <summary>Row-major transpose into <paramref name="t"/> (cols×rows, its first rows·cols values) for s (rows×cols).</summary>
    public static void Transpose(ReadOnlySpan<double> s, int rows, int cols, Span<double> t)
    {
        if (s.Length < (long)rows * cols) throw new ArgumentException($"a {rows}×{cols} matrix needs {(long)rows * cols} values");
        if (t.Length < (long)rows * cols) throw new ArgumentException($"the transpose of a {rows}×{cols} matrix needs {(long)rows * cols} values, not {t.Length}");
        const int blk = 32;
        for (int i0 = 0; i0 < rows; i0 += blk)
            for (int j0 = 0; j0 < cols; j0 += blk)
            {
                int i1 = Math.Min(rows, i0 + blk), j1 = Math.Min(cols, j0 + blk);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++) t[j * rows + i] = s[i * cols + j];
            }
    }

    /// <summary>Throws on negative sizes, operands too short for their shapes and leading dimensions, or C overlapping
    /// A or B; false when C is empty (nothing to compute).</summary>
    private static bool CheckProduct(int m, int n, int k, int aLength, int lda, int bLength, int ldb, int cLength, int ldc, bool overlaps)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), "matrix dimensions must be non-negative");
        if (m == 0 || n == 0) return false;
        CheckOperand("A", aLength, m, k, lda);
        CheckOperand("B", bLength, k, n, ldb);
        CheckOperand("C", cLength, m, n, ldc);
        if (overlaps) throw new ArgumentException("C must not overlap A or B");
        return true;
    }

    private static void CheckOperand(string name, int length, int rows, int cols, int ld)
    {
        if (ld < cols) throw new ArgumentException($"{name}: leading dimension {ld} is smaller than its {cols} columns");
        if (rows > 0 && cols > 0 && length < (long)(rows - 1) * ld + cols)
            throw new ArgumentException($"{name}: {length} values cannot hold {rows}×{cols} with leading dimension {ld}");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x8(int k, ref double ra, int lda, ref double rb, int ldb, ref double rc, int ldc, int i, int j, bool add)
    {
        var c00 = Vector256<double>.Zero; var c01 = Vector256<double>.Zero;
        var c10 = Vector256<double>.Zero; var c11 = Vector256<double>.Zero;
        var c20 = Vector256<double>.Zero; var c21 = Vector256<double>.Zero;
        var c30 = Vector256<double>.Zero; var c31 = Vector256<double>.Zero;
        ref double a0 = ref Unsafe.Add(ref ra, (nint)i * lda);
        ref double a1 = ref Unsafe.Add(ref a0, lda);
        ref double a2 = ref Unsafe.Add(ref a1, lda);
        ref double a3 = ref Unsafe.Add(ref a2, lda);
        // B is addressed by offset (never by a moved reference, which could point past the array's end).
        nuint off = (nuint)j;
        for (int p = 0; p < k; p++, off += (nuint)ldb)
        {
            var b0 = Vector256.LoadUnsafe(ref rb, off);
            var b1 = Vector256.LoadUnsafe(ref rb, off + 4);
            var x = Vector256.Create(Unsafe.Add(ref a0, p));
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(Unsafe.Add(ref a1, p));
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(Unsafe.Add(ref a2, p));
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(Unsafe.Add(ref a3, p));
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
        }
        ref double cr = ref Unsafe.Add(ref rc, (nint)i * ldc + j);
        Store(ref cr, c00, c01, add);
        Store(ref Unsafe.Add(ref cr, ldc), c10, c11, add);
        Store(ref Unsafe.Add(ref cr, 2 * (nint)ldc), c20, c21, add);
        Store(ref Unsafe.Add(ref cr, 3 * (nint)ldc), c30, c31, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref double c, Vector256<double> lo, Vector256<double> hi, bool add)
    {
        if (add)
        {
            lo += Vector256.LoadUnsafe(ref c);
            hi += Vector256.LoadUnsafe(ref c, 4);
        }
        lo.StoreUnsafe(ref c);
        hi.StoreUnsafe(ref c, 4);
    }

    private static void Tile1x8(int k, ref double ra, int lda, ref double rb, int ldb, ref double rc, int ldc, int i, int j, bool add)
    {
        var c0 = Vector256<double>.Zero; var c1 = Vector256<double>.Zero;
        ref double a0 = ref Unsafe.Add(ref ra, (nint)i * lda);
        nuint off = (nuint)j;
        for (int p = 0; p < k; p++, off += (nuint)ldb)
        {
            var x = Vector256.Create(Unsafe.Add(ref a0, p));
            c0 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref rb, off), c0);
            c1 = Vector256.FusedMultiplyAdd(x, Vector256.LoadUnsafe(ref rb, off + 4), c1);
        }
        Store(ref Unsafe.Add(ref rc, (nint)i * ldc + j), c0, c1, add);
    }

    private static void Tile1x4(int k, ref double ra, int lda, ref double rb, int ldb, ref double rc, int ldc, int i, int j, bool add)
    {
        var c0 = Vector256<double>.Zero;
        ref double a0 = ref Unsafe.Add(ref ra, (nint)i * lda);
        nuint off = (nuint)j;
        for (int p = 0; p < k; p++, off += (nuint)ldb)
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref a0, p)), Vector256.LoadUnsafe(ref rb, off), c0);
        ref double cr = ref Unsafe.Add(ref rc, (nint)i * ldc + j);
        if (add) c0 += Vector256.LoadUnsafe(ref cr);
        c0.StoreUnsafe(ref cr);
    }
}
