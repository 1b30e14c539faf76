using System.Runtime.InteropServices;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// A matrix shard's two n-wide products, one thread, in the shard's 128-row groups over n/2 rows (one of two shards):
/// the forward T·A2ᵀ (group×d times d×n) and the back-projection Y·A2 (group×n times n×d), in single and double
/// precision, on OpenBLAS (cblas_sgemm/dgemm of the installed libopenblas.so.0, one thread, with whatever kernels
/// OPENBLAS_CORETYPE or its own detection choose — printed) against <see cref="Avx512Gemm"/>. Medians of 7 after 2
/// warm-ups. Usage: gemm-kernels N D
/// </summary>
public static unsafe class GemmKernels
{
    private const int Group = 128;

    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 4096;
        int d = args.Length > 1 ? int.Parse(args[1]) : 64;
        int rows = n / 2;
        if (!NativeLibrary.TryLoad("libopenblas.so.0", out var handle))
        {
            Console.Error.WriteLine("gemm-kernels: libopenblas.so.0 is not installed (apt-get install libopenblas0)");
            return 2;
        }
        var dgemm = (delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void>)NativeLibrary.GetExport(handle, "cblas_dgemm");
        var sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)NativeLibrary.GetExport(handle, "cblas_sgemm");
        ((delegate* unmanaged<int, void>)NativeLibrary.GetExport(handle, "openblas_set_num_threads"))(1);
        string core = NativeLibrary.TryGetExport(handle, "openblas_get_corename", out var corename)
            ? Marshal.PtrToStringAnsi((nint)((delegate* unmanaged<byte*>)corename)()) ?? "?" : "?";
        Console.WriteLine($"n = {n}, d = {d}: {rows} rows in groups of {Group}, one thread; OpenBLAS kernels {core} " +
                          $"(OPENBLAS_CORETYPE={Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? "unset"}); AVX-512 kernel: {Avx512Gemm.Available}");
        var rng = new Rng(5);
        double[] Fill(long count) { var v = new double[count]; rng.FillNormal(v); return v; }
        var t = Fill((long)rows * d); var a2T = Fill((long)d * n); var a2 = MatrixProducts.Transpose(a2T, d, n); var y = Fill((long)rows * n);
        var m = new double[(long)rows * n]; var p = new double[(long)rows * d];
        float[] Single(double[] v) => v.Select(x => (float)x).ToArray();
        var tS = Single(t); var a2TS = Single(a2T); var a2S = Single(a2); var yS = Single(y);
        var mS = new float[m.Length]; var pS = new float[p.Length];
        double flops = 2.0 * rows * n * d;

        void Report(string what, Action blas, Action managed)
        {
            double b = Timing.Median(blas, 7, 2), k = Avx512Gemm.Available ? Timing.Median(managed, 7, 2) : double.NaN;
            Console.WriteLine($"  {what,-34} OpenBLAS {b * 1e3,7:F2} ms ({flops / b / 1e9,4:F0} GFLOP/s)   AVX-512 kernel {k * 1e3,7:F2} ms ({flops / k / 1e9,4:F0} GFLOP/s)   {b / k,5:F2}×");
        }
        Report("single, forward T·A2ᵀ", () =>
        {
            fixed (float* pt = tS) fixed (float* pb = a2TS) fixed (float* pc = mS)
                for (int g = 0; g < rows; g += Group) sgemm(101, 111, 111, Math.Min(Group, rows - g), n, d, 1f, pt + (long)g * d, d, pb, n, 0f, pc + (long)g * n, n);
        }, () =>
        {
            for (int g = 0; g < rows; g += Group)
                Avx512Gemm.Multiply(Math.Min(Group, rows - g), n, d, tS.AsSpan(g * d), d, a2TS, n, mS.AsSpan(g * n), n, false);
        });
        Report("single, back-projection Y·A2", () =>
        {
            fixed (float* pa = yS) fixed (float* pb = a2S) fixed (float* pc = pS)
                for (int g = 0; g < rows; g += Group) sgemm(101, 111, 111, Math.Min(Group, rows - g), d, n, 1f, pa + (long)g * n, n, pb, d, 0f, pc + (long)g * d, d);
        }, () =>
        {
            for (int g = 0; g < rows; g += Group)
                Avx512Gemm.Multiply(Math.Min(Group, rows - g), d, n, yS.AsSpan(g * n), n, a2S, d, pS.AsSpan(g * d), d, false);
        });
        Report("double, forward T·A2ᵀ", () =>
        {
            fixed (double* pt = t) fixed (double* pb = a2T) fixed (double* pc = m)
                for (int g = 0; g < rows; g += Group) dgemm(101, 111, 111, Math.Min(Group, rows - g), n, d, 1.0, pt + (long)g * d, d, pb, n, 0.0, pc + (long)g * n, n);
        }, () =>
        {
            for (int g = 0; g < rows; g += Group)
                Avx512Gemm.Multiply(Math.Min(Group, rows - g), n, d, t.AsSpan(g * d), d, a2T, n, m.AsSpan(g * n), n, false);
        });
        Report("double, back-projection Y·A2", () =>
        {
            fixed (double* pa = y) fixed (double* pb = a2) fixed (double* pc = p)
                for (int g = 0; g < rows; g += Group) dgemm(101, 111, 111, Math.Min(Group, rows - g), d, n, 1.0, pa + (long)g * n, n, pb, d, 0.0, pc + (long)g * d, d);
        }, () =>
        {
            for (int g = 0; g < rows; g += Group)
                Avx512Gemm.Multiply(Math.Min(Group, rows - g), d, n, y.AsSpan(g * n), n, a2, d, p.AsSpan(g * d), d, false);
        });
        return 0;
    }
}
