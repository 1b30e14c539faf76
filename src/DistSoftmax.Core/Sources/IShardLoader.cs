using DistSoftmax.Core.Shards;

namespace DistSoftmax.Core.Sources;

/// <summary>
/// Turns a <see cref="ProblemSource"/> into shards. Workers call <see cref="Load"/> for their own row range only;
/// the coordinator calls <see cref="Describe"/> (sizes and the objective) without loading the rows.
/// Implementations must be deterministic: the same source and range give the same shard on every node.
/// </summary>
public interface IShardLoader
{
    ProblemShape Describe(ProblemSource source);
    IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute);
}
