using System.Diagnostics;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Sketching;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// Where an approximate-Newton iteration spends its time on the benchmark instance: every shard pass and every
/// coordinator-side step timed on its own (medians), as ratios to the streaming read measured in the same run.
/// A quick profile for kernel work; the BenchmarkDotNet KernelBenchmarks remain the reference figures.
/// Usage: passes [n] [d].
/// </summary>
public static class PassBreakdown
{
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 200_000;
        int d = args.Length > 1 ? int.Parse(args[1]) : 100;
        var inst = new BenchmarkInstance(n, d);
        var shard = inst.Shards(1)[0];
        var options = new SolverOptions();
        int at = args.Length > 2 ? int.Parse(args[2]) : 8;
        var x = inst.ApproximateNewtonIterate(at);
        int tick = 0;
        double[] Fresh() { var y = (double[])x.Clone(); y[0] += 1e-9 * ++tick; return y; }
        var point = inst.Objective.Evaluate(x, (ScalarsReply)shard.Evaluate(new ScalarsRequest(x)));
        // The sketch is off by default since the twelfth session (SketchRowsPerColumn = 0); its rows are timed as
        // `--sketch-factor 4` would ask for them, and its R gives this profile's leverage estimates.
        const int ProfiledSketchFactor = 4;
        int m = Math.Max(options.SketchRowsPerColumn, ProfiledSketchFactor) * d, k = options.ProjectionColumnsFor(n);
        var sketch = ((GradientReply)shard.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, true, m, 7))).Sketch;
        var triangle = ((GradientReply)shard.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, true, m, 7, SketchForm.Triangle))).Sketch;
        var (projT, total) = LeverageProjection.FromTriangle(triangle, d, k, new Rng(8));
        var gram = (GramReply)shard.Evaluate(new SampledGramRequest(x, point.Globals, HessianKind.Exact, projT, k, total, options.SampleSize(d), 9));
        var h = Packed.ToSymmetric(gram.PackedUpper, d);
        for (int i = 0; i < d; i++) h[i * d + i] += 1e-12;

        double read = Timing.Median(() => inst.StreamingRead());
        void Row(string what, double seconds) => Console.WriteLine($"  {what,-58} {seconds * 1e3,8:F2} ms  {seconds / read,6:F2}×");
        Console.WriteLine($"n={n} d={d} m={m} k={k} s={options.SampleSize(d)} (kept {gram.RowsUsed} rows) at the iterate after {at} iterations; 512-bit kernels: {DenseKernels.Wide}");
        Row("streaming read of A (baseline)", read);
        var blocks = Core.Shards.RowBlocks.For(n);
        var zAll = new double[n];
        Row("kernel: z = Ax (GEMV)", Timing.Median(() => blocks.Run(Core.Shards.ShardComputeOptions.Default, b =>
        {
            var (s0, e0) = blocks[b];
            DenseKernels.Gemv(inst.A.Data.AsSpan(s0 * d, (e0 - s0) * d), e0 - s0, d, x, zAll.AsSpan(s0, e0 - s0));
        })));
        var accs = new double[blocks.BlockCount][];
        for (int b = 0; b < accs.Length; b++) accs[b] = new double[d];
        Row("kernel: Aᵀv (GEMVᵀ)", Timing.Median(() => blocks.Run(Core.Shards.ShardComputeOptions.Default, b =>
        {
            var (s0, e0) = blocks[b];
            DenseKernels.GemvTransposed(inst.A.Data.AsSpan(s0 * d, (e0 - s0) * d), e0 - s0, d, zAll.AsSpan(s0, e0 - s0), accs[b]);
        })));
        var panels = new ProjectionPanels(projT, k, d);
        Row($"kernel: Σ_c (a_iᵀy_c)², k = {k} (GEMM)", Timing.Median(() => blocks.Run(Core.Shards.ShardComputeOptions.Default, b =>
        {
            var (s0, e0) = blocks[b];
            DenseKernels.ProjectedSquaredNorms(inst.A.Data.AsSpan(s0 * d, (e0 - s0) * d), e0 - s0, d, panels, zAll.AsSpan(s0, e0 - s0));
        })));
        var bucketOf = new int[n];
        var weightOf = new double[n];
        for (int i = 0; i < n; i++) { ulong hash = Rng.Hash((ulong)i); bucketOf[i] = (int)Math.BigMul(hash, (ulong)m, out _); weightOf[i] = (hash & 1) == 0 ? 1 : -1; }
        var sketches = new double[blocks.BlockCount][];
        for (int b = 0; b < sketches.Length; b++) sketches[b] = new double[m * d];
        Row($"kernel: CountSketch scatter into {m} buckets", Timing.Median(() => blocks.Run(Core.Shards.ShardComputeOptions.Default, b =>
        {
            var (s0, e0) = blocks[b];
            DenseKernels.ScatterRows(inst.A.Data.AsSpan(s0 * d, (e0 - s0) * d), e0 - s0, d, bucketOf.AsSpan(s0, e0 - s0), weightOf.AsSpan(s0, e0 - s0), sketches[b]);
        })));
        Row("loss: z = Ax + phase-1 sums", Timing.Median(() => shard.Evaluate(new ScalarsRequest(Fresh()))));
        Row("loss with reference (line-search trial)", Timing.Median(() => shard.Evaluate(new ScalarsRequest(Fresh(), point.Globals))));
        Row("loss + gradient, one pass", Timing.Median(() => shard.Evaluate(new ScalarsRequest(Fresh(), point.Globals, true))));
        Row("approx-Newton trial: loss + gradient + low-rank + sketch", Timing.Median(() => shard.Evaluate(new ScalarsRequest(Fresh(), point.Globals, true, m, 7, HessianKind.Exact))));
        Row("  … and the sketch's R (as the solver asks)", Timing.Median(() => shard.Evaluate(new ScalarsRequest(Fresh(), point.Globals, true, m, 7, HessianKind.Exact, SketchForm.Triangle))));
        // The phase-2 passes at a cached z and terms: the cost of the pass itself.
        shard.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, false));
        Row("gradient pass (cached z)", Timing.Median(() => shard.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, false))));
        var direction = (double[])x.Clone();
        Row("Hessian-vector product (Av and Aᵀ(D∘Av), one read of A)", Timing.Median(() => shard.Evaluate(new HessianVectorRequest(x, point.Globals, HessianKind.Exact, direction))));
        Row("gradient + low-rank pass", Timing.Median(() => shard.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, true))));
        Row("gradient + low-rank + CountSketch pass", Timing.Median(() => shard.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, true, m, 7))));
        Row("leverage scores + sampled SYRK pass, new point (row terms too)", Timing.MedianTimed(() =>
        {
            var y = Fresh();
            shard.Evaluate(new ScalarsRequest(y));
            var sw = Stopwatch.StartNew();
            shard.Evaluate(new SampledGramRequest(y, point.Globals, HessianKind.Exact, projT, k, total, options.SampleSize(d), 9));
            return sw.Elapsed.TotalSeconds;
        }));
        Row("leverage scores + sampled SYRK pass", Timing.Median(() => shard.Evaluate(new SampledGramRequest(x, point.Globals, HessianKind.Exact, projT, k, total, options.SampleSize(d), 9))));
        Row("sampled SYRK pass only (uniform sampling)", Timing.Median(() => shard.Evaluate(new SampledGramRequest(x, point.Globals, HessianKind.Exact, Array.Empty<double>(), 0, n, options.SampleSize(d), 9, true))));
        Row("shard: Householder R of its sketch", Timing.Median(() => HouseholderQr.PackedR(sketch, m, d)));
        Row("coordinator: TSQR merge of two shards' R", Timing.Median(() => HouseholderQr.MergePacked(triangle, triangle, d)));
        Row("coordinator: Y = R⁻¹G", Timing.Median(() => LeverageProjection.FromTriangle(triangle, d, k, new Rng(8))));
        Row("coordinator: solve H p = −g", Timing.Median(() => DenseAlgebra.SolveModified(h, d, x)));
        return 0;
    }
}
