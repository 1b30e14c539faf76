using Akka.Actor;
using Akka.Configuration;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using AkkaCluster = Akka.Cluster.Cluster;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>Knobs of a cluster solve job beyond the common arguments.</summary>
public sealed record ClusterJobOptions
{
    /// <summary>Where the job's own node listens and which seeds it joins.</summary>
    public NodeOptions Node { get; init; } = new();
    /// <summary>Workers that must be registered before shards are assigned.</summary>
    public int MinWorkers { get; init; } = 1;
    /// <summary>Row shards; null means <see cref="MinWorkers"/> (so the answer does not depend on how many workers
    /// happen to be up; extra workers are spares that take over the shards of lost ones).</summary>
    public int? Shards { get; init; }
    /// <summary>How long to wait for any seed node to accept a connection before failing with
    /// <see cref="SeedsUnreachableException"/>; null: <c>distsoftmax.cluster.seed-timeout</c> (5 s).</summary>
    public TimeSpan? SeedTimeout { get; init; }
    /// <summary>Every coordinator event, in order.</summary>
    public Action<SolveEvent>? Events { get; init; }
    /// <summary>What runs on the workers' shards after the solver, before the result is reported (<see cref="SolveSpec.AfterSolve"/>).</summary>
    public Func<SolverResult, Core.Drivers.IRequestProgram?>? AfterSolve { get; init; }
}

/// <summary>
/// A solve over the multi-node cluster: the job joins as role "coordinator", waits for the workers, runs the
/// coordinator, then leaves the cluster; the worker nodes stay up for the next job.
/// </summary>
public static class ClusterSolveJob
{
    /// <summary>
    /// A solve given seed nodes: joins <paramref name="seeds"/> (null: DISTSOFTMAX_SEEDS), listens on
    /// <paramref name="host"/>:<paramref name="port"/> (null: DISTSOFTMAX_HOST/PORT, then cluster.conf), waits for
    /// <paramref name="minWorkers"/> worker nodes and solves with that many shards.
    /// </summary>
    public static Task<SolverResult> ClusterSolveAsync(IReadOnlyList<string>? seeds, string? host, int? port, int minWorkers,
        IShardLoader loader, ProblemSource source, Solver solver, double[] x0, SolverOptions options,
        Action<TraceEntry>? progress, CancellationToken ct) =>
        RunAsync(new ClusterJobOptions
        {
            Node = new NodeOptions { Seeds = seeds, Host = host, Port = port }.FromEnvironment(),
            MinWorkers = minWorkers,
            Events = progress is null ? null : e => { if (e is SolveProgress p) progress(p.Entry); },
        }, loader, source, solver, x0, options, ct);

    public static async Task<SolverResult> RunAsync(ClusterJobOptions job, IShardLoader loader, ProblemSource source,
        Solver solver, double[] x0, SolverOptions options, CancellationToken ct = default)
    {
        var shape = loader.Describe(source);
        var spec = new SolveSpec(SolveSpec.NewSolveId(), source, shape, solver, x0, options, job.Shards ?? job.MinWorkers,
            job.MinWorkers, ct) { AfterSolve = job.AfterSolve }.Validate().WithCacheIdentity();
        var config = DistSoftmaxConfig.Cluster(job.Node, ClusterRole.Coordinator);
        var cluster = ClusterSettings.FromConfig(config);
        // This node's own settings first (no network needed), then the seeds: an unreachable seed list is bad input,
        // found in seconds, before the ActorSystem and its join retries start.
        DistSoftmaxConfig.EnsureSecureEnough(config, job.Node);
        var seedTimeout = job.SeedTimeout ?? config.GetTimeSpan("distsoftmax.cluster.seed-timeout", SeedProbe.DefaultTimeout);
        var seeds = config.GetStringList("akka.cluster.seed-nodes").Select(Address.Parse).ToArray();
        // A job whose own address is among the seeds founds the cluster itself: there is nobody to probe yet (a cluster
        // without workers is then found by the worker wait below).
        string ownHost = config.GetString("akka.remote.dot-netty.tcp.hostname", "");
        int ownPort = config.GetInt("akka.remote.dot-netty.tcp.port", 0);
        bool founding = ownPort != 0 && seeds.Any(a => a.Port == ownPort && string.Equals(a.Host, ownHost, StringComparison.OrdinalIgnoreCase));
        if (!founding) await SeedProbe.EnsureReachableAsync(seeds, seedTimeout, ct).ConfigureAwait(false);
        var system = DistSoftmaxConfig.CreateClusterSystem(cluster.SystemName, config, job.Node);
        var associationFailures = AssociationFailureWatch.Start(system);
        try
        {
            if (job.Node.Seeds is not { Count: > 0 }) AkkaCluster.Get(system).Join(AkkaCluster.Get(system).SelfAddress);
            else if (!founding)
            {
                try { await SeedProbe.EnsureAnsweredAsync(system, seeds, seedTimeout, ct).ConfigureAwait(false); }
                catch (SeedsUnreachableException) when (associationFailures.TlsRefused)
                {
                    throw new ClusterUnavailableException(spec.SolveId, JoinFailure(system, job.Node.Seeds, cluster.JoinTimeout, associationFailures));
                }
            }
            if (!await ClusterSettings.WaitUntilUp(system, cluster.JoinTimeout, ct).ConfigureAwait(false))
                throw new ClusterUnavailableException(spec.SolveId, JoinFailure(system, job.Node.Seeds, cluster.JoinTimeout, associationFailures));
            // A solve that fails before any shard was assigned never found its workers: that is the cluster's absence.
            int assigned = 0;
            var events = job.Events;
            try
            {
                return await SolveSession.RunAsync(system, spec, CoordinatorSettings.FromConfig(config),
                    e => { if (e is ShardAssigned) Interlocked.Increment(ref assigned); events?.Invoke(e); },
                    coordinator => system.ActorOf(
                        WorkerDiscovery.Props(coordinator, spec.SolveId, cluster.WorkerRole, cluster.WorkerActor, cluster.HelloInterval),
                        $"discovery-{spec.SolveId}"), ct).ConfigureAwait(false);
            }
            catch (DistributedSolveException e) when (Volatile.Read(ref assigned) == 0 && !ct.IsCancellationRequested)
            {
                throw new ClusterUnavailableException(spec.SolveId, e.Message, e);
            }
        }
        finally
        {
            await ClusterSettings.LeaveAsync(system, cluster.LeaveTimeout).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Why the job's node did not become Up: a refused TLS handshake names itself and the credentials (a node with
    /// another cluster's certificate is turned away within a second or two and its system stops); otherwise no seed
    /// answered within the join timeout, or the node stopped before it (with the last connection failure, if any).
    /// </summary>
    private static string JoinFailure(ActorSystem system, IReadOnlyList<string>? seedList, TimeSpan joinTimeout, AssociationFailureWatch failures)
    {
        string seeds = string.Join(", ", seedList ?? Array.Empty<string>());
        if (failures.TlsRefused) return failures.TlsRefusal(seeds);
        string cause = failures.LastFailure is { } f ? $"; the last connection failed: {f}" : "";
        return system.WhenTerminated.IsCompleted
            ? $"the job's node {AkkaCluster.Get(system).SelfAddress} stopped after {failures.Elapsed.TotalSeconds:0.0} s without joining the seeds ({seeds}{cause})"
            : $"no seed answered within {joinTimeout.TotalSeconds:0.#} s (seeds: {seeds}; the job's node {AkkaCluster.Get(system).SelfAddress} did not become Up{cause})";
    }
}
