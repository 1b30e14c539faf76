using Akka.Actor;
using Akka.Configuration;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using AkkaCluster = Akka.Cluster.Cluster;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// A long-running node with the coordinator role (the <c>serve</c> command's): it joins the cluster once (or founds it,
/// so that workers may name it as their seed) and then runs solve after solve, each one a coordinator actor of its own
/// in this ActorSystem (<see cref="SolveSession"/> with <see cref="WorkerDiscovery"/>, as a <see cref="ClusterSolveJob"/>
/// does, without the join and the leave). Several solves may run at once: their actors are named by solve id.
/// </summary>
public sealed class CoordinatorNode : IAsyncDisposable
{
    /// <summary>How long <see cref="WorkerStatusAsync"/> waits for a worker's answer.</summary>
    public static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(2);

    private readonly CoordinatorSettings _coordinator;

    public ActorSystem System { get; }
    public ClusterSettings Settings { get; }
    /// <summary>Why this node's connections to other nodes failed, if they did (a refused TLS handshake stops the node).</summary>
    public AssociationFailureWatch AssociationFailures { get; }
    /// <summary>This node's cluster address (with the port actually bound when 0 was asked for).</summary>
    public Address Address => AkkaCluster.Get(System).SelfAddress;

    private CoordinatorNode(ActorSystem system, ClusterSettings settings, CoordinatorSettings coordinator)
    {
        System = system;
        AssociationFailures = AssociationFailureWatch.Start(system);
        Settings = settings;
        _coordinator = coordinator;
    }

    /// <summary>
    /// Starts the node; it joins <see cref="NodeOptions.Seeds"/> in the background, or founds a cluster of its own when
    /// there are none (see <see cref="WaitUntilUpAsync"/>). Throws <see cref="InsecureNodeException"/> before anything
    /// listens for a non-loopback address without credentials.
    /// </summary>
    public static CoordinatorNode Start(NodeOptions options)
    {
        Config config = DistSoftmaxConfig.Cluster(options, ClusterRole.Coordinator);
        var cluster = ClusterSettings.FromConfig(config);
        var coordinator = CoordinatorSettings.FromConfig(config);
        var system = DistSoftmaxConfig.CreateClusterSystem(cluster.SystemName, config, options);
        if (options.Seeds is not { Count: > 0 }) AkkaCluster.Get(system).Join(AkkaCluster.Get(system).SelfAddress);
        return new CoordinatorNode(system, cluster, coordinator);
    }

    /// <summary>True once this node is Up in the cluster, false after the timeout.</summary>
    public Task<bool> WaitUntilUpAsync(TimeSpan timeout, CancellationToken ct = default) =>
        ClusterSettings.WaitUntilUp(System, timeout, ct);

    /// <summary>
    /// One solve over the cluster's worker nodes: <paramref name="shards"/> row shards once <paramref name="minWorkers"/>
    /// workers registered; every coordinator event goes to <paramref name="events"/> (on an actor thread, in order, so it
    /// must not block). Faults with <see cref="DistributedSolveException"/> as <see cref="SolveSession.RunAsync"/> does.
    /// </summary>
    public Task<SolverResult> SolveAsync(IShardLoader loader, ProblemSource source, Solver solver, double[] x0,
        SolverOptions options, int shards, int minWorkers, Action<SolveEvent>? events, CancellationToken ct = default,
        Func<SolverResult, Core.Drivers.IRequestProgram?>? afterSolve = null)
    {
        var shape = loader.Describe(source);
        var spec = new SolveSpec(SolveSpec.NewSolveId(), source, shape, solver, x0, options, shards, minWorkers, ct) { AfterSolve = afterSolve }
            .Validate().WithCacheIdentity();
        return SolveSession.RunAsync(System, spec, _coordinator, events,
            coordinator => System.ActorOf(
                WorkerDiscovery.Props(coordinator, spec.SolveId, Settings.WorkerRole, Settings.WorkerActor, Settings.HelloInterval),
                $"discovery-{spec.SolveId}"), ct);
    }

    /// <summary>The cluster's members as this node sees them: address, roles and status, oldest first.</summary>
    public IReadOnlyList<(Address Address, IReadOnlyList<string> Roles, string Status)> Members() =>
        AkkaCluster.Get(System).State.Members
            .OrderBy(m => m, Akka.Cluster.Member.AgeOrdering)
            .Select(m => (m.Address, (IReadOnlyList<string>)m.Roles.OrderBy(r => r, StringComparer.Ordinal).ToArray(), m.Status.ToString().ToLowerInvariant()))
            .ToArray();

    /// <summary>Whether a member with <paramref name="address"/> has the worker role.</summary>
    public bool IsWorker(IReadOnlyList<string> roles) => roles.Contains(Settings.WorkerRole);

    /// <summary>The shards the worker node at <paramref name="address"/> holds, or null when it does not answer in time.</summary>
    public async Task<WorkerStatus?> WorkerStatusAsync(Address address, CancellationToken ct = default)
    {
        var selection = System.ActorSelection(new RootActorPath(address) / "user" / Settings.WorkerActor);
        try { return await selection.Ask<WorkerStatus>(GetWorkerStatus.Instance, StatusTimeout, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is AskTimeoutException or OperationCanceledException or ActorNotFoundException) { return null; }
    }

    /// <summary>The shard cache of the worker node at <paramref name="address"/> (counters and entries), or null when it does not answer in time.</summary>
    public async Task<ShardCacheStatus?> ShardCacheStatusAsync(Address address, CancellationToken ct = default)
    {
        var selection = System.ActorSelection(new RootActorPath(address) / "user" / Settings.WorkerActor);
        try { return await selection.Ask<ShardCacheStatus>(GetShardCacheStatus.Instance, StatusTimeout, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is AskTimeoutException or OperationCanceledException or ActorNotFoundException) { return null; }
    }

    /// <summary>Leaves the cluster gracefully and terminates the ActorSystem.</summary>
    public Task StopAsync() => ClusterSettings.LeaveAsync(System, Settings.LeaveTimeout);

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
