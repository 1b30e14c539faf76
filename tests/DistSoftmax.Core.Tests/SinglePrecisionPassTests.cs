using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// Single-precision loss-and-gradient passes of a matrix problem (ScalarsRequest.SinglePrecision, the requests at the
/// iterates they give, HessianVectorRequest/KroneckerFactorsRequest.SinglePassIterate, Solver.SinglePassGradientRatio):
/// close to the double pass; what a shard keeps from them read only by requests that ask for M formed the same way,
/// so a product's bits do not depend on which request ran first; and solves that use them early, reach the answer of
/// passes in double and never stop on a single-precision gradient.
/// </summary>
public class SinglePrecisionPassTests
{
    /// <summary>What a shard keeps between requests at the same x: the M cache, or single-precision values of its first rows.</summary>
    public enum Kept { M, SingleValues }

    private const int N = 300, D = 8;
    private static readonly double[] Globals = { 0 };

    private static MatrixShard ShardKeeping(MatrixProblem p, Kept kept) =>
        new(NormalizedSoftmax.Instance, p.A1, p.A2, p.B, p.W, 0, ShardComputeOptions.Sequential,
            maxCachedEntries: kept == Kept.M ? MatrixShard.MaxCachedEntries : 0,
            maxSingleValuesEntries: kept == Kept.SingleValues ? MatrixShard.MaxSingleValuesEntries : 0);

    private static (MatrixProblem P, double[] X, double[] V) Instance(ulong seed) =>
        (MatrixTestProblems.Random("multiple-normalized", N, D, false, seed), MatrixTestProblems.RandomX(D, seed + 1, 2.0),
            MatrixTestProblems.RandomX(D, seed + 2));

    private static ScalarsReply Pass(MatrixShard shard, double[] x, bool single) =>
        (ScalarsReply)shard.Evaluate(new ScalarsRequest(x, Globals, WithGradient: true, SinglePrecision: single));

