namespace DistSoftmax.Cluster.Protocol;

// ---------------------------------------------------------------------------------------------------------------
// Shard cache inspection (the service, operators, tests): a worker answers GetShardCacheStatus with ShardCacheStatus.
// ---------------------------------------------------------------------------------------------------------------

/// <summary>Asks a worker for its shard cache's counters and entries; the answer is a <see cref="ShardCacheStatus"/>.</summary>
public sealed record GetShardCacheStatus : IDistSoftmaxMessage
{
    public static readonly GetShardCacheStatus Instance = new();
    private GetShardCacheStatus() { }
}

/// <summary>One cached shard: its source (kind, parameters, file sizes and times), row range, bytes, and whether a solve holds it now.</summary>
public sealed record CachedShard(string Source, long RowStart, int Rows, long Bytes, bool InUse);

/// <summary>
/// A worker's shard cache: the budget and bytes used, hits (an assignment served without loading), misses (loaded:
/// nothing cached for that key, or the cached copy in use by another solve), evictions (least recently used idle
/// entries dropped to make room), and the entries, least recently used first.
/// </summary>
public sealed record ShardCacheStatus(string WorkerId, long BudgetBytes, long UsedBytes, long Hits, long Misses, long Evictions,
    IReadOnlyList<CachedShard> Entries) : IDistSoftmaxMessage
{
    public bool Equals(ShardCacheStatus? other) =>
        other is not null && WorkerId == other.WorkerId && BudgetBytes == other.BudgetBytes && UsedBytes == other.UsedBytes
        && Hits == other.Hits && Misses == other.Misses && Evictions == other.Evictions && Entries.SequenceEqual(other.Entries);

    public override int GetHashCode() => HashCode.Combine(WorkerId, Hits, Misses, Evictions, Entries.Count);
}
