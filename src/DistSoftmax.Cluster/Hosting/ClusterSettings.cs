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
