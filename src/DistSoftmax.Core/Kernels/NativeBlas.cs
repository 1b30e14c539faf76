using System.Runtime.InteropServices;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// Debian's OpenBLAS (package libopenblas0), loaded at run time when present, for the large dense products of the
/// matrix shards (<see cref="MatrixProducts.Gemm"/>): measured on this project's 2-core machine its dgemm runs the
/// shard's n-wide products 2–3× faster than the managed register-tiled kernel (README, "Dependency decisions").
/// OpenBLAS is set to one thread: shards parallelise over fixed row blocks themselves, so every product is
/// computed by one thread in OpenBLAS's fixed order and replies stay bit-for-bit reproducible whatever the thread
/// count. Without the library (or with DISTSOFTMAX_NATIVE_BLAS=0) everything runs on the managed kernels.
/// Its dsyrk forms the weighted Grams AᵀDA of the vector shards (<see cref="WeightedSyrk"/>, 1.3–2.3× the managed
/// blocked kernel). Its LAPACK also gives the eigenvalues of a symmetric matrix (dsyevd, eigenvalues only), which the managed
/// MathNet decomposition computes 10× slower at d = 1000 (README, "Dependency decisions").
/// </summary>
public static unsafe class NativeBlas
{
    /// <summary>The shared objects tried, in order.</summary>
    private static readonly string[] Libraries = { "libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libopenblas.dll" };

    /// <summary>CBLAS enumerations.</summary>
    private const int RowMajor = 101, NoTranspose = 111, Transpose = 112, Upper = 121;

    private static readonly delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void> Dgemm;

    /// <summary>cblas_dsyrk(order, uplo, trans, n, k, alpha, a, lda, beta, c, ldc).</summary>
    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm;
    private static readonly delegate* unmanaged<int, int, int, int, int, double, double*, int, double, double*, int, void> Dsyrk;

    /// <summary>cblas_ssyrk(order, uplo, trans, n, k, alpha, a, lda, beta, c, ldc): single precision, for preconditioners.</summary>
    private static readonly delegate* unmanaged<int, int, int, int, int, float, float*, int, float, float*, int, void> Ssyrk;

    /// <summary>
    /// LAPACK's Fortran dsyevd_(jobz, uplo, n, a, lda, w, work, lwork, iwork, liwork, info) (Debian's build exports no
    /// LAPACKE); every argument by reference, the two one-character strings without their hidden lengths, as the
    /// reference LAPACK reads only their first character.
    /// </summary>
    private static readonly delegate* unmanaged<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, void> Dsyevd;

    /// <summary>LAPACK's Fortran dpotrf_(uplo, n, a, lda, info), every argument by reference (see <see cref="Dsyevd"/>).</summary>
    private static readonly delegate* unmanaged<byte*, int*, double*, int*, int*, void> Dpotrf;

