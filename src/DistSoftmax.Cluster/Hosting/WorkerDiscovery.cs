using Akka.Actor;
using Akka.Cluster;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Protocol;
using static Akka.Cluster.ClusterEvent;
using AkkaCluster = Akka.Cluster.Cluster;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// Cluster side of a solve job: finds worker nodes through membership events and introduces them to the
/// coordinator — a <see cref="CoordinatorHello"/> sent to /user/worker on every Up member with the worker role
/// (again every <c>hello-interval</c>, in case a node's worker actor was not there yet; the coordinator ignores
/// repeated registrations) — and turns <see cref="UnreachableMember"/>/<see cref="MemberRemoved"/> of worker
/// nodes into <see cref="WorkerUnreachable"/>, so the coordinator reassigns their shards without waiting for
/// downing. Keeps the coordinator itself free of cluster code (it runs unchanged in the local simulation).
/// </summary>
public sealed class WorkerDiscovery : ReceiveActor, IWithTimers
{
    public static Props Props(IActorRef coordinator, string solveId, string workerRole, string workerActor, TimeSpan helloInterval) =>
        Akka.Actor.Props.Create(() => new WorkerDiscovery(coordinator, solveId, workerRole, workerActor, helloInterval));

    private sealed class Resend : INoSerializationVerificationNeeded
    {
        public static readonly Resend Instance = new();
    }

    private readonly IActorRef _coordinator;
    private readonly string _solveId, _role, _workerActor;
    private readonly TimeSpan _helloInterval;
    private readonly HashSet<Address> _workers = new();

    public ITimerScheduler Timers { get; set; } = null!;

    public WorkerDiscovery(IActorRef coordinator, string solveId, string workerRole, string workerActor, TimeSpan helloInterval)
    {
        _coordinator = coordinator;
        _solveId = solveId;
        _role = workerRole;
        _workerActor = workerActor;
        _helloInterval = helloInterval;

        Receive<MemberUp>(m =>
        {
            if (!m.Member.HasRole(_role)) return;
            _workers.Add(m.Member.Address);
            Hello(m.Member.Address);
        });
        Receive<UnreachableMember>(m =>
        {
            if (m.Member.HasRole(_role)) _coordinator.Tell(new WorkerUnreachable(m.Member.Address));
        });
        Receive<MemberRemoved>(m =>
        {
            if (!m.Member.HasRole(_role)) return;
            _workers.Remove(m.Member.Address);
            _coordinator.Tell(new WorkerUnreachable(m.Member.Address));
        });
        Receive<IMemberEvent>(_ => { });
        Receive<IReachabilityEvent>(_ => { });
        Receive<Resend>(_ =>
        {
            foreach (var a in _workers) Hello(a);
        });
        Receive<Terminated>(_ => Context.Stop(Self));
    }

    private void Hello(Address address) =>
        Context.ActorSelection(new RootActorPath(address) / "user" / _workerActor).Tell(new CoordinatorHello(_solveId), _coordinator);

    protected override void PreStart()
    {
        Context.Watch(_coordinator);
        AkkaCluster.Get(Context.System).Subscribe(Self, SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(IMemberEvent), typeof(IReachabilityEvent));
        Timers.StartPeriodicTimer("hello", Resend.Instance, _helloInterval);
    }

    protected override void PostStop() => AkkaCluster.Get(Context.System).Unsubscribe(Self);
}
