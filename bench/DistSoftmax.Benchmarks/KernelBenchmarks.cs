using BenchmarkDotNet.Attributes;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sketching;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// The per-pass targets on one dense 200000×100 shard, as ratios to a streaming read of the same array
/// measured in the same run (the Baseline):
///   - a gradient evaluation, two passes (phase-1 sums, then Aᵀg) and one pass (against the previous iterate's
///     normaliser, as every line-search trial computes it);
///   - one approximate-Newton iteration exactly as the solver runs one whose first trial is accepted: the trial's
///     single pass (loss, gradient, low-rank vectors and the next CountSketch), R and the projection on the
///     coordinator, the leverage-sampling pass, and the solve of the d×d Newton system.
/// The point is the solver's own iterate after 8 iterations from x0 = 0 (the reference is the one after 7), where the
/// row curvatures have the spread of a real solve; every call perturbs x so no shard cache answers for free.
/// </summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private BenchmarkInstance _instance = null!;
    private VectorShard _shard = null!;
    private double[] _x = null!;
    private PointEvaluation _previous = null!;
    private readonly SolverOptions _options = new();
    private int _tick;

    [GlobalSetup]
    public void Setup()
    {
        _instance = new BenchmarkInstance();
        _shard = _instance.Shards(1)[0];
        var before = _instance.ApproximateNewtonIterate(7);
        _x = _instance.ApproximateNewtonIterate(8);
        _previous = _instance.Objective.Evaluate(before, (ScalarsReply)_shard.Evaluate(new ScalarsRequest(before)));
    }

    /// <summary>A fresh x every call so no cache in the shard answers for free.</summary>
    private double[] NextX()
    {
        var x = (double[])_x.Clone();
        x[0] += 1e-12 * ++_tick;
        return x;
    }

    [Benchmark(Baseline = true, Description = "streaming read of A")]
    public double StreamingRead() => _instance.StreamingRead();

    [Benchmark(Description = "gradient evaluation, two passes (phase-1 sums, then ∇L)")]
    public double[] GradientEvaluation()
    {
        var x = NextX();
        var point = _instance.Objective.Evaluate(x, (ScalarsReply)_shard.Evaluate(new ScalarsRequest(x)));
        return ((GradientReply)_shard.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, false))).Gradient;
    }

    [Benchmark(Description = "gradient evaluation, one pass (loss + ∇L against the previous iterate's normaliser)")]
    public double[] FusedGradientEvaluation()
    {
        var x = NextX();
        var reply = (ScalarsReply)_shard.Evaluate(new ScalarsRequest(x, _previous.Globals, WithGradient: true));
        var point = _instance.Objective.Evaluate(x, reply, _previous.Globals);
        return _instance.Objective.FusedGradient(point, reply, _previous.Globals)!;
    }

    [Benchmark(Description = "approximate-Newton iteration (trial pass + leverage pass + d×d work)")]
    public double[] ApproximateNewtonIteration()
    {
        var objective = _instance.Objective;
        int d = _instance.D, m = _options.SketchRowsPerColumn * d, k = _options.ProjectionColumnsFor(_instance.N);
        const HessianKind kind = HessianKind.Exact;
        // The accepted trial: loss, gradient, low-rank vectors and the sketch's R (the shard's QR) in one pass.
        var x = NextX();
        var reply = (ScalarsReply)_shard.Evaluate(new ScalarsRequest(x, _previous.Globals, true, m, 7, kind, SketchForm.Triangle));
        var point = objective.Evaluate(x, reply, _previous.Globals);
        var gradient = objective.FusedGradient(point, reply, _previous.Globals)!;
        var lowRank = objective.FusedLowRank(point, reply, _previous.Globals, kind)!;
        // The direction: Y = R⁻¹G on the coordinator, the leverage-sampling pass, the modified Newton solve.
        var (projT, total) = LeverageProjection.FromTriangle(reply.Sketch, d, k, new Rng(8));
        var gram = (GramReply)_shard.Evaluate(new SampledGramRequest(x, point.Globals, kind, projT, k, total, _options.SampleSize(d), 9));
        var h = DistSoftmax.Core.Solvers.Curvature.DenseCurvature.Assemble(gram.PackedUpper, d, lowRank, objective.LowRankCoefficients(point.Globals, kind));
        var negated = new double[d];
        for (int j = 0; j < d; j++) negated[j] = -gradient[j];
        return DenseAlgebra.SolveModified(h, d, negated).Solution;
    }
}
