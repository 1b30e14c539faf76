using Akka.Actor;
using Akka.Configuration;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using AkkaCluster = Akka.Cluster.Cluster;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>Cluster names and timeouts from HOCON distsoftmax.cluster.</summary>
public sealed record ClusterSettings(string SystemName, string WorkerRole, string CoordinatorRole, string WorkerActor,
    TimeSpan JoinTimeout, TimeSpan LeaveTimeout, TimeSpan HelloInterval)
{
    public static ClusterSettings FromConfig(Config c) => new(
        c.GetString("distsoftmax.cluster.system-name", DistSoftmaxConfig.DefaultSystemName),
        c.GetString("distsoftmax.cluster.worker-role", "worker"),
        c.GetString("distsoftmax.cluster.coordinator-role", "coordinator"),
        c.GetString("distsoftmax.cluster.worker-actor", "worker"),
        c.GetTimeSpan("distsoftmax.cluster.join-timeout", TimeSpan.FromSeconds(30)),
        c.GetTimeSpan("distsoftmax.cluster.leave-timeout", TimeSpan.FromSeconds(15)),
        c.GetTimeSpan("distsoftmax.cluster.hello-interval", TimeSpan.FromSeconds(3)));

    internal static async Task<bool> WaitUntilUp(ActorSystem system, TimeSpan timeout, CancellationToken ct)
    {
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        AkkaCluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        var winner = await Task.WhenAny(up.Task, Task.Delay(timeout, ct), system.WhenTerminated).ConfigureAwait(false);
        ct.ThrowIfCancellationRequested();
        return winner == up.Task;
    }

    /// <summary>Leaves the cluster gracefully (CoordinatedShutdown: cluster-leave … actor-system-terminate).</summary>
    internal static async Task LeaveAsync(ActorSystem system, TimeSpan timeout)
    {
        var shutdown = CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
        await Task.WhenAny(shutdown, Task.Delay(timeout)).ConfigureAwait(false);
        if (!system.WhenTerminated.IsCompleted)
            await Task.WhenAny(system.Terminate(), Task.Delay(timeout)).ConfigureAwait(false);
    }
}

/// <summary>
/// A worker node: ActorSystem "distsoftmax" with cluster role "worker" and the well-known worker actor at
/// /user/worker, joined to the seeds (or to itself when there are none). It serves solve after solve until
/// stopped; a solve's shards are dropped when its coordinator releases them or leaves the cluster.
/// <c>dist-softmax worker --port P --seeds …</c> is <see cref="RunWorkerNodeAsync"/>.
/// </summary>
public sealed class WorkerNode : IAsyncDisposable
{
    public ActorSystem System { get; }
    public IActorRef Worker { get; }
    public ClusterSettings Settings { get; }
    /// <summary>This node's cluster address (with the port actually bound when 0 was asked for).</summary>
    public Address Address => AkkaCluster.Get(System).SelfAddress;

    private WorkerNode(ActorSystem system, IActorRef worker, ClusterSettings settings)
    {
        System = system;
        Worker = worker;
        Settings = settings;
    }

    /// <summary>Starts a worker node; it joins in the background (see <see cref="WaitUntilUpAsync"/>).</summary>
    public static WorkerNode Start(NodeOptions options, IShardLoader loader, WorkerSettings? settings = null)
    {
        var config = DistSoftmaxConfig.Cluster(options, ClusterRole.Worker);
        var cluster = ClusterSettings.FromConfig(config);
        var system = ActorSystem.Create(cluster.SystemName, config);
        try
        {
            var worker = system.ActorOf(WorkerActor.Props(loader, settings ?? WorkerSettings.FromConfig(config)), cluster.WorkerActor);
            if (options.Seeds is not { Count: > 0 }) AkkaCluster.Get(system).Join(AkkaCluster.Get(system).SelfAddress);
            return new WorkerNode(system, worker, cluster);
        }
        catch
        {
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
            throw;
        }
    }

