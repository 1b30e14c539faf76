using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// Anchored passes (ScalarsRequest.Anchored, MatrixShard.AnchoredScalars): a shard's loss and ∇L at x from its values and
/// gradient at an earlier x_a against the full pass in double, along a chain of anchors; the products that follow; the
/// full pass wherever the shard holds no anchor; and a solve that uses them.
/// </summary>
public class AnchoredPassTests
{
    private const int N = 256, D = 6;

    private static MatrixProblem Problem() => MatrixTestProblems.Random(Families.MultipleNormalized, N, D, false, 91);

    private static IShard Shard(MatrixProblem p) => p.Shard(new RowRange(0, N), ShardComputeOptions.Sequential);

    private static ScalarsReply Pass(IShard shard, double[] x, bool anchored = false, bool single = false) =>
        (ScalarsReply)shard.Evaluate(new ScalarsRequest(x, WithGradient: true, SinglePrecision: single, Anchored: anchored));

    /// <summary>x + scale·‖x‖·u for a fixed random direction u of unit norm.</summary>
    private static double[] Moved(double[] x, double scale, ulong seed)
    {
        var u = MatrixTestProblems.RandomX(D, seed);
        SpanMath.Multiply(u, scale * SpanMath.Norm(x) / SpanMath.Norm(u), u);
        var moved = new double[x.Length];
        SpanMath.Add(x, u, moved);
        return moved;
    }

    private static double Distance(double[] a, double[] b)
    {
        var difference = new double[a.Length];
        SpanMath.Subtract(a, b, difference);
        return SpanMath.Norm(difference);
    }

    [Fact]
    public void Along_a_chain_of_anchors_the_pass_is_the_full_pass_to_the_rounding_of_the_change()
    {
        var p = Problem();
        var anchored = Shard(p);
        var x = MatrixTestProblems.RandomX(D, 92, 0.5);
        var previous = Pass(anchored, x);   // a full pass in double: the first anchor
        double chain = 0;                    // Σ‖∇L(x_a) − ∇L(x)‖ along the chain: each link's rounding stays in its anchor
        foreach (double scale in new[] { 1e-2, 1e-3, 1e-5 })
        {
            var next = Moved(x, scale, 93 + (ulong)(scale * 1e6));
            var reply = Pass(anchored, next, anchored: true);
            var full = Pass(Shard(p), next);
            double change = chain += Distance(full.GradientBasis, previous.GradientBasis);
            double loss = full.Family.Sums[0];
            Assert.True(Math.Abs(reply.Family.Sums[0] - loss) <= 1e-9 * loss, $"step {scale}: loss {reply.Family.Sums[0]:R} against {loss:R}");
            double error = Distance(reply.GradientBasis, full.GradientBasis);
            Assert.True(error <= 10 * Solver.AnchoredPassErrorRatio * change,
                $"step {scale}: ∇L off by {error:E3}, the changes of ∇L along the chain {change:E3}");
            if (MatrixProducts.SingleAvailable)
                Assert.NotEqual(full.GradientBasis, reply.GradientBasis);   // it was answered from the anchor
            (x, previous) = (next, full);
        }
        // The single-precision products at the anchored pass's x: those after a full pass, to their own rounding.
        var v = MatrixTestProblems.RandomX(D, 97);
        var request = new HessianVectorRequest(x, Array.Empty<double>(), HessianKind.Exact, v, SinglePrecision: true);
        var afterAnchored = ((HessianVectorReply)anchored.Evaluate(request)).Product;
        var fresh = Shard(p);
        Pass(fresh, x);
        var afterFull = ((HessianVectorReply)fresh.Evaluate(request)).Product;
        Assert.True(Distance(afterAnchored, afterFull) <= 1e-5 * SpanMath.Norm(afterFull), "the products after the anchored pass differ");
    }

    [Fact]
    public void Without_an_anchor_in_double_the_pass_is_the_full_pass()
    {
        var p = Problem();
        var x = MatrixTestProblems.RandomX(D, 94, 0.5);
        var near = Moved(x, 1e-3, 95);
        var full = Pass(Shard(p), near);
        // A fresh shard has no anchor.
        var fresh = Pass(Shard(p), near, anchored: true);
        Assert.Equal(full.GradientBasis, fresh.GradientBasis);
        Assert.Equal(full.Family.Sums[0], fresh.Family.Sums[0]);
        // After a single-precision pass the cache holds values from M in single precision: no anchor either.
        var shard = Shard(p);
        Pass(shard, x, single: true);
        var afterSingle = Pass(shard, near, anchored: true);
        Assert.Equal(full.GradientBasis, afterSingle.GradientBasis);
        Assert.Equal(full.Family.Sums[0], afterSingle.Family.Sums[0]);
    }

    [Fact]
    public void A_solve_anchors_its_last_trials_and_converges_to_the_minimiser_of_full_passes()
    {
        var p = Problem();
        var options = new SolverOptions { LogLinearStart = true, RelativeTolerance = 1e-10 };
        var run = SolverCatalog.Create("approx-newton", options).Start(p.Objective, new double[D * D], options);
        var driver = MatrixTestProblems.Driver(p, 2);
        int anchoredTrials = 0;
        for (var request = run.Start(); request is not null; request = run.Submit(driver.Evaluate(request)))
            if (request is ScalarsRequest { Anchored: true }) anchoredTrials++;
        var result = run.Result!;
        Assert.True(result.Converged, result.Message);
        Assert.True(anchoredTrials >= 1, "no trial was anchored");
        // Its gradient, again by a full pass at its x, is still within the tolerance.
        var gradient = MatrixTestProblems.Gradient(MatrixTestProblems.Driver(p, 1), p.Objective, result.X);
        Assert.True(SpanMath.Norm(gradient) <= options.RelativeTolerance * result.InitialGradientNorm,
            $"‖∇L‖ = {SpanMath.Norm(gradient):E3} by a full pass, against {options.RelativeTolerance * result.InitialGradientNorm:E3}");
    }
}
