using System.Diagnostics;
using System.Runtime.InteropServices;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// `algebra [d…]`: the coordinator's and the sketch replies' d×d operations — Cholesky, symmetric eigen-decomposition,
/// R of a (4d)×d sketch, the TSQR merge and the triangular solve Y = R⁻¹G (k = 12) — in the project's managed code,
/// through MathNet.Numerics' OpenBLAS provider when its native library loads, and straight from Debian's
/// libopenblas (LAPACKE/CBLAS entry points) when that is installed, all in one run (medians, milliseconds).
/// </summary>
public static unsafe class DenseAlgebraBench
{
    private const int LapackRowMajor = 101;
    private const int Columns = 12;

    public static int Run(string[] args)
    {
        var dims = args.Length > 0 ? args.Select(int.Parse).ToArray() : new[] { 100, 400, 1000 };
        Console.WriteLine($"{Environment.ProcessorCount} cores; load average {LoadAverage()}");
        string provider;
        bool mathNetNative;
        try
        {
            mathNetNative = MathNet.Numerics.Control.TryUseNativeOpenBLAS();
            provider = MathNet.Numerics.Providers.LinearAlgebra.LinearAlgebraControl.Provider.ToString() ?? "?";
        }
        catch (Exception e) { mathNetNative = false; provider = e.Message; }
        Console.WriteLine($"MathNet OpenBLAS provider: {(mathNetNative ? "loaded" : "not loaded")} ({provider})");
        MathNet.Numerics.Control.UseManaged();
        var native = OpenBlas.TryLoad(out string why);
        Console.WriteLine($"libopenblas (direct): {(native is null ? "not loaded: " + why : "loaded, " + native.Config)}");
        Console.WriteLine();
        Console.WriteLine($"{"d",5} {"operation",-34} {"managed ms",11} {"MathNet+OpenBLAS",17} {"OpenBLAS direct",16}");
        foreach (int d in dims)
        {
            var rng = new Rng((ulong)d);
            var g = new double[2 * d * d];
            rng.FillNormal(g);
            var h = new double[d * d];
            BlockedSyrk.Upper(g, 2 * d, d, Enumerable.Repeat(1.0, 2 * d).ToArray(), h);
            for (int i = 0; i < d; i++) { h[i * d + i] += 1; for (int j = 0; j < i; j++) h[i * d + j] = h[j * d + i]; }
            int m = 4 * d;
            var sketch = new double[m * d];
            rng.FillNormal(sketch);
            var r = HouseholderQr.PackedR(sketch, m, d);
            int reps = d >= 1000 ? 5 : 11;

            Row(d, "Cholesky, blocked, 2 threads", Ms(() => BlockedCholesky.Factor((double[])h.Clone(), d, Environment.ProcessorCount), reps),
                mathNetNative ? Ms(() => Matrix<double>.Build.DenseOfRowMajor(d, d, h).Cholesky(), reps) : double.NaN,
                native is null ? double.NaN : Ms(() => native.Potrf((double[])h.Clone(), d), reps));
            Row(d, "Cholesky, unblocked (before)", Ms(() => DenseAlgebra.TryCholesky((double[])h.Clone(), d), reps), double.NaN, double.NaN);
            Row(d, "symmetric eigen-decomposition", Ms(() => Matrix<double>.Build.DenseOfRowMajor(d, d, h).Evd(Symmetricity.Symmetric), Math.Min(reps, 3)),
                mathNetNative ? Ms(() => Matrix<double>.Build.DenseOfRowMajor(d, d, h).Evd(Symmetricity.Symmetric), reps) : double.NaN,
                native is null ? double.NaN : Ms(() => native.Syevd((double[])h.Clone(), d), reps));
            Row(d, "eigen-decomposition with vectors (SymmetricEigen)", Ms(() => SymmetricEigen.Of(h, d, managed: true), Math.Min(reps, 3)),
                double.NaN, NativeBlas.Available ? Ms(() => SymmetricEigen.Of(h, d), reps) : double.NaN);
            Row(d, $"R of a {m}×{d} sketch, blocked", Ms(() => HouseholderQr.PackedR(sketch, m, d), reps),
                mathNetNative ? Ms(() => Matrix<double>.Build.DenseOfRowMajor(m, d, sketch).QR(MathNet.Numerics.LinearAlgebra.Factorization.QRMethod.Thin), reps) : double.NaN,
                native is null ? double.NaN : Ms(() => native.Geqrf((double[])sketch.Clone(), m, d), reps));
            var rowsW = Enumerable.Repeat(0.5, m).ToArray();
            var c = new double[d * d];
            Row(d, $"SYRK of {m}×{d} rows, blocked", Ms(() => BlockedSyrk.Upper(sketch, m, d, rowsW, c), reps), double.NaN, double.NaN);
            Row(d, $"SYRK of {m}×{d} rows, four-row (before)", Ms(() => DenseKernels.SyrkUpper(sketch, m, d, rowsW, c), reps), double.NaN, double.NaN);
            Row(d, $"R of a {m}×{d} sketch, unblocked (before)", Ms(() => DenseAlgebra.QrR(sketch, m, d), Math.Min(reps, 3)), double.NaN, double.NaN);
            Row(d, "TSQR merge of two triangles", Ms(() => HouseholderQr.MergePacked(r, r, d), reps), double.NaN, double.NaN);
            var full = Packed.ToSymmetric(r, d);
            for (int i = 0; i < d; i++) for (int j = 0; j < i; j++) full[i * d + j] = 0;
            var b = new double[d * Columns];
            rng.FillNormal(b);
            Row(d, $"triangular solve R⁻¹G, k = {Columns}", Ms(() => DistSoftmax.Core.Sketching.LeverageProjection.FromTriangle(r, d, Columns, new Rng(1)), reps),
                mathNetNative ? Ms(() => Matrix<double>.Build.DenseOfRowMajor(d, d, full).Solve(Matrix<double>.Build.DenseOfRowMajor(d, Columns, b)), reps) : double.NaN,
                native is null ? double.NaN : Ms(() => native.Trsm(full, d, (double[])b.Clone(), Columns), reps));
        }
        return 0;
    }

