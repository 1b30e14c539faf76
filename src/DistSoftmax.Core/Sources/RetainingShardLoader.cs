using System.Collections.Concurrent;
using DistSoftmax.Core.Shards;

namespace DistSoftmax.Core.Sources;

/// <summary>
/// A loader that remembers the last shard it loaded for each row range of one source, so that work after a solve in
/// the same process (the solve command's post-solve analysis) reuses the rows the solve's workers held instead of
/// loading a second copy: at 100000×1000 (A 800 MB) the copy cost 0.6 s and, when the GC had not yet released the
/// workers' rows, a peak of two copies of A. Scope one to a single solve: it keeps every shard it handed out alive
/// until it is dropped. Shards loaded by other processes (cluster workers) are not seen, so nothing is retained there.
/// </summary>
public sealed class RetainingShardLoader(IShardLoader inner) : IShardLoader
{
    private readonly ConcurrentDictionary<RowRange, (ProblemSource Source, IShard Shard)> _loaded = new();

    public ProblemShape Describe(ProblemSource source) => inner.Describe(source);

    public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute)
    {
        var shard = inner.Load(source, rows, compute);
        _loaded[rows] = (source, shard);
        return shard;
    }

    /// <summary>
    /// The shards last loaded from <paramref name="source"/> for exactly these ranges, in their order; null unless every
    /// range was loaded here. Callers use them only once the solve that loaded them has ended (shards are not
    /// thread-safe against concurrent requests).
    /// </summary>
    public IShard[]? TryRetained(ProblemSource source, IReadOnlyList<RowRange> ranges)
    {
        var shards = new IShard[ranges.Count];
        for (int k = 0; k < ranges.Count; k++)
        {
            if (!_loaded.TryGetValue(ranges[k], out var entry) || !SameSource(entry.Source, source))
                return null;
            shards[k] = entry.Shard;
        }
        return shards;
    }

    /// <summary>The same kind and parameters (the record's own equality compares the parameter lists by reference).</summary>
    private static bool SameSource(ProblemSource a, ProblemSource b) =>
        ReferenceEquals(a, b) || a.Kind == b.Kind && a.Parameters.SequenceEqual(b.Parameters);

    /// <summary>Forgets every shard (the caller is done with them).</summary>
    public void Clear() => _loaded.Clear();
}
