using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// GET /api/cluster: the members as the service's node sees them, each worker's cores (from its registration with a
/// job), the shards it holds now (asked with <see cref="GetWorkerStatus"/>), its shard cache (asked with
/// <see cref="GetShardCacheStatus"/>: the cached sources, and the hits and misses /metrics shows) and the job counts.
/// A worker's memory is not reported by the worker protocol: it is null (the cache budget is in /metrics).
/// </summary>
internal sealed class ClusterView(CoordinatorNode node, JobManager jobs)
{
    private readonly ConcurrentDictionary<string, int> _cores = new(StringComparer.Ordinal);

    /// <summary>Coordinator events of every job (on actor threads): remembers each worker's processor count.</summary>
    public void Observe(SolveEvent e)
    {
        if (e is WorkerJoined j) _cores[j.Address] = j.ProcessorCount;
    }

    /// <summary>Worker nodes that are up.</summary>
    public int Workers() => node.Members().Count(m => node.IsWorker(m.Roles) && m.Status == "up");

    /// <summary>The shard cache of every worker member (null for the others and for a worker that did not answer), in member order.</summary>
    public Task<ShardCacheStatus?[]> CachesAsync(IReadOnlyList<(Akka.Actor.Address Address, IReadOnlyList<string> Roles, string Status)> members, CancellationToken ct) =>
        Task.WhenAll(members.Select(m => node.IsWorker(m.Roles) ? node.ShardCacheStatusAsync(m.Address, ct) : Task.FromResult<ShardCacheStatus?>(null)));

    /// <summary>Every worker member's cache counters (address, status) for /metrics.</summary>
    public async Task<IReadOnlyList<(string Address, ShardCacheStatus Cache)>> WorkerCachesAsync(CancellationToken ct)
    {
        var members = node.Members();
        var caches = await CachesAsync(members, ct).ConfigureAwait(false);
        return members.Zip(caches).Where(p => p.Second is not null).Select(p => (p.First.Address.ToString(), p.Second!)).ToArray();
    }

    /// <summary>A cache's entries as the API lists them: key (the source and the row range), rows, bytes, whether a solve uses it.</summary>
    private static JsonArray CachedSources(ShardCacheStatus? cache)
    {
        var list = new JsonArray();
        foreach (var e in cache?.Entries ?? [])
            list.Add(new JsonObject
            {
                ["key"] = $"{e.Source} rows {e.RowStart}..{e.RowStart + e.Rows - 1}",
                ["rows"] = e.Rows,
                ["bytes"] = e.Bytes,
                ["inUse"] = e.InUse,
            });
        return list;
    }

    public async Task<JsonObject> DescribeAsync(CancellationToken ct)
    {
        var members = node.Members();
        var statusTasks = members.Select(m => node.IsWorker(m.Roles)
            ? node.WorkerStatusAsync(m.Address, ct)
            : Task.FromResult<WorkerStatus?>(null)).ToArray();
        var caches = await CachesAsync(members, ct).ConfigureAwait(false);
        var statuses = await Task.WhenAll(statusTasks).ConfigureAwait(false);
        var list = new JsonArray();
        for (int i = 0; i < members.Count; i++)
        {
            var (address, roles, status) = members[i];
            bool self = address == node.Address;
            var roleArray = new JsonArray();
            foreach (string r in roles) roleArray.Add(r);
            list.Add(new JsonObject
            {
                ["address"] = address.ToString(),
                ["roles"] = roleArray,
                ["status"] = status,
                ["cores"] = self ? Environment.ProcessorCount : _cores.TryGetValue(address.ToString(), out int c) ? c : null,
                ["memoryBytes"] = self ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : null,
                ["shards"] = statuses[i]?.Shards.Count,
                ["cachedSources"] = CachedSources(caches[i]),
            });
        }
        var (queued, running) = jobs.Counts();
        return new JsonObject
        {
            ["self"] = node.Address.ToString(),
            ["members"] = list,
            ["jobs"] = new JsonObject { ["queued"] = queued, ["running"] = running },
        };
    }
}
