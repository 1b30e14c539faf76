using Akka.Actor;
using Akka.Configuration;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using AkkaCluster = Akka.Cluster.Cluster;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// A worker node: ActorSystem "distsoftmax" with cluster role "worker" and the well-known worker actor at
/// /user/worker, joined to the seeds (or to itself when there are none). It serves solve after solve until
/// stopped; a solve's shards are dropped when its coordinator releases them or leaves the cluster.
/// The command line's <c>worker</c> command is <see cref="RunWorkerNodeAsync"/>.
/// </summary>
public sealed class WorkerNode : IAsyncDisposable
{
    public ActorSystem System { get; }
    public IActorRef Worker { get; }
    public ClusterSettings Settings { get; }
    /// <summary>Why this node's connections to other nodes failed, if they did (a refused TLS handshake stops the node).</summary>
    public AssociationFailureWatch AssociationFailures { get; }
    /// <summary>This node's cluster address (with the port actually bound when 0 was asked for).</summary>
    public Address Address => AkkaCluster.Get(System).SelfAddress;

    private WorkerNode(ActorSystem system, IActorRef worker, ClusterSettings settings, AssociationFailureWatch failures)
    {
        System = system;
        AssociationFailures = failures;
        Worker = worker;
        Settings = settings;
    }

    /// <summary>Starts a worker node; it joins in the background (see <see cref="WaitUntilUpAsync"/>).</summary>
    public static WorkerNode Start(NodeOptions options, IShardLoader loader, WorkerSettings? settings = null)
    {
        var config = DistSoftmaxConfig.Cluster(options, ClusterRole.Worker);
        var cluster = ClusterSettings.FromConfig(config);
        var system = DistSoftmaxConfig.CreateClusterSystem(cluster.SystemName, config, options);
        try
        {
            var failures = AssociationFailureWatch.Start(system);
            // A node serves strangers' jobs: only sources inside its data roots and size limits (SourcePolicy).
            var guarded = new GuardedShardLoader(loader, SourcePolicy.FromConfig(config, options.DataRoots));
            var worker = system.ActorOf(WorkerActor.Props(guarded, settings ?? WorkerSettings.FromConfig(config)), cluster.WorkerActor);
            if (options.Seeds is not { Count: > 0 }) AkkaCluster.Get(system).Join(AkkaCluster.Get(system).SelfAddress);
            return new WorkerNode(system, worker, cluster, failures);
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