    static NativeBlas()
    {
        if (Environment.GetEnvironmentVariable("DISTSOFTMAX_NATIVE_BLAS") == "0") return;
        foreach (var name in Libraries)
        {
            if (!NativeLibrary.TryLoad(name, out var handle)) continue;
            if (!NativeLibrary.TryGetExport(handle, "cblas_dgemm", out var dgemm)) continue;
            if (NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out var threads))
                ((delegate* unmanaged<int, void>)threads)(1);
            Dgemm = (delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void>)dgemm;
            if (NativeLibrary.TryGetExport(handle, "cblas_sgemm", out var sgemm))
                Sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm;
            if (NativeLibrary.TryGetExport(handle, "cblas_dsyrk", out var dsyrk))
                Dsyrk = (delegate* unmanaged<int, int, int, int, int, double, double*, int, double, double*, int, void>)dsyrk;
            if (NativeLibrary.TryGetExport(handle, "cblas_ssyrk", out var ssyrk))
                Ssyrk = (delegate* unmanaged<int, int, int, int, int, float, float*, int, float, float*, int, void>)ssyrk;
            if (NativeLibrary.TryGetExport(handle, "dpotrf_", out var dpotrf))
                Dpotrf = (delegate* unmanaged<byte*, int*, double*, int*, int*, void>)dpotrf;
            if (NativeLibrary.TryGetExport(handle, "dsyevd_", out var dsyevd))
                Dsyevd = (delegate* unmanaged<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, void>)dsyevd;
            Library = name;
            return;
        }
    }

    /// <summary>Whether OpenBLAS's dgemm was found.</summary>
    public static bool Available => Dgemm != null;

    /// <summary>The library that was loaded, or null.</summary>
    public static string? Library { get; }

    /// <summary>C (m×n) = A (m×k)·B (k×n), or C += A·B, row-major with leading dimensions; the caller checked the shapes.</summary>
    internal static void Gemm(int m, int n, int k, ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb,
        Span<double> c, int ldc, bool accumulate)
    {
        fixed (double* pa = a)
        fixed (double* pb = b)
        fixed (double* pc = c)
            Dgemm(RowMajor, NoTranspose, NoTranspose, m, n, k, 1.0, pa, lda, pb, ldb, accumulate ? 1.0 : 0.0, pc, ldc);
    }

    /// <summary>Whether OpenBLAS's sgemm was found.</summary>
    public static bool SingleGemmAvailable => Sgemm != null;

    /// <summary><see cref="Gemm"/> in single precision: C (m×n float) = A·B or C += A·B, row-major; the caller checked the shapes.</summary>
    internal static void GemmSingle(int m, int n, int k, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        if (m == 0 || n == 0) return;
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
            Sgemm(RowMajor, NoTranspose, NoTranspose, m, n, k, 1f, pa, lda, pb, ldb, accumulate ? 1f : 0f, pc, ldc);
    }

    /// <summary>Whether OpenBLAS's dsyrk was found.</summary>
    public static bool SyrkAvailable => Dsyrk != null;

    /// <summary>
    /// C (d×d, row-major, upper triangle: entries j ≥ i) += α·SᵀS for the k×d row-major S (leading dimension d);
    /// the lower triangle is not touched. The caller checked the shapes.
    /// </summary>
    internal static void SyrkUpperTransposed(int d, int k, double alpha, ReadOnlySpan<double> s, Span<double> c)
    {
        fixed (double* ps = s)
        fixed (double* pc = c)
            Dsyrk(RowMajor, Upper, Transpose, d, k, alpha, ps, d, 1.0, pc, d);
    }

    /// <summary>Whether OpenBLAS's ssyrk was found.</summary>
    public static bool SingleSyrkAvailable => Ssyrk != null;

    /// <summary><see cref="SyrkUpperTransposed"/> in single precision: C (d×d float, upper) += α·SᵀS, S k×d float row-major.</summary>
    internal static void SyrkUpperTransposedSingle(int d, int k, float alpha, ReadOnlySpan<float> s, Span<float> c)
    {
        fixed (float* ps = s)
        fixed (float* pc = c)
            Ssyrk(RowMajor, Upper, Transpose, d, k, alpha, ps, d, 1f, pc, d);
    }

    /// <summary>
    /// R with RᵀR = A by OpenBLAS's dpotrf, in place: A (n×n row-major) is read from its upper triangle (j ≥ i), which
    /// is replaced by R; the lower triangle is not touched. (Column-major, the row-major upper triangle is the lower
    /// one, so this is dpotrf's 'L' factorisation A = L Lᵀ with L = Rᵀ.) True when A is numerically positive definite,
    /// false when not (the triangle then partly overwritten), null when the library or its LAPACK is missing.
    /// </summary>
    internal static bool? CholeskyUpper(Span<double> a, int n) => Potrf(a, n, (byte)'L');

    /// <summary>Whether LAPACK's dpotrf was found (<see cref="CholeskyUpper"/>, <see cref="CholeskyLower"/>).</summary>
    internal static bool CholeskyAvailable => Dpotrf != null;

    /// <summary>
    /// L with L Lᵀ = A by OpenBLAS's dpotrf, in place: A (n×n row-major) is read from its lower triangle (j ≤ i), which
    /// is replaced by L; the upper triangle is not touched (column-major, the row-major lower triangle is the upper one:
    /// dpotrf's 'U' factorisation A = UᵀU with U = Lᵀ). True when A is numerically positive definite, false when not,
    /// null when the library or its LAPACK is missing.
    /// </summary>
    internal static bool? CholeskyLower(Span<double> a, int n) => Potrf(a, n, (byte)'U');

    /// <summary>dpotrf_ on the column-major triangle <paramref name="uplo"/> of the n×n array (see the two callers).</summary>
    private static bool? Potrf(Span<double> a, int n, byte uplo)
    {
        if (Dpotrf == null) return null;
        if (n == 0) return true;
        int order = n, lda = n, info = -1;
        fixed (double* pa = a)
            Dpotrf(&uplo, &order, pa, &lda, &info);
        if (info < 0) throw new InvalidOperationException($"dpotrf rejected argument {-info}");
        return info == 0;
    }

    /// <summary>
    /// The eigen-decomposition h = V Λ Vᵀ of the symmetric n×n matrix h by OpenBLAS's dsyevd (divide and conquer, with
    /// vectors; its workspace asked for first, as LAPACK allows with lwork = liwork = −1): the eigenvalues ascending and
    /// V column-major, i.e. eigenvector e in vectors[e·n … e·n + n) (a symmetric matrix reads the same in either order; h
    /// is not modified). Null when the library or its LAPACK is missing, or LAPACK reports a failure.
    /// </summary>
    internal static (double[] Values, double[] Vectors)? SymmetricEigenDecomposition(ReadOnlySpan<double> h, int n)
    {
        if (Dsyevd == null || n == 0) return null;
        var a = h.Slice(0, n * n).ToArray();
        var w = new double[n];
        byte jobz = (byte)'V', uplo = (byte)'U';
        int order = n, lda = n, info = -1, query = -1, iworkSize = 0;
        double workSize = 0;
        fixed (double* pa = a)
        fixed (double* pw = w)
        {
            Dsyevd(&jobz, &uplo, &order, pa, &lda, pw, &workSize, &query, &iworkSize, &query, &info);
            if (info != 0) return null;
            var work = new double[(int)workSize];
            var iwork = new int[iworkSize];
            int lwork = work.Length, liwork = iwork.Length;
            fixed (double* pwork = work)
            fixed (int* piwork = iwork)
                Dsyevd(&jobz, &uplo, &order, pa, &lda, pw, pwork, &lwork, piwork, &liwork, &info);
        }
        return info == 0 ? (w, a) : null;
    }

    /// <summary>
    /// The eigenvalues of the symmetric n×n row-major matrix h, ascending, by OpenBLAS's dsyevd (eigenvalues only:
    /// workspace 2n + 1 doubles and 1 integer; a symmetric matrix is the same row- or column-major; h is not modified);
    /// null when the library or its LAPACK is missing, or LAPACK reports a failure.
    /// </summary>
    internal static double[]? SymmetricEigenvalues(ReadOnlySpan<double> h, int n)
    {
        if (Dsyevd == null || n == 0) return null;
        var a = h.Slice(0, n * n).ToArray();
        var w = new double[n];
        var work = new double[2 * n + 1];
        byte jobz = (byte)'N', uplo = (byte)'U';
        int order = n, lda = n, lwork = work.Length, iwork = 0, liwork = 1, info = -1;
        fixed (double* pa = a)
        fixed (double* pw = w)
        fixed (double* pwork = work)
            Dsyevd(&jobz, &uplo, &order, pa, &lda, pw, pwork, &lwork, &iwork, &liwork, &info);
        return info == 0 ? w : null;
    }
}
