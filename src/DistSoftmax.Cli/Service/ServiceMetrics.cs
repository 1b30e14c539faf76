using System.Globalization;
using System.Text;
using DistSoftmax.Cluster.Serialization;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// The service's counters for <c>/metrics</c> (Prometheus text exposition format 0.0.4): iterations ("steps") over all
/// jobs, the latency of one step as a histogram (seconds between consecutive trace entries of a job), jobs submitted,
/// and what the caller supplies when rendering (jobs by state, worker nodes, each worker's shard-cache counters). Thread-safe.
/// </summary>
internal sealed class ServiceMetrics
{
    /// <summary>Upper bounds (seconds) of the step-latency histogram's buckets; +Inf is implied.</summary>
    public static readonly double[] StepBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly object _gate = new();
    private readonly long[] _bucketCounts = new long[StepBuckets.Length];
    private long _steps, _timedSteps, _submitted, _rejected;
    private double _stepSecondsSum;

    /// <summary>One iteration that took <paramref name="seconds"/> (null for iteration 0, the starting point: counted, not timed).</summary>
    public void Step(double? seconds)
    {
        lock (_gate)
        {
            _steps++;
            if (seconds is not double s || !double.IsFinite(s) || s < 0) return;
            _stepSecondsSum += s;
            for (int i = 0; i < StepBuckets.Length; i++)
                if (s <= StepBuckets[i]) _bucketCounts[i]++;
            _timedSteps++;
        }
    }

    public void Submitted() { lock (_gate) _submitted++; }

    public void Rejected() { lock (_gate) _rejected++; }

    /// <summary>The exposition text with the given gauges.</summary>
    public string Render(IReadOnlyDictionary<JobState, int> jobsByState, int workers,
        IReadOnlyList<(string Address, DistSoftmax.Cluster.Protocol.ShardCacheStatus Cache)> caches)
    {
        var sb = new StringBuilder();
        void Line(FormattableString s) => sb.Append(s.ToString(CultureInfo.InvariantCulture)).Append('\n');
        Line($"# HELP distsoftmax_jobs Jobs known to the service, by state.");
        Line($"# TYPE distsoftmax_jobs gauge");
        foreach (var state in Enum.GetValues<JobState>())
            Line($"distsoftmax_jobs{{state=\"{state.Name()}\"}} {jobsByState.GetValueOrDefault(state)}");
        Line($"# HELP distsoftmax_workers Worker nodes that are members of the cluster (status up).");
        Line($"# TYPE distsoftmax_workers gauge");
        Line($"distsoftmax_workers {workers}");
        Line($"# HELP distsoftmax_shard_cache_hits_total Shard assignments a worker served from its cache (no load).");
        Line($"# TYPE distsoftmax_shard_cache_hits_total counter");
        foreach (var (address, cache) in caches) Line($"distsoftmax_shard_cache_hits_total{{worker=\"{address}\"}} {cache.Hits}");
        Line($"# HELP distsoftmax_shard_cache_misses_total Shard assignments a worker had to load.");
        Line($"# TYPE distsoftmax_shard_cache_misses_total counter");
        foreach (var (address, cache) in caches) Line($"distsoftmax_shard_cache_misses_total{{worker=\"{address}\"}} {cache.Misses}");
        Line($"# HELP distsoftmax_shard_cache_bytes Bytes of shards a worker keeps cached.");
        Line($"# TYPE distsoftmax_shard_cache_bytes gauge");
        foreach (var (address, cache) in caches) Line($"distsoftmax_shard_cache_bytes{{worker=\"{address}\"}} {cache.UsedBytes}");
        Line($"# HELP distsoftmax_wire_bytes_total Bytes of the project's messages this node serialized (sent) and deserialized (received): requests, replies, chunks between the jobs' coordinators and the workers; Akka's gossip and heartbeats are not counted.");
        Line($"# TYPE distsoftmax_wire_bytes_total counter");
        Line($"distsoftmax_wire_bytes_total{{direction=\"sent\"}} {WireTraffic.SentBytes}");
        Line($"distsoftmax_wire_bytes_total{{direction=\"received\"}} {WireTraffic.ReceivedBytes}");
        lock (_gate)
        {
            Line($"# HELP distsoftmax_jobs_submitted_total Jobs accepted by POST /api/jobs.");
            Line($"# TYPE distsoftmax_jobs_submitted_total counter");
            Line($"distsoftmax_jobs_submitted_total {_submitted}");
            Line($"# HELP distsoftmax_jobs_rejected_total Job specs refused with HTTP 400 or a full queue.");
            Line($"# TYPE distsoftmax_jobs_rejected_total counter");
            Line($"distsoftmax_jobs_rejected_total {_rejected}");
            Line($"# HELP distsoftmax_steps_total Solver iterations reported by all jobs (each job's starting point included).");
            Line($"# TYPE distsoftmax_steps_total counter");
            Line($"distsoftmax_steps_total {_steps}");
            Line($"# HELP distsoftmax_step_seconds Wall-clock time of one solver iteration (between consecutive trace entries).");
            Line($"# TYPE distsoftmax_step_seconds histogram");
            for (int i = 0; i < StepBuckets.Length; i++)
                Line($"distsoftmax_step_seconds_bucket{{le=\"{StepBuckets[i]}\"}} {_bucketCounts[i]}");
            Line($"distsoftmax_step_seconds_bucket{{le=\"+Inf\"}} {_timedSteps}");
            Line($"distsoftmax_step_seconds_sum {_stepSecondsSum:R}");
            Line($"distsoftmax_step_seconds_count {_timedSteps}");
        }
        return sb.ToString();
    }
}
