using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Remote;
using Akka.Remote.Transport;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using Xunit.Abstractions;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cluster.Tests;

/// <summary>
/// Real Akka.Cluster nodes in one process (127.0.0.1, port 0): worker nodes and solve jobs built by the same public
/// API the CLI calls. serialize-messages stays off here: every protocol message crosses a real socket anyway, and
/// Akka.Remote's own internal messages are not serializable, which the check would trip over.
/// </summary>
public sealed class ClusterTests(ITestOutputHelper output)
{
    private readonly SmallProblem _problem = new();

    private static NodeOptions Node(IReadOnlyList<string> seeds, string extra = "") => new()
    {
        Host = "127.0.0.1",
        Port = 0,
        Seeds = seeds,
        ExtraHocon = extra + "\n" + TestConfig.FastCluster,
    };

    private static async Task<WorkerNode> StartWorker(IShardLoader loader, IReadOnlyList<string> seeds, string extra = "")
    {
        var node = WorkerNode.Start(Node(seeds, extra), loader);
        Assert.True(await node.WaitUntilUpAsync(TimeSpan.FromSeconds(15)), $"worker node {node.Address} did not become Up");
        return node;
    }

    private static async Task<WorkerStatus> StatusOf(WorkerNode node) =>
        await node.Worker.Ask<WorkerStatus>(GetWorkerStatus.Instance, TimeSpan.FromSeconds(5));

    [Fact]
    public async Task A_two_node_cluster_solve_equals_the_in_process_answer_and_the_worker_node_serves_the_next_job()
    {
        var clock = Stopwatch.StartNew();
        // Small chunks so that the sketch and Gram replies are reassembled by the coordinator across the socket.
        await using var worker = await StartWorker(_problem.Loader, Array.Empty<string>(), "distsoftmax.worker.chunk-size = 1024b");
        output.WriteLine($"worker node up at {worker.Address} after {clock.ElapsedMilliseconds} ms");

        var events = new List<SolveEvent>();
        var job = new ClusterJobOptions
        {
            Node = Node(new[] { worker.Address.ToString() }),
            MinWorkers = 1,
            Shards = 3,
            Events = e => { lock (events) events.Add(e); },
        };
        var expected = _problem.InProcess("approx-newton", 3);
        var result = await ClusterSolveJob.RunAsync(job, _problem.Loader, _problem.Source, SolverCatalog.Create("approx-newton"),
            _problem.X0, SmallProblem.Options).WaitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"first job done after {clock.ElapsedMilliseconds} ms: {result.Exit}, {result.Iterations} iterations");
        ResultAssert.BitIdentical(expected, result);
        var joined = Assert.Single(events.OfType<WorkerJoined>());
        Assert.Equal(worker.Address.ToString(), joined.Address);
        Assert.Equal(3, events.OfType<ShardReady>().Count());
        Assert.Equal(result.Trace.Count, events.OfType<SolveProgress>().Count());

        // The job released its shards and left; the worker node is still up and serves a second job.
        Assert.Empty((await StatusOf(worker)).Shards);
        var second = await ClusterSolveJob.ClusterSolveAsync(new[] { $"127.0.0.1:{worker.Address.Port}" }, "127.0.0.1", 0, 1,
            _problem.Loader, _problem.Source, SolverCatalog.Create("newton-cg"), _problem.X0, SmallProblem.Options, null,
            CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
        ResultAssert.BitIdentical(_problem.InProcess("newton-cg", 1), second);
        Assert.Empty((await StatusOf(worker)).Shards);
        output.WriteLine($"second job done after {clock.ElapsedMilliseconds} ms");
    }

    private const string Throttled = "akka.remote.dot-netty.tcp.applied-adapters = [trttl]";

    [Fact]
    public async Task A_worker_node_that_crashes_mid_solve_is_seen_unreachable_and_its_shard_moves_to_the_other_node()
    {
        var ranges = ShardLayout.Split(_problem.N, 2);
        var loader = new GatedLoader(_problem.Loader, ranges[1].Start, gatedEvaluation: 5);
        // Every node runs Akka.Remote's throttler adapter, so the test can black-hole a node's connections: to the
        // others it goes silent, as a crashed machine or a cut cable would (no DeathWatch notification is sent).
        await using var seed = await StartWorker(loader, Array.Empty<string>(), Throttled);
        await using var other = await StartWorker(loader, new[] { seed.Address.ToString() }, Throttled);
        var nodes = new[] { seed, other };

        var events = new List<SolveEvent>();
        var clock = Stopwatch.StartNew();
        var job = new ClusterJobOptions
        {
            Node = Node(new[] { seed.Address.ToString() }, Throttled),
            MinWorkers = 2,
            Events = e => { lock (events) events.Add(e); },
        };
        var solve = ClusterSolveJob.RunAsync(job, loader, _problem.Source, SolverCatalog.Create("approx-newton"), _problem.X0,
            SmallProblem.Options);
        try
        {
            Assert.True(loader.Reached.Wait(TimeSpan.FromSeconds(30)), "shard 1 never reached its 5th request");
            string ownerId;
            lock (events) ownerId = events.OfType<ShardAssigned>().Single(a => a.ShardIndex == 1).WorkerId;
            var victim = nodes.Single(n => ownerId.StartsWith(n.Address.ToString() + "/", StringComparison.Ordinal));
            var crashedAt = clock.Elapsed;
            var transport = ((RemoteActorRefProvider)((ExtendedActorSystem)victim.System).Provider).Transport;
            var everyoneElse = Akka.Cluster.Cluster.Get(victim.System).State.Members.Select(m => m.Address)
                .Where(a => !a.Equals(victim.Address)).ToList();
            Assert.Equal(2, everyoneElse.Count); // the other worker and the job
            foreach (var address in everyoneElse)
                Assert.True(await transport.ManagementCommand(new SetThrottle(address, ThrottleTransportAdapter.Direction.Both, Blackhole.Instance)));
            loader.Release();

            var result = await solve.WaitAsync(TimeSpan.FromSeconds(60));
            ResultAssert.BitIdentical(_problem.InProcess("approx-newton", 2), result);
            List<SolveEvent> seen;
            lock (events) seen = events.ToList();
            var lost = Assert.Single(seen.OfType<WorkerLost>());
            Assert.Equal(ownerId, lost.WorkerId);
            Assert.Contains("unreachable", lost.Reason);
            var moved = seen.OfType<ShardAssigned>().Single(a => a.PreviousWorkerId is not null);
            Assert.Equal(1, moved.ShardIndex);
            Assert.NotEqual(ownerId, moved.WorkerId);
            output.WriteLine($"crash at {crashedAt.TotalSeconds:F1} s, solve done at {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            loader.Release();
        }
    }
}
