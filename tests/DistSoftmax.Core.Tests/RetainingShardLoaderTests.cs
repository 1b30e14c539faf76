using DistSoftmax.Core.Analysis;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The solve command's post-solve analysis reuses the shards its in-process workers loaded
/// (<see cref="RetainingShardLoader"/>) instead of loading the rows a second time: the retained shards are the very
/// instances handed out, only for the same source and ranges, and the analysis on them, evaluated side by side as
/// workers evaluate, is the analysis on freshly loaded shards.
/// </summary>
public class RetainingShardLoaderTests
{
    private static (InMemoryShardLoader Inner, ProblemSource Source) Registered(int n, int d)
    {
        var inner = new InMemoryShardLoader();
        var a = TestProblem.Gaussian(n, d, 3);
        var b = TestProblem.Distribution(n, 4);
        var source = inner.RegisterVector("retained", NormalizedSoftmax.Instance, a, b, Regularizer.None);
        return (inner, source);
    }

    [Fact]
    public void The_shards_handed_out_are_the_ones_retained_for_the_same_source_and_ranges_only()
    {
        var (inner, source) = Registered(n: 90, d: 3);
        var retaining = new RetainingShardLoader(inner);
        var ranges = ShardLayout.Split(90, 3);
        var loaded = ranges.Select(r => retaining.Load(source, r, ShardComputeOptions.Sequential)).ToArray();

        var retained = retaining.TryRetained(source, ranges);
        Assert.NotNull(retained);
        Assert.True(loaded.Zip(retained!).All(p => ReferenceEquals(p.First, p.Second)), "the retained shards are other instances");
        // The same source described again (another record instance with equal parameters) finds them too.
        var again = ProblemSource.Create(source.Kind, source.Parameters.ToArray());
        Assert.NotNull(retaining.TryRetained(again, ranges));

        Assert.Null(retaining.TryRetained(source, ShardLayout.Split(90, 2)));             // another layout
        var other = ProblemSource.Create("memory", [KeyValuePair.Create("name", "other")]);
        Assert.Null(retaining.TryRetained(other, ranges));                                // another source
        retaining.Clear();
        Assert.Null(retaining.TryRetained(source, ranges));                               // released
    }

    [Fact]
    public void The_analysis_on_retained_shards_evaluated_side_by_side_equals_the_analysis_on_fresh_shards()
    {
        var (inner, source) = Registered(n: 5000, d: 6);
        var shape = inner.Describe(source);
        var ranges = ShardLayout.Split(shape.Rows, 2);
        var retaining = new RetainingShardLoader(inner);
        foreach (var r in ranges) retaining.Load(source, r, ShardComputeOptions.Sequential);
        var fresh = ranges.Select(r => inner.Load(source, r, ShardComputeOptions.Default)).ToArray();
        var x = TestProblem.Vector(6, 8, 0.5);
        var outputs = PostSolveOutputs.Fitted | PostSolveOutputs.Gradient | PostSolveOutputs.Hessian;

        var reused = PostSolveAnalysis.Run(new PostSolveEvaluator(retaining.TryRetained(source, ranges)!, shape.Objective, parallelShards: true),
            x, outputs, regularized: false, seed: 1);
        var loaded = PostSolveAnalysis.Run(new PostSolveEvaluator(fresh, shape.Objective), x, outputs, regularized: false, seed: 1);

        Assert.Equal(loaded.Regime, reused.Regime);
        Assert.Equal(loaded.Fitted, reused.Fitted);
        Assert.Equal(loaded.Gradient, reused.Gradient);
        Assert.Equal(loaded.Hessian, reused.Hessian);
    }
}
