using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Shards;

namespace DistSoftmax.Cluster.Worker;

/// <summary>
/// A worker's loaded shards kept across solves, keyed by <see cref="ShardCacheKey"/>, within a budget of
/// <see cref="BudgetBytes"/> (<see cref="IShard.Bytes"/> summed), least recently used evicted first.
/// An entry is leased while a solve holds it: shards are not thread-safe, so a leased entry is never handed to a
/// second solve (that one loads its own copy, which is not kept) and never evicted; a lease ends when the solve
/// releases the shard and no evaluation on it is running. Every shard a worker loads is admitted leased when it fits
/// (after evicting idle entries), so the budget bounds the memory of cached shards, in use or not.
/// Confined to the worker actor's thread (not thread-safe).
/// </summary>
public sealed class ShardCache
{
    private sealed class Entry(ShardCacheKey key, IShard shard, string description)
    {
        public ShardCacheKey Key { get; } = key;
        public IShard Shard { get; } = shard;
        public string Description { get; } = description;
        public long Bytes { get; } = shard.Bytes;
        public bool Leased { get; set; } = true;
        public LinkedListNode<Entry>? Node { get; set; }
    }

    private readonly Dictionary<ShardCacheKey, Entry> _entries = new();
    /// <summary>Entries from least to most recently used.</summary>
    private readonly LinkedList<Entry> _recency = new();

    public ShardCache(long budgetBytes)
    {
        if (budgetBytes < 0) throw new ArgumentOutOfRangeException(nameof(budgetBytes), "the shard cache budget must be ≥ 0 bytes");
        BudgetBytes = budgetBytes;
    }

    public long BudgetBytes { get; }
    public long UsedBytes { get; private set; }
    public long Hits { get; private set; }
    public long Misses { get; private set; }
    public long Evictions { get; private set; }
    public int Count => _entries.Count;

    /// <summary>The idle cached shard of that key, now leased (a hit); false (a miss) when there is none or it is in use.</summary>
    public bool TryLease(ShardCacheKey key, out IShard shard)
    {
        if (_entries.TryGetValue(key, out var entry) && !entry.Leased)
        {
            entry.Leased = true;
            Touch(entry);
            Hits++;
            shard = entry.Shard;
            return true;
        }
        Misses++;
        shard = null!;
        return false;
    }

    /// <summary>
    /// Keeps a freshly loaded shard, leased, when no entry of that key exists and it fits the budget once idle
    /// entries are evicted. Returns whether it was admitted (only an admitted shard is later <see cref="Return"/>ed).
    /// </summary>
    public bool Admit(ShardCacheKey key, IShard shard, string description)
    {
        long bytes = shard.Bytes;
        if (bytes <= 0 || bytes > BudgetBytes || _entries.ContainsKey(key)) return false;
        if (!MakeRoom(bytes)) return false;
        var entry = new Entry(key, shard, description);
        entry.Node = _recency.AddLast(entry);
        _entries[key] = entry;
        UsedBytes += bytes;
        return true;
    }

    /// <summary>Ends the lease of the admitted shard of that key (its solve released it); it becomes the most recently used.</summary>
    public void Return(ShardCacheKey key, IShard shard)
    {
        if (!_entries.TryGetValue(key, out var entry) || !ReferenceEquals(entry.Shard, shard)) return;
        entry.Leased = false;
        Touch(entry);
    }

    /// <summary>The counters and every entry, least recently used first.</summary>
    /// <summary>The cached row ranges with their sources' identities, most recently used first.</summary>
    public IReadOnlyList<CachedRows> Rows() =>
        _recency.Reverse().Select(e => new CachedRows(e.Key.Source, e.Key.RowStart, e.Key.Rows)).ToArray();

    public ShardCacheStatus Status(string workerId) => new(workerId, BudgetBytes, UsedBytes, Hits, Misses, Evictions,
        _recency.Select(e => new CachedShard(e.Description, e.Key.RowStart, e.Key.Rows, e.Bytes, e.Leased)).ToArray());

    /// <summary>Evicts idle entries, least recently used first, until <paramref name="bytes"/> more fit; false when they cannot.</summary>
    private bool MakeRoom(long bytes)
    {
        long idle = _recency.Where(e => !e.Leased).Sum(e => e.Bytes);
        if (UsedBytes - idle + bytes > BudgetBytes) return false;   // leased entries alone leave no room: evict nothing
        var node = _recency.First;
        while (UsedBytes + bytes > BudgetBytes && node is not null)
        {
            var next = node.Next;
            if (!node.Value.Leased)
            {
                _recency.Remove(node);
                _entries.Remove(node.Value.Key);
                UsedBytes -= node.Value.Bytes;
                Evictions++;
            }
            node = next;
        }
        return UsedBytes + bytes <= BudgetBytes;
    }

    private void Touch(Entry entry)
    {
        _recency.Remove(entry.Node!);
        entry.Node = _recency.AddLast(entry);
    }
}
