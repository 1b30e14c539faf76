using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// GET /api/cluster: the members as the service's node sees them, each worker's cores (from its registration with a
/// job), the shards it holds now (asked with <see cref="GetWorkerStatus"/>), and the job counts. A worker's memory and
/// its cached sources are not reported by the worker protocol yet: they are null and [].
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

    public async Task<JsonObject> DescribeAsync(CancellationToken ct)
    {
        var members = node.Members();
        var statuses = await Task.WhenAll(members.Select(m => node.IsWorker(m.Roles)
            ? node.WorkerStatusAsync(m.Address, ct)
            : Task.FromResult<WorkerStatus?>(null))).ConfigureAwait(false);
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
                ["cachedSources"] = new JsonArray(),
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
