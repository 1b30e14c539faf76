using System.Diagnostics;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Statistics;
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
        var shard = inst.Shards(1)[0];
        var obj = inst.Objective;
        for (int rep = 0; rep < 3; rep++)
        {
            var sw = Stopwatch.StartNew();
            inst.StreamingRead();
            double tr = sw.Elapsed.TotalMilliseconds; sw.Restart();
            DenseKernels.Gemv(data, n, d, x, z);
            double t1 = sw.Elapsed.TotalMilliseconds; sw.Restart();
            var acc = new double[d];
            DenseKernels.GemvTransposed(data, n, d, z, acc);
            double t2 = sw.Elapsed.TotalMilliseconds; sw.Restart();
            x[1] += 1e-3;
            var xs = (double[])x.Clone();
            var sc = (ScalarsReply)shard.Evaluate(new ScalarsRequest(xs));
            double t3 = sw.Elapsed.TotalMilliseconds; sw.Restart();
            var pt = obj.Evaluate(xs, sc);
            shard.Evaluate(new GradientRequest(xs, pt.Globals, HessianKind.Exact, false));
            double t4 = sw.Elapsed.TotalMilliseconds; sw.Restart();
            shard.Evaluate(new GradientRequest(xs, pt.Globals, HessianKind.Exact, false));
            double t5 = sw.Elapsed.TotalMilliseconds; sw.Restart();
            shard.Evaluate(new GradientRequest(xs, pt.Globals, HessianKind.Exact, true));
            double t6 = sw.Elapsed.TotalMilliseconds; sw.Restart();
            shard.Evaluate(new GradientRequest(xs, pt.Globals, HessianKind.Exact, true, 800, 5));
            double t7 = sw.Elapsed.TotalMilliseconds; sw.Restart();
            Console.WriteLine($"read {tr:F1} ms; gemv-seq {t1:F1}; gemvT-seq {t2:F1}; scalars {t3:F1}; grad(terms) {t4:F1}; grad(cached) {t5:F1}; +lowrank {t6:F1}; +sketch {t7:F1}");
        }
    }
}
