namespace DistSoftmax.Cluster.Worker;

/// <summary>
/// What a cached shard is: the identity of its source (<see cref="SourceIdentity"/>: kind, parameters and, for every
/// file it names, its size and modification time) and its row range. Two assignments with equal keys would load
/// equal shards.
/// </summary>
public readonly record struct ShardCacheKey(string Source, long RowStart, int Rows);
