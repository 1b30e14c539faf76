using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cluster.Worker;

/// <summary>A worker node's loader: every source passes <see cref="SourcePolicy.Check"/> before the inner loader sees it.</summary>
public sealed class GuardedShardLoader(IShardLoader inner, SourcePolicy policy) : IShardLoader
{
    public SourcePolicy Policy { get; } = policy;

    public ProblemShape Describe(ProblemSource source)
    {
        Policy.Check(source);
        return inner.Describe(source);
    }

    public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute)
    {
        Policy.Check(source);
        return inner.Load(source, rows, compute);
    }
}