    private static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; } catch { return "?"; }
    }

    private static double Ms(Action action, int repeats) => 1e3 * Timing.Median(action, repeats, 1);

    private static void Row(int d, string what, double managed, double mathNet, double direct) =>
        Console.WriteLine($"{d,5} {what,-34} {Cell(managed),11} {Cell(mathNet),17} {Cell(direct),16}");

    private static string Cell(double ms) => double.IsNaN(ms) ? "–" : ms.ToString("F1");

    /// <summary>
    /// The few LAPACK (Fortran, column-major) and CBLAS entry points of libopenblas.so.0, bound at run time (absent
    /// library: null). A symmetric row-major matrix is its own column-major transpose, so potrf/syevd take it as it is
    /// (with the other triangle named); geqrf gets the sketch transposed into column-major inside the timing.
    /// </summary>
    private sealed class OpenBlas
    {
        private readonly delegate* unmanaged<byte*, int*, double*, int*, int*, void> _potrf;
        private readonly delegate* unmanaged<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, void> _syevd;
        private readonly delegate* unmanaged<int*, int*, double*, int*, double*, double*, int*, int*, void> _geqrf;
        private readonly delegate* unmanaged<int, int, int, int, int, int, int, double, double*, int, double*, int, void> _trsm;
        public string Config { get; }

        private OpenBlas(IntPtr lib)
        {
            _potrf = (delegate* unmanaged<byte*, int*, double*, int*, int*, void>)NativeLibrary.GetExport(lib, "dpotrf_");
            _syevd = (delegate* unmanaged<byte*, byte*, int*, double*, int*, double*, double*, int*, int*, int*, int*, void>)NativeLibrary.GetExport(lib, "dsyevd_");
            _geqrf = (delegate* unmanaged<int*, int*, double*, int*, double*, double*, int*, int*, void>)NativeLibrary.GetExport(lib, "dgeqrf_");
            _trsm = (delegate* unmanaged<int, int, int, int, int, int, int, double, double*, int, double*, int, void>)NativeLibrary.GetExport(lib, "cblas_dtrsm");
            var config = (delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(lib, "openblas_get_config");
            Config = Marshal.PtrToStringAnsi(config()) ?? "";
        }

        public static OpenBlas? TryLoad(out string why)
        {
            foreach (var name in new[] { "libopenblas.so.0", "libopenblas.so" })
                if (NativeLibrary.TryLoad(name, out var lib))
                {
                    try { why = ""; return new OpenBlas(lib); }
                    catch (Exception e) { why = e.Message; return null; }
                }
            why = "libopenblas.so.0 not found (apt-get install libopenblas0)";
            return null;
        }

        public void Potrf(double[] a, int d)
        {
            byte uplo = (byte)'U';
            int n = d, info = 0;
            fixed (double* p = a) _potrf(&uplo, &n, p, &n, &info);
            Check(info);
        }

        public void Syevd(double[] a, int d)
        {
            byte jobz = (byte)'V', uplo = (byte)'U';
            int n = d, info = 0, lwork = 1 + 6 * d + 2 * d * d, liwork = 3 + 5 * d;
            var w = new double[d]; var work = new double[lwork]; var iwork = new int[liwork];
            fixed (double* p = a) fixed (double* pw = w) fixed (double* pk = work) fixed (int* pi = iwork)
                _syevd(&jobz, &uplo, &n, p, &n, pw, pk, &lwork, pi, &liwork, &info);
            Check(info);
        }

        public void Geqrf(double[] rowMajor, int m, int d)
        {
            var a = new double[m * d];
            for (int i = 0; i < m; i++) for (int j = 0; j < d; j++) a[j * m + i] = rowMajor[i * d + j];
            int mm = m, n = d, info = 0, lwork = d * 64;
            var tau = new double[d]; var work = new double[lwork];
            fixed (double* p = a) fixed (double* pt = tau) fixed (double* pk = work) _geqrf(&mm, &n, p, &mm, pt, pk, &lwork, &info);
            Check(info);
        }

        /// <summary>B ← R⁻¹B for upper R (d×d) and B (d×k), row-major.</summary>
        public void Trsm(double[] r, int d, double[] b, int k)
        {
            const int rowMajor = 101, left = 141, upper = 121, noTrans = 111, nonUnit = 131;
            fixed (double* pr = r) fixed (double* pb = b) _trsm(rowMajor, left, upper, noTrans, nonUnit, d, k, 1.0, pr, d, pb, k);
        }

        private static void Check(int info)
        {
            if (info != 0) throw new InvalidOperationException($"LAPACK returned info = {info}");
        }
    }
}
