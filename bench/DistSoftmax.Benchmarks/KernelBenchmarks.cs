using BenchmarkDotNet.Attributes;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// The per-pass targets on one dense 200000×100 shard: a gradient evaluation (two passes: z = Ax with the
/// phase-1 sums, then Aᵀg; or one pass against the current iterate's normaliser, as line searches use it) and one
/// approximate-Newton iteration (gradient with low-rank vectors and sketch, leverage
/// sampling, one loss evaluation for a full step), both as ratios to a streaming read of the same array
/// measured in the same run (the Baseline).
/// </summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private BenchmarkInstance _instance = null!;
    private VectorShard _shard = null!;
    private double[] _x = null!;
    private PointEvaluation _point = null!;
    private int _tick;

    [GlobalSetup]
    public void Setup()
    {
        _instance = new BenchmarkInstance();
        _shard = _instance.Shards(1)[0];
        _x = new double[_instance.D];
        for (int j = 0; j < _x.Length; j++) _x[j] = 0.1 * Math.Sin(j);
        _point = Point(_x);
    }

    private PointEvaluation Point(double[] x) =>
        _instance.Objective.Evaluate(x, (ScalarsReply)_shard.Evaluate(new ScalarsRequest(x)));

    /// <summary>A fresh x every call so no cache in the shard answers for free.</summary>
    private double[] NextX()
    {
        var x = (double[])_x.Clone();
        x[0] += 1e-9 * ++_tick;
        return x;
    }

    [Benchmark(Baseline = true, Description = "streaming read of A")]
    public double StreamingRead() => _instance.StreamingRead();

    [Benchmark(Description = "gradient evaluation, two passes (phase-1 sums, then ∇L)")]
    public double[] GradientEvaluation()
    {
        var x = NextX();
        var point = Point(x);
        return ((GradientReply)_shard.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, false))).Gradient;
    }

    [Benchmark(Description = "gradient evaluation, one pass (loss + ∇L against the current iterate's normaliser)")]
    public double[] FusedGradientEvaluation()
    {
        var x = NextX();
        var reply = (ScalarsReply)_shard.Evaluate(new ScalarsRequest(x, _point.Globals, WithGradient: true));
        var point = _instance.Objective.Evaluate(x, reply, _point.Globals);
        return _instance.Objective.FusedGradient(point, reply, _point.Globals)!;
    }

    [Benchmark(Description = "approximate-Newton iteration")]
    public double[] ApproximateNewtonIteration()
    {
        var x = NextX();
        var point = Point(x);
        var options = new SolverOptions();
        int d = _instance.D;
        var grad = (GradientReply)_shard.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, true,
            options.SketchRowsPerColumn * d, 7));
        int k = options.ProjectionColumnsFor(_instance.N);
        var (projT, total) = Core.Sketching.LeverageProjection.FromSketch(grad.Sketch, d, k, new Core.Random.Rng(8));
        var gram = (GramReply)_shard.Evaluate(new SampledGramRequest(x, point.Globals, HessianKind.Exact, projT, k,
            total, options.SampleSize(d), 9));
        var h = Core.Kernels.Packed.ToSymmetric(gram.PackedUpper, d);
        for (int i = 0; i < d; i++) h[i * d + i] += 1e-12;
        var (p, _) = Core.Kernels.DenseAlgebra.SolveModified(h, d, grad.Gradient);
        var trial = new double[d];
        for (int j = 0; j < d; j++) trial[j] = x[j] - p[j];
        _shard.Evaluate(new ScalarsRequest(trial, point.Globals));
        return trial;
    }
}