    private static double[] Product(MatrixShard shard, double[] x, double[] v, HessianKind kind, bool single, bool singlePassIterate) =>
        ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x, Globals, kind, v, single, singlePassIterate))).Product;

    private static double[] Factors(MatrixShard shard, double[] x, bool singlePassIterate, double rowShare = 1.0) =>
        ((KroneckerFactorsReply)shard.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton, SinglePrecision: true,
            RowShare: rowShare, SampleSeed: 5, SinglePassIterate: singlePassIterate))).RightPacked;

    [Theory]
    [InlineData(Kept.M)]
    [InlineData(Kept.SingleValues)]
    public void A_single_precision_pass_is_within_single_precision_of_the_double_one(Kept kept)
    {
        if (!MatrixProducts.SingleAvailable) return;
        var (p, x, _) = Instance(1210);
        var inDouble = Pass(ShardKeeping(p, kept), x, single: false);
        var single = Pass(ShardKeeping(p, kept), x, single: true);
        double lossError = Math.Abs(single.Family.Sums[0] - inDouble.Family.Sums[0]) / Math.Abs(inDouble.Family.Sums[0]);
        double gradientError = Assertions.RelativeError(single.GradientBasis, inDouble.GradientBasis);
        // Not the double pass's bits (M and the gradient's back-projection are single precision), but within its rounding.
        Assert.True(lossError is > 0 and < 1e-6, $"loss off by {lossError:E2} (relative)");
        Assert.True(gradientError is > 0 and < 1e-5, $"gradient off by {gradientError:E2} (relative)");
        // The same bits whatever the thread count.
        var parallel = new MatrixShard(NormalizedSoftmax.Instance, p.A1, p.A2, p.B, p.W, 0, new ShardComputeOptions(4),
            maxCachedEntries: kept == Kept.M ? MatrixShard.MaxCachedEntries : 0);
        Assert.Equal(single.GradientBasis, Pass(parallel, x, single: true).GradientBasis);
    }

    [Fact]
    public void A_single_precision_pass_gives_the_same_bits_whatever_the_shard_keeps()
    {
        // With the cache M is widened into it and the values taken from the doubles; without it they come from sgemm's
        // floats themselves (a float widened and narrowed back is itself), on rows whose values are kept and on rows
        // that keep nothing alike.
        if (!MatrixProducts.SingleAvailable) return;
        var (p, x, _) = Instance(1212);
        var withCache = Pass(ShardKeeping(p, Kept.M), x, single: true);
        var keepingValues = ShardKeeping(p, Kept.SingleValues);
        Assert.InRange(keepingValues.SingleValuesRows, 1, N - 1);
        var keepingNothing = new MatrixShard(NormalizedSoftmax.Instance, p.A1, p.A2, p.B, p.W, 0, ShardComputeOptions.Sequential,
            maxCachedEntries: 0, maxSingleValuesEntries: 0);
        foreach (var shard in new[] { keepingValues, keepingNothing })
        {
            var pass = Pass(shard, x, single: true);
            Assert.Equal(withCache.Family.Sums[0], pass.Family.Sums[0]);
            Assert.Equal(withCache.GradientBasis, pass.GradientBasis);
        }
    }

    [Theory]
    [InlineData(Kept.M, HessianKind.GaussNewton)]
    [InlineData(Kept.M, HessianKind.Exact)]
    [InlineData(Kept.SingleValues, HessianKind.GaussNewton)]
    [InlineData(Kept.SingleValues, HessianKind.Exact)]
    public void Requests_at_a_single_pass_iterate_give_the_same_bits_whether_the_pass_ran_on_the_shard_or_not(Kept kept, HessianKind kind)
    {
        // A resumed solve's fresh shards meet the iterate's products and factors without its pass: they must form M in
        // single precision as the pass did, and answer bit for bit as the shard that ran it.
        if (!MatrixProducts.SingleAvailable) return;
        var (p, x, v) = Instance(1220);
        var afterPass = ShardKeeping(p, kept);
        Pass(afterPass, x, single: true);
        Assert.Equal(Product(ShardKeeping(p, kept), x, v, kind, single: true, singlePassIterate: true),
            Product(afterPass, x, v, kind, single: true, singlePassIterate: true));
        Assert.Equal(Factors(ShardKeeping(p, kept), x, singlePassIterate: true), Factors(afterPass, x, singlePassIterate: true));
        // Their values are those of M in single precision, not of M in double.
        Assert.NotEqual(Product(ShardKeeping(p, kept), x, v, kind, single: true, singlePassIterate: false),
            Product(afterPass, x, v, kind, single: true, singlePassIterate: true));
        // A sampled request reads the kept rows' values where the cache holds them, or forms them for those rows alone.
        Assert.Equal(Factors(ShardKeeping(p, kept), x, singlePassIterate: true, rowShare: 0.5),
            Factors(afterPass, x, singlePassIterate: true, rowShare: 0.5));
        // And a second product after the factors, reading what the first left.
        Assert.Equal(Product(ShardKeeping(p, kept), x, v, kind, single: true, singlePassIterate: true),
            Product(afterPass, x, v, kind, single: true, singlePassIterate: true));
    }

    [Theory]
    [InlineData(Kept.M)]
    [InlineData(Kept.SingleValues)]
    public void What_a_single_pass_leaves_is_read_only_by_requests_at_a_single_pass_iterate(Kept kept)
    {
        if (!MatrixProducts.SingleAvailable) return;
        var (p, x, v) = Instance(1230);
        var fresh = () => ShardKeeping(p, kept);
        // Double requests: a loss and gradient, a product, the factors — a fresh shard's bits.
        var shard = fresh();
        Pass(shard, x, single: true);
        var doublePass = Pass(shard, x, single: false);
        var freshPass = Pass(fresh(), x, single: false);
        Assert.Equal(freshPass.Family.Sums[0], doublePass.Family.Sums[0]);
        Assert.Equal(freshPass.GradientBasis, doublePass.GradientBasis);
        shard = fresh();
        Pass(shard, x, single: true);
        Assert.Equal(Product(fresh(), x, v, HessianKind.Exact, single: false, singlePassIterate: false),
            Product(shard, x, v, HessianKind.Exact, single: false, singlePassIterate: false));
        // Single-precision requests at an iterate of a pass in double: the values of M in double, not the single pass's.
        shard = fresh();
        Pass(shard, x, single: true);
        Assert.Equal(Product(fresh(), x, v, HessianKind.Exact, single: true, singlePassIterate: false),
            Product(shard, x, v, HessianKind.Exact, single: true, singlePassIterate: false));
        shard = fresh();
        Pass(shard, x, single: true);
        Assert.Equal(Factors(fresh(), x, singlePassIterate: false), Factors(shard, x, singlePassIterate: false));
        // And the other way round: after a pass in double, a single-pass iterate's product is formed afresh.
        shard = fresh();
        Pass(shard, x, single: false);
        Assert.Equal(Product(fresh(), x, v, HessianKind.Exact, single: true, singlePassIterate: true),
            Product(shard, x, v, HessianKind.Exact, single: true, singlePassIterate: true));
    }

    /// <summary>The shards of <paramref name="p"/> (two), recording the loss passes they answer.</summary>
    private sealed class RecordingShard(IShard inner, List<ScalarsRequest> passes) : IShard
    {
        public long RowOffset => inner.RowOffset;
        public int Rows => inner.Rows;

        public ShardReply Evaluate(ShardRequest request)
        {
            if (request is ScalarsRequest pass) lock (passes) passes.Add(pass);
            return inner.Evaluate(request);
        }
    }

    private static (SolverResult Result, List<ScalarsRequest> Passes) Solve(MatrixProblem p, SolverOptions options, string solver = "approx-newton")
    {
        var passes = new List<ScalarsRequest>();
        var shards = p.Shards(2).Select(s => (IShard)new RecordingShard(s, passes)).ToArray();
        var result = new InProcessDriver(shards).Solve(SolverCatalog.Create(solver, options), p.Objective, new double[p.Objective.Dimension], options);
        return (result, passes);
    }

    [Theory]
    [InlineData(GlobalizationMode.LineSearch)]
    [InlineData(GlobalizationMode.TrustRegion)]
    public void Approximate_Newton_takes_its_early_passes_in_single_precision_and_reaches_the_answer_of_passes_in_double(GlobalizationMode globalization)
    {
        if (!MatrixProducts.SingleAvailable) return;
        var p = MatrixTestProblems.Random("multiple-normalized", 400, D, false, 1240);   // noisy targets: a large residual
        var options = new SolverOptions { RelativeTolerance = 1e-10, Globalization = globalization };
        var (single, passes) = Solve(p, options);
        var (inDouble, doublePasses) = Solve(p, options with { SingleCgProducts = false });
        Assert.True(single.Converged, single.Message);
        Assert.True(inDouble.Converged, inDouble.Message);
        double difference = Assertions.RelativeError(single.X, inDouble.X);
        Assert.True(difference < 1e-7, $"x differs by {difference:E2} (relative)");
        Assert.DoesNotContain(doublePasses, r => r.SinglePrecision);
        // x0's pass and the trials from iterates with ‖∇L‖ ≥ 0.1·‖∇L(x0)‖ are single precision, then every pass is double:
        // the solve converges on a gradient from a pass in double.
        Assert.True(passes[0].SinglePrecision, "x0's pass is in double");
        Assert.True(passes.Any(r => r.SinglePrecision && !ReferenceEquals(r, passes[0])), "no trial in single precision");
        Assert.False(passes[^1].SinglePrecision, "the last pass (the converged iterate's) is single precision");
        int firstDouble = passes.FindIndex(r => !r.SinglePrecision);
        Assert.True(passes.Skip(firstDouble).All(r => !r.SinglePrecision), "a single pass after a double one");
    }

    [Fact]
    public void A_gradient_from_a_single_precision_pass_does_not_stop_the_solve()
    {
        // An absolute tolerance the start already meets: with passes in double the solve ends at iteration 0; x0's pass
        // in single precision must not end it — the next iterate's pass, in double, does.
        if (!MatrixProducts.SingleAvailable) return;
        var p = MatrixTestProblems.Random("multiple-normalized", 400, D, false, 1250);
        var (atStart, _) = Solve(p, new SolverOptions { AbsoluteTolerance = 1e3, SingleCgProducts = false });
        Assert.True(atStart.Converged, atStart.Message);
        Assert.Equal(0, atStart.Iterations);
        var (single, passes) = Solve(p, new SolverOptions { AbsoluteTolerance = 1e3 });
        Assert.True(single.Converged, single.Message);
        Assert.Equal(1, single.Iterations);
        Assert.True(passes[0].SinglePrecision);
        Assert.False(passes[^1].SinglePrecision);
        // Plain Newton-CG (no preconditioner) takes them too; first-order solvers never do.
        Assert.True(Solve(p, new SolverOptions { RelativeTolerance = 1e-6 }, "newton-cg").Passes[0].SinglePrecision);
        Assert.DoesNotContain(Solve(p, new SolverOptions { RelativeTolerance = 1e-6, MaxIterations = 30 }, "lbfgs").Passes, r => r.SinglePrecision);
    }
}