    /// <summary>True once this node is Up in the cluster, false after the timeout.</summary>
    public Task<bool> WaitUntilUpAsync(TimeSpan timeout, CancellationToken ct = default) =>
        ClusterSettings.WaitUntilUp(System, timeout, ct);

    /// <summary>Leaves the cluster gracefully and terminates the ActorSystem.</summary>
    public Task StopAsync() => ClusterSettings.LeaveAsync(System, Settings.LeaveTimeout);

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>
    /// Runs a worker node until <paramref name="ct"/> is cancelled (then it leaves the cluster gracefully) or its
    /// ActorSystem ends on its own (e.g. downed by the split-brain resolver). Null arguments fall back to
    /// DISTSOFTMAX_HOST / DISTSOFTMAX_PORT / DISTSOFTMAX_SEEDS, then to hocon/cluster.conf.
    /// </summary>
    public static async Task RunWorkerNodeAsync(string? host, int? port, IReadOnlyList<string>? seeds, IShardLoader loader,
        CancellationToken ct)
    {
        var options = new NodeOptions { Host = host, Port = port, Seeds = seeds }.FromEnvironment();
        await using var node = Start(options, loader);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var registration = ct.Register(() => cancelled.TrySetResult());
        await Task.WhenAny(cancelled.Task, node.System.WhenTerminated).ConfigureAwait(false);
    }
}

/// <summary>Knobs of a cluster solve job beyond the common arguments.</summary>
public sealed record ClusterJobOptions
{
    /// <summary>Where the job's own node listens and which seeds it joins.</summary>
    public NodeOptions Node { get; init; } = new();
    /// <summary>Workers that must be registered before shards are assigned (--min-workers).</summary>
    public int MinWorkers { get; init; } = 1;
    /// <summary>Row shards; null means <see cref="MinWorkers"/> (so the answer does not depend on how many workers
    /// happen to be up; extra workers are spares that take over the shards of lost ones).</summary>
    public int? Shards { get; init; }
    /// <summary>Every coordinator event, in order.</summary>
    public Action<SolveEvent>? Events { get; init; }
}

/// <summary>
/// A solve over the multi-node cluster: the job joins as role "coordinator", waits for the workers, runs the
/// coordinator, then leaves the cluster; the worker nodes stay up for the next job.
/// </summary>
public static class ClusterSolveJob
{
    /// <summary>
    /// The CLI's <c>solve --cluster</c>: joins <paramref name="seeds"/> (null: DISTSOFTMAX_SEEDS), listens on
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
            job.MinWorkers, ct).Validate();
        var config = DistSoftmaxConfig.Cluster(job.Node, ClusterRole.Coordinator);
        var cluster = ClusterSettings.FromConfig(config);
        var system = ActorSystem.Create(cluster.SystemName, config);
        try
        {
            if (job.Node.Seeds is not { Count: > 0 }) AkkaCluster.Get(system).Join(AkkaCluster.Get(system).SelfAddress);
            if (!await ClusterSettings.WaitUntilUp(system, cluster.JoinTimeout, ct).ConfigureAwait(false))
                throw new DistributedSolveException(spec.SolveId,
                    $"the job's node {AkkaCluster.Get(system).SelfAddress} did not become Up within {cluster.JoinTimeout.TotalSeconds:0.#} s " +
                    $"(seeds: {string.Join(", ", job.Node.Seeds ?? Array.Empty<string>())})");
            return await SolveSession.RunAsync(system, spec, CoordinatorSettings.FromConfig(config), job.Events,
                coordinator => system.ActorOf(
                    WorkerDiscovery.Props(coordinator, spec.SolveId, cluster.WorkerRole, cluster.WorkerActor, cluster.HelloInterval),
                    $"discovery-{spec.SolveId}"), ct).ConfigureAwait(false);
        }
        finally
        {
            await ClusterSettings.LeaveAsync(system, cluster.LeaveTimeout).ConfigureAwait(false);
        }
    }
}
