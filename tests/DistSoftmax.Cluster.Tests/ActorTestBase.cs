using Akka.Actor;
using Akka.TestKit;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Solvers;
using Xunit.Abstractions;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cluster.Tests;

/// <summary>A TestKit system with the project's HOCON and serialize-messages on, plus solve helpers.</summary>
public abstract class ActorTestBase(ITestOutputHelper output, string extraHocon = "")
    : Akka.TestKit.Xunit2.TestKit(TestConfig.Local(extraHocon), output: output)
{
    private IActorRef? _host;

    /// <summary>
    /// Parent of the actors a test may want to stop. ActorSystem.Stop sends Akka's internal StopChild message, which
    /// Akka does not bind to any serializer, so with serialize-messages on and allow-unregistered-types off it would
    /// be dropped; a parent stopping its child uses a system message instead.
    /// </summary>
    protected IActorRef Host => _host ??= Sys.ActorOf(Props.Create(() => new ActorHost()), "host");

    protected IActorRef Spawn(Props props, string name) =>
        Host.Ask<ActorHost.Created>(new ActorHost.Create(props, name), TimeSpan.FromSeconds(5)).Result.Actor;

    /// <summary>Stops an actor made by <see cref="Spawn"/> and waits for its termination.</summary>
    protected void StopActor(IActorRef actor)
    {
        var watcher = CreateTestProbe();
        watcher.Watch(actor);
        Host.Tell(new ActorHost.Stop(actor));
        watcher.ExpectTerminated(actor);
    }

    protected WorkerSettings WorkerSettings => WorkerSettings.FromConfig(Sys.Settings.Config);
    protected CoordinatorSettings CoordinatorSettings => CoordinatorSettings.FromConfig(Sys.Settings.Config);

    protected IActorRef[] Workers(IShardLoader loader, int count, string prefix = "worker") =>
        Enumerable.Range(1, count).Select(i => Spawn(WorkerActor.Props(loader, WorkerSettings), $"{prefix}-{i}")).ToArray();

    protected static SolveSpec Spec(SmallProblem p, IShardLoader loader, string solver, int shards, int minWorkers,
        SolverOptions? options = null, CancellationToken ct = default) =>
        new(SolveSpec.NewSolveId(), p.Source, loader.Describe(p.Source), SolverCatalog.Create(solver), p.X0,
            options ?? SmallProblem.Options, shards, minWorkers, ct);

    protected (IActorRef Coordinator, TestProbe Events) StartCoordinator(SolveSpec spec, CoordinatorSettings? settings = null)
    {
        var events = CreateTestProbe();
        var coordinator = Spawn(CoordinatorActor.Props(spec, settings ?? CoordinatorSettings, events.Ref), $"coordinator-{spec.SolveId}");
        return (coordinator, events);
    }

    /// <summary>Makes <paramref name="probe"/> the registered coordinator of <paramref name="solveId"/> on
    /// <paramref name="worker"/> (hello → RegisterWorker → WorkerRegistered): workers act only for a solve's coordinator.</summary>
    internal static void RegisterAsCoordinator(TestProbe probe, IActorRef worker, string solveId)
    {
        probe.Send(worker, new CoordinatorHello(solveId));
        probe.ExpectMsg<RegisterWorker>(TimeSpan.FromSeconds(10));
        probe.Send(worker, new WorkerRegistered(solveId));
    }

    protected static void Introduce(IActorRef coordinator, string solveId, params IActorRef[] workers)
    {
        foreach (var w in workers) w.Tell(new CoordinatorHello(solveId), coordinator);
    }

    /// <summary>Events until (and including) the first one satisfying <paramref name="stop"/>.</summary>
    protected static List<SolveEvent> CollectUntil(TestProbe events, Func<SolveEvent, bool> stop, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var seen = new List<SolveEvent>();
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"no matching event; saw {string.Join(", ", seen.Select(e => e.GetType().Name))}");
            var m = events.ReceiveOne(left);
            if (m is null) continue;
            var e = Assert.IsAssignableFrom<SolveEvent>(m);
            seen.Add(e);
            if (stop(e)) return seen;
        }
    }

    protected static bool IsFinal(SolveEvent e) => e is SolveCompleted or SolveFailed;

    protected static SolverResult ResultOf(List<SolveEvent> events) => events[^1] switch
    {
        SolveCompleted c => c.Result,
        SolveFailed f => throw new Xunit.Sdk.XunitException($"solve failed: {f.Reason}"),
        var other => throw new Xunit.Sdk.XunitException($"solve did not end: last event {other}"),
    };

    protected static IActorRef OwnerOf(IEnumerable<SolveEvent> events, int shard, IEnumerable<IActorRef> workers)
    {
        var id = events.OfType<ShardAssigned>().Last(a => a.ShardIndex == shard).WorkerId;
        return workers.Single(w => id.EndsWith("/" + w.Path.Name, StringComparison.Ordinal));
    }

    protected WorkerStatus StatusOf(IActorRef worker)
    {
        var probe = CreateTestProbe();
        worker.Tell(GetWorkerStatus.Instance, probe.Ref);
        return probe.ExpectMsg<WorkerStatus>();
    }
}

/// <summary>Creates and stops children on request (test-only messages, never serialized).</summary>
public sealed class ActorHost : ReceiveActor
{
    public sealed record Create(Props Props, string Name) : INoSerializationVerificationNeeded;
    public sealed record Created(IActorRef Actor) : INoSerializationVerificationNeeded;
    public sealed record Stop(IActorRef Child) : INoSerializationVerificationNeeded;

    public ActorHost()
    {
        Receive<Create>(c => Sender.Tell(new Created(Context.ActorOf(c.Props, c.Name))));
        Receive<Stop>(s => Context.Stop(s.Child));
    }
}
