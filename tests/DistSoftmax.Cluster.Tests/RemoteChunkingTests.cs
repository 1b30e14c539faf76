using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Configuration;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;
using Xunit.Abstractions;

namespace DistSoftmax.Cluster.Tests;

/// <summary>Two ActorSystems on 127.0.0.1 (port 0) talking through Akka.Remote with the production frame size.</summary>
public sealed class RemoteChunkingTests : Akka.TestKit.Xunit2.TestKit
{
    private static Config Remote(string name) => ConfigurationFactory.ParseString($$"""
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.loglevel = WARNING
        distsoftmax.worker { compute-threads = 1, shard-parallelism = 2, chunk-size = 1048576b }
        """).WithFallback(ConfigurationFactory.ParseString(DistSoftmaxConfig.Embedded("cluster.conf")))
        .WithFallback(DistSoftmaxConfig.Base);

    private readonly ActorSystem _other;

    public RemoteChunkingTests(ITestOutputHelper output)
        : base(Remote("b"), "remote-b", output)
    {
        _other = ActorSystem.Create("remote-a", Remote("a"));
    }

    protected override void AfterAll()
    {
        _other.Terminate().Wait(TimeSpan.FromSeconds(10));
        base.AfterAll();
    }

    private IActorRef RemoteWorker(IShardLoader loader)
    {
        _other.ActorOf(WorkerActor.Props(loader, WorkerSettings.FromConfig(_other.Settings.Config)), "worker");
        var address = ((ExtendedActorSystem)_other).Provider.DefaultAddress;
        return Sys.ActorSelection(new RootActorPath(address) / "user" / "worker").ResolveOne(TimeSpan.FromSeconds(5)).Result;
    }

    private long FrameSize => Sys.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size")!.Value;

    /// <summary>Receives a chunked reply on <paramref name="probe"/> and reassembles it.</summary>
    private (ShardReply Reply, int Chunks) ReceiveChunked(Akka.TestKit.TestProbe probe, TimeSpan timeout)
    {
        var first = probe.ExpectMsg<ReplyChunk>(timeout);
        var assembler = new ChunkAssembler(first.ChunkCount, first.TotalBytes);
        Assert.True(first.Bytes.Length <= 1 << 20);
        assembler.Add(first);
        while (!assembler.IsComplete)
        {
            var c = probe.ExpectMsg<ReplyChunk>(timeout);
            Assert.True(c.Bytes.Length <= 1 << 20);
            assembler.Add(c);
        }
        return (assembler.CompleteReply(), first.ChunkCount);
    }

    private static bool SameBits(double[] a, double[] b) =>
        MemoryMarshal.AsBytes(a.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(b.AsSpan()));

    [Fact]
    public void A_32_MB_reply_crosses_between_two_actor_systems_in_chunks_under_the_frame_size()
    {
        // A full (unpacked) 2000×2000 block: 4,000,000 doubles, 32 MB, 250 times the default frame size.
        const int d = 2000;
        var full = new double[d * d];
        for (int i = 0; i < full.Length; i++) full[i] = Math.Sin(i) * 1e3 + i;
        var reply = new GramReply(full, 123);
        var worker = RemoteWorker(new FixedReplyLoader(reply, 10));
        var probe = CreateTestProbe();
        var source = ProblemSource.Create("fixed", Array.Empty<KeyValuePair<string, string>>());

        ActorTestBase.RegisterAsCoordinator(probe, worker, "s-32mb");
        probe.Send(worker, new AssignShard("s-32mb", 1, 0, source, new RowRange(0, 10)));
        probe.ExpectMsg<ShardLoaded>();
        var clock = Stopwatch.StartNew();
        probe.Send(worker, new EvaluateShard("s-32mb", 1, 1, 0, new ScalarsRequest(new double[1])));
        var (back, chunks) = ReceiveChunked(probe, TimeSpan.FromSeconds(30));
        clock.Stop();

        var gram = Assert.IsType<GramReply>(back);
        Assert.Equal(123, gram.RowsUsed);
        Assert.True(SameBits(full, gram.PackedUpper), "the reassembled block differs");
        Assert.Equal((int)Math.Ceiling((32_000_000 + 1 + 4 + "GramReply".Length + 4 + 8) / (double)(1 << 20)), chunks);
        Assert.True(32_000_000 > FrameSize, "the reply would fit in one frame: the test proves nothing");
        Output.WriteLine($"32 MB reply in {chunks} chunks of ≤ 1 MiB over loopback remoting: {clock.Elapsed.TotalMilliseconds:F0} ms " +
                         $"({32.0 / clock.Elapsed.TotalSeconds:F0} MB/s, including evaluation and encoding on the worker)");
    }

