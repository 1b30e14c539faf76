using System.Text.Json;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// The weighted Gram Aᵀ diag(w) A of a vector shard (weights of both signs, as the exact Hessian's D has), one row
/// block per core as the shards split them: <see cref="WeightedSyrk.Upper"/> (OpenBLAS's dsyrk where installed)
/// against <see cref="WeightedSyrk.Managed"/> (the blocked managed kernel), same data, same run, alternated.
/// GFLOP/s count rows·d² flops (half of d² multiply-adds per row). Prints one JSON line.
/// Usage: syrk ROWS D [REPEATS]
/// </summary>
public static class SyrkShapes
{
    public static int Run(string[] args)
    {
        int rows = int.Parse(args[0]), d = int.Parse(args[1]);
        int repeats = args.Length > 2 ? int.Parse(args[2]) : 5;
        var rng = new Rng(1);
        var a = new double[(long)rows * d]; rng.FillNormal(a, 1.0);
        var w = new double[rows]; rng.FillNormal(w, 1.0);
        int blocks = Environment.ProcessorCount;
        var c = Enumerable.Range(0, blocks).Select(_ => new double[d * d]).ToArray();
        void RowBlocks(Action<ReadOnlySpan<double>, int, ReadOnlySpan<double>, double[]> gram) => Parallel.For(0, blocks, k =>
        {
            int s = (int)((long)rows * k / blocks), e = (int)((long)rows * (k + 1) / blocks);
            Array.Clear(c[k]);
            gram(a.AsSpan(s * d, (e - s) * d), e - s, w.AsSpan(s, e - s), c[k]);
        });
        var kernels = new (string Name, Action Run)[]
        {
            ("managed", () => RowBlocks((blk, r, wb, ck) => WeightedSyrk.Managed(blk, r, d, wb, ck))),
            ("chosen", () => RowBlocks((blk, r, wb, ck) => WeightedSyrk.Upper(blk, r, d, wb, ck))),
        };
        var seconds = kernels.ToDictionary(k => k.Name, _ => new List<double>());
        foreach (var (_, run) in kernels) run();
        for (int r = 0; r < repeats; r++)
            foreach (var (name, run) in kernels)
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                run();
                seconds[name].Add(sw.Elapsed.TotalSeconds);
            }
        double flops = (double)rows * d * d;
        var result = seconds.ToDictionary(p => p.Key, p =>
        {
            double median = p.Value.Order().ElementAt(p.Value.Count / 2);
            return new { seconds = median, gflops = flops / median / 1e9 };
        });
        Console.WriteLine(JsonSerializer.Serialize(new { rows, d, threads = blocks, native = NativeBlas.SyrkAvailable, kernels = result }));
        return 0;
    }
}
