using System.Diagnostics;
using System.Numerics.Tensors;
namespace DistSoftmax.Benchmarks;
public static class Probe
{
    public static void Run()
    {
        var inst = new BenchmarkInstance();
        int n = inst.N, d = inst.D;
        var x = new double[d]; x[0] = 0.1;
        var z = new double[n];
        var data = inst.A.Data;
        for (int rep = 0; rep < 3; rep++)
        {
            var sw = Stopwatch.StartNew();
            inst.StreamingRead();
            double tr = sw.Elapsed.TotalMilliseconds; sw.Restart();
            for (int i = 0; i < n; i++) z[i] = TensorPrimitives.Dot(new ReadOnlySpan<double>(data, i * d, d), x);
            double t1 = sw.Elapsed.TotalMilliseconds; sw.Restart();
            Parallel.For(0, 2, k => { int s = k * n / 2, e = (k + 1) * n / 2; for (int i = s; i < e; i++) z[i] = TensorPrimitives.Dot(new ReadOnlySpan<double>(data, i * d, d), x); });
            double t2 = sw.Elapsed.TotalMilliseconds; sw.Restart();
            var acc = new double[d];
            for (int i = 0; i < n; i++) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<double>(data, i * d, d), z[i], acc, acc);
            double t3 = sw.Elapsed.TotalMilliseconds; sw.Restart();
            for (int i = 0; i < n; i++) z[i] = Math.Exp(z[i]);
            double t4 = sw.Elapsed.TotalMilliseconds;
            Console.WriteLine($"read {tr:F1} ms; dot-seq {t1:F1}; dot-par2 {t2:F1}; axpy-seq {t3:F1}; exp {t4:F1}");
        }
    }
}