    [Fact]
    public void The_d2000_gram_block_of_a_real_shard_crosses_in_chunks_and_equals_the_local_evaluation()
    {
        var problem = new SmallProblem(n: 48, d: 2000, seed: 11, name: "wide");
        var worker = RemoteWorker(problem.Loader);
        var probe = CreateTestProbe();
        var range = new RowRange(0, problem.N);
        var local = problem.Loader.Load(problem.Source, range, ShardComputeOptions.Sequential);
        var x = Enumerable.Range(0, problem.D).Select(i => Math.Cos(i) * 0.01).ToArray();
        var point = problem.Objective.Evaluate(x, (ScalarsReply)local.Evaluate(new ScalarsRequest(x)));
        var request = new GramRequest(x, point.Globals, HessianKind.Exact);
        var expected = (GramReply)local.Evaluate(request);

        ActorTestBase.RegisterAsCoordinator(probe, worker, "s-gram");
        probe.Send(worker, new AssignShard("s-gram", 1, 0, problem.Source, range));
        probe.ExpectMsg<ShardLoaded>();
        var clock = Stopwatch.StartNew();
        probe.Send(worker, new EvaluateShard("s-gram", 1, 1, 0, request));
        var (back, chunks) = ReceiveChunked(probe, TimeSpan.FromSeconds(30));
        clock.Stop();
        var gram = Assert.IsType<GramReply>(back);
        Assert.Equal(2000 * 2001 / 2, gram.PackedUpper.Length);
        Assert.True(SameBits(expected.PackedUpper, gram.PackedUpper));
        Assert.Equal(16, chunks);
        Output.WriteLine($"d = 2000 packed Gram (16 MB) of 48 rows: computed, chunked and moved in {clock.Elapsed.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public void A_request_over_the_frame_size_crosses_in_chunks_and_is_evaluated_as_sent()
    {
        // x of 1.1 million doubles: 8.8 MB, more than the 8 MiB frame.
        var problem = new SmallProblem(n: 2, d: 1_100_000, seed: 12, name: "long-x");
        var worker = RemoteWorker(problem.Loader);
        var probe = CreateTestProbe();
        var range = new RowRange(0, problem.N);
        var x = Enumerable.Range(0, problem.D).Select(i => Math.Sin(i) * 1e-3).ToArray();
        var request = new ScalarsRequest(x);
        var expected = problem.Loader.Load(problem.Source, range, ShardComputeOptions.Sequential).Evaluate(request);
        var encoded = WireFormat.EncodeRequest(request);
        Assert.True(encoded.Length > FrameSize, "the request would fit in one frame: the test proves nothing");

        ActorTestBase.RegisterAsCoordinator(probe, worker, "s-big-x");
        probe.Send(worker, new AssignShard("s-big-x", 1, 0, problem.Source, range));
        probe.ExpectMsg<ShardLoaded>(TimeSpan.FromSeconds(30));
        var pieces = ChunkAssembler.Split(encoded, 1 << 20);
        for (int c = 0; c < pieces.Length; c++)
            probe.Send(worker, new RequestChunk("s-big-x", 1, 1, 0, c, pieces.Length, encoded.LongLength, pieces[c]));
        var result = probe.ExpectMsg<ShardResult>(TimeSpan.FromSeconds(30));
        Assert.Equal((1L, 0), (result.Step, result.ShardIndex));
        Assert.Null(DeepEquality.FirstDifference(expected, result.Reply));
    }

    [Fact]
    public void An_unchunked_reply_over_the_frame_size_is_dropped_by_the_transport_which_is_why_replies_are_chunked()
    {
        var address = ((ExtendedActorSystem)_other).Provider.DefaultAddress;
        Assert.NotNull(address.Port);
        var probe = CreateTestProbe();
        var fromOther = _other.ActorSelection(probe.Ref.Path.ToStringWithAddress(((ExtendedActorSystem)Sys).Provider.DefaultAddress))
            .ResolveOne(TimeSpan.FromSeconds(5)).Result;
        var big = new ShardResult("s", 1, 1, 0, new GradientReply(new double[(int)(FrameSize / 8) + 1000], Array.Empty<double>(), Array.Empty<double>()));
        fromOther.Tell(big);
        probe.ExpectNoMsg(TimeSpan.FromSeconds(1));
        // The association survives: a small message still arrives.
        fromOther.Tell(new ReleaseSolve("after"));
        Assert.Equal("after", probe.ExpectMsg<ReleaseSolve>(TimeSpan.FromSeconds(5)).SolveId);
    }
}
