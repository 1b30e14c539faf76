using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Drivers;

/// <summary>
/// Answers one shard request with the replies of every shard merged in shard order: shards in this process
/// (<see cref="InProcessDriver"/>), or a coordinator's workers when the request comes from a <see cref="RequestProgram{T}"/>.
/// </summary>
public interface IShardEvaluator
{
    ShardReply Evaluate(ShardRequest request);
}
