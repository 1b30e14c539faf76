using System.Buffers.Binary;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;
using Xunit.Abstractions;

namespace DistSoftmax.Cluster.Tests;

public sealed class SerializerTests : Akka.TestKit.Xunit2.TestKit
{
    public SerializerTests(ITestOutputHelper output) : base(TestConfig.Local(), output: output) { }

    private static readonly double[] Odd = { 0.0, -0.0, 1.5, -2.25e-300, double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, Math.PI };

    private static readonly ProblemSource Source = ProblemSource.Create("files", new[]
    {
        KeyValuePair.Create("a", "/data/A.npy"), KeyValuePair.Create("b", "/data/b.npy"), KeyValuePair.Create("name", "überschrift ∑"),
    });

    private static readonly TraceEntry Trace = new(3, 0.125, 1e-7, 0.5, 1234, 2.5, 17, 1e-6);

    private static readonly SolverResult Result = new("approx-newton", Odd, ExitCondition.MaxIterations, "reached 25 iterations ‖∇L‖",
        25, 1e-3, 2e-8, 0.4, new[] { Trace, Trace with { Iteration = 4, NegativeCurvature = 0 } }, 3.25, 101);

    /// <summary>One sample (or more) of every request, reply and protocol message type.</summary>
    public static IEnumerable<object> Samples()
    {
        var x = new[] { 1.0, -2.0, 3.5 };
        yield return new ScalarsRequest(Odd);
        yield return new ScalarsRequest(Array.Empty<double>());
        yield return new GradientRequest(x, Odd, HessianKind.GaussNewton, true, 24, ulong.MaxValue);
        yield return new GradientRequest(x, Odd, HessianKind.Exact, false);
        yield return new GramRequest(x, Odd, HessianKind.Exact);
        yield return new ScalarsRequest(x, Odd);
        yield return new ScalarsRequest(x, Odd, WithGradient: true);
        yield return new ScalarsRequest(x, Odd, WithGradient: true, Anchored: true);
        yield return new ScalarsRequest(x, Odd, WithGradient: true, SketchRows: 12, SketchSeed: ulong.MaxValue, SketchKind: HessianKind.Exact);
        yield return new SampledGramRequest(x, Odd, HessianKind.Exact, new double[] { 1, 2, 3 }, 1, 2.5, 40, 0x1234_5678_9ABC_DEF0UL, true);
        yield return new SampledGramRequest(x, Odd, HessianKind.GaussNewton, new double[] { 1, 2, 3 }, 1, 2.5, 40, 7, false, SinglePrecision: true);
        yield return new HessianVectorRequest(x, Odd, HessianKind.Exact, new[] { 0.25, -0.5, 0.75 });
        yield return new KroneckerFactorsRequest(x, HessianKind.GaussNewton);
        yield return new KroneckerFactorsRequest(x, HessianKind.GaussNewton, SinglePrecision: true);
        yield return new KroneckerFactorsRequest(x, HessianKind.GaussNewton, SinglePrecision: true, RowShare: 0.125, SampleSeed: 0xFEDC_BA98_7654_3210UL);
        // An early iterate's single-precision pass, and the requests at the iterate it produced.
        yield return new ScalarsRequest(x, Odd, WithGradient: true, SinglePrecision: true);
        yield return new HessianVectorRequest(x, Odd, HessianKind.GaussNewton, new[] { 0.25, -0.5, 0.75 }, SinglePrecision: true, SinglePassIterate: true);
        yield return new KroneckerFactorsRequest(x, HessianKind.GaussNewton, SinglePrecision: true, SinglePassIterate: true);
        yield return new MiniBatchGradientRequest(x, 0xFEDC_BA98_7654_3210UL, 17, 3, 0.3);
        yield return new EvaluateShard("solve-1", 2, 5, 1, new MiniBatchGradientRequest(Odd, 1, 0, 0, 1.0));

        yield return new ScalarsReply(new ScalarSums(double.NegativeInfinity, new[] { 0.0, 0, 0, 0 }, new[] { 1, 2, 1, 0 }), 0.0, 0);
        yield return new ScalarsReply(new ScalarSums(3.5, new[] { 1.0, 2.0 }, new[] { 1, 0 }), 4.25, long.MaxValue);
        yield return new ScalarsReply(new ScalarSums(3.5, new[] { 1.0, 2.0 }, new[] { 1, 0 }), 4.25, 7, Odd);
        yield return new ScalarsReply(new ScalarSums(3.5, new[] { 1.0, 2.0 }, new[] { 1, 0 }), 4.25, 7, Odd, new[] { -0.0, 1e300, 3 });
        yield return new GradientReply(x, Odd, Array.Empty<double>());
        yield return new GradientReply(x, Odd, new[] { 2.0, -1.0, 0.5 }, SketchColumns: 2);
        yield return new ScalarsReply(new ScalarSums(3.5, new[] { 1.0, 2.0 }, new[] { 1, 0 }), 4.25, 7, Odd, new[] { 2.0, -1.0, 0.5 }, 2);
        yield return new GradientRequest(x, Odd, HessianKind.Exact, true, 12, 5, SketchForm.Triangle);
        yield return new ScalarsRequest(x, Odd, WithGradient: true, SketchRows: 12, SketchSeed: 3, SketchForm: SketchForm.Triangle);
        yield return new GramReply(Enumerable.Range(0, 21).Select(i => i * 0.5).ToArray(), 99);
        yield return new HessianVectorReply(x, new[] { 1e300, -1e-300 });
        yield return new KroneckerFactorsReply(new[] { 1.0, 2.0, 3.0 }, new[] { -1e-300, 0.5, 1e300 }, 7.25, 13);
        yield return new TargetSummaryRequest();
        yield return new LogLinearStartRequest();
        yield return new LogLinearStartReply(new[] { 1.0, -0.5, -0.5, 2.0 }, new[] { 1e300, -1e-300, 0.0, -0.0 }, new[] { 0.25, -4.0, 8.0, 1e-8 }, 7, 9);
        yield return new StartScaleRequest(new[] { 0.5, -1.25, 3.0, 1e-300 }, 1.1445);
        yield return new StartScaleReply(6.85e-3, -0.3624, 1.9278, 2.4559, 2048);
        yield return new DataGramRequest();
        yield return new RowProductsRequest(x);
        yield return new TargetSummaryReply(0.75, double.PositiveInfinity, 12);
        yield return new RowProductsReply(new[] { 1.0, -2.0, 3.5, 1e300 }, new[] { 0.25, 0.0, -0.0, 0.5 }, 2);
        yield return new RowProductsReply(new[] { 0.5 }, new[] { 1.0 }, 1);

        yield return new CoordinatorHello("solve-1");
        yield return new RegisterWorker("akka.tcp://distsoftmax@10.0.0.1:4053/user/worker", 16);
        yield return new RegisterWorker("akka.tcp://distsoftmax@10.0.0.2:4053/user/worker", 8,
            new[] { new CachedRows("files\nA=/data/A.npy [800 bytes, modified 1]", 0, 50), new CachedRows("generated\nn=100", 50, 50) });
        yield return new WorkerRegistered("solve-1");
        yield return new AssignShard("solve-1", 3, 2, Source, new RowRange(1L << 33, 1000));
        yield return new AssignShard("solve-1", 1, 0, ProblemSource.Create("memory", Array.Empty<KeyValuePair<string, string>>()), new RowRange(0, 0));
        yield return new ShardLoaded("solve-1", 3, 2, "w", 1000, 0.25);
        yield return new ShardLoadFailed("solve-1", 3, 2, "w", "file /data/A.npy not found");
        yield return new ReleaseShard("solve-1", 2);
        yield return new ReleaseSolve("solve-1");
        yield return new EvaluateShard("solve-1", 3, 42, 2, new HessianVectorRequest(x, Odd, HessianKind.GaussNewton, x, SinglePrecision: true));
        yield return new EvaluateShard("solve-1", 1, 1, 0, new ScalarsRequest(x));
        yield return new ShardResult("solve-1", 3, 42, 2, new GramReply(new[] { 1.0, 2, 3 }, 7));
        yield return new ShardResult("solve-1", 3, 43, 2, new ScalarsReply(new ScalarSums(1, new[] { 2.0 }, new[] { 1 }), 3, 4));
        yield return new ReplyChunk("solve-1", 3, 42, 2, 1, 4, 4000, Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray());
        yield return new RequestChunk("solve-1", 3, 42, 2, 0, 2, 1500, Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray());
        yield return new ShardFailed("solve-1", 3, 42, 2, "ArgumentException: x has 3 entries", false);
        yield return new ShardFailed("solve-1", 3, 42, 2, "no shard", true);
        yield return GetWorkerStatus.Instance;
        yield return new WorkerStatus("w", new[] { new HeldShard("solve-1", 0, 1, true, 400), new HeldShard("solve-2", 3, 7, false, 0) });
        yield return new WorkerStatus("w", Array.Empty<HeldShard>());
        yield return GetShardCacheStatus.Instance;
        yield return new ShardCacheStatus("w", 1L << 30, 4096, 3, 2, 1, new[] { new CachedShard("files\nA=/data/A.npy [800 bytes, modified 5]", 1L << 33, 1000, 4096, true) });
        yield return new ShardCacheStatus("w", 0, 0, 0, 0, 0, Array.Empty<CachedShard>());

        yield return CancelSolve.Instance;
        yield return new WorkerJoined("solve-1", "w", "akka.tcp://distsoftmax@h:1", 4);
        yield return new WorkerLost("solve-1", "w", "unreachable");
        yield return new ShardAssigned("solve-1", 2, 1, new RowRange(10, 20), "w2", "w1");
        yield return new ShardAssigned("solve-1", 1, 0, new RowRange(0, 10), "w1", null);
        yield return new ShardReady("solve-1", 2, 1, "w2", 20, 0.5);
        yield return new SolveProgress("solve-1", Trace);
        yield return new SolveCompleted("solve-1", Result);
        yield return new SolveCompleted("solve-2", Result with { LogLinearStartRows = 0 });
        yield return new SolveCompleted("solve-3", Result with { LogLinearStartRows = long.MaxValue });
        yield return new SolveCompleted("solve-4", Result with { LogLinearStartRows = 4096, LogLinearStartScale = 1.1445 });
        yield return new SolveFailed("solve-1", "no live worker");
    }

    public static IEnumerable<object[]> SampleData() => Samples().Select(s => new object[] { s });

    [Theory]
    [MemberData(nameof(SampleData))]
    public void Every_message_round_trips_through_the_akka_serializer_with_all_fields_equal(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<DistSoftmaxSerializer>(serializer);
        var bytes = serializer.ToBinary(message);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
        Assert.Null(DeepEquality.FirstDifference(message, back));
        Assert.Equal(message.GetType(), back.GetType());
    }

    [Fact]
    public void Encoded_and_decoded_bytes_are_counted_as_wire_traffic()
    {
        var message = Samples().First();
        var serializer = Sys.Serialization.FindSerializerFor(message);
        long sent0 = WireTraffic.SentBytes, received0 = WireTraffic.ReceivedBytes;
        var bytes = serializer.ToBinary(message);
        Assert.True(WireTraffic.SentBytes - sent0 >= bytes.Length, "sent bytes not counted");
        Sys.Serialization.Deserialize(bytes, serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, message));
        // Other tests run beside this one and may add to the process-wide counters: at least this payload each way.
        Assert.True(WireTraffic.ReceivedBytes - received0 >= bytes.Length, "received bytes not counted");
    }

    [Theory]
    [MemberData(nameof(SampleData))]
    public void Every_truncated_payload_is_a_serialization_exception(object message)
    {
        var bytes = WireFormat.Encode(message);
        var manifest = WireFormat.ManifestOf(message);
        foreach (int cut in new[] { 0, 1, bytes.Length / 2, bytes.Length - 1 }.Where(c => c < bytes.Length).Distinct())
            Assert.Throws<SerializationException>(() => WireFormat.Decode(bytes[..cut], manifest));
        var longer = bytes.Concat(new byte[] { 0 }).ToArray();
        Assert.Throws<SerializationException>(() => WireFormat.Decode(longer, manifest));
    }

    [Fact]
    public void Every_protocol_request_and_reply_type_has_a_wire_entry_and_a_round_trip_sample()
    {
        var required = typeof(IDistSoftmaxMessage).Assembly.GetTypes()
            .Where(t => typeof(IDistSoftmaxMessage).IsAssignableFrom(t))
            .Concat(typeof(ShardRequest).Assembly.GetTypes().Where(t => typeof(ShardRequest).IsAssignableFrom(t) || typeof(ShardReply).IsAssignableFrom(t)))
            .Where(t => t is { IsClass: true, IsAbstract: false })
            .ToHashSet();
        var sampled = Samples().Select(s => s.GetType()).ToHashSet();
        Assert.Empty(required.Where(t => !WireFormat.IsRegistered(t)).Select(t => t.FullName));
        Assert.Empty(required.Where(t => !sampled.Contains(t)).Select(t => t.FullName));
        Assert.True(required.Count >= 32, $"only {required.Count} types found");
    }

    [Fact]
    public void Row_products_whose_model_and_targets_do_not_fill_whole_rows_are_refused()
    {
        foreach (var bad in new[]
                 {
                     new RowProductsReply(new double[4], new double[4], 3),
                     new RowProductsReply(new double[4], new double[2], 2),
                     new RowProductsReply(new double[2], new double[2], 0),
                 })
        {
            var e = Assert.Throws<SerializationException>(() => WireFormat.DecodeReply(WireFormat.EncodeReply(bad)));
            Assert.Contains("corrupt DistSoftmax payload", e.Message);
        }
    }

    [Fact]
    public void A_corrupt_array_length_is_a_clear_serialization_exception_not_an_allocation()
    {
        var bytes = WireFormat.Encode(new GramReply(new double[] { 1, 2, 3 }, 5));
        // header (1 byte), then the array's element count (the manifest travels beside the payload).
        const int at = 1;
        Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at)));
        foreach (int bad in new[] { int.MaxValue, 4, -1 })
        {
            var corrupt = (byte[])bytes.Clone();
            BinaryPrimitives.WriteInt32LittleEndian(corrupt.AsSpan(at), bad);
            var e = Assert.Throws<SerializationException>(() => WireFormat.Decode(corrupt, "GramReply"));
            Assert.Contains("corrupt DistSoftmax payload", e.Message);
        }
    }

    [Fact]
    public void Unknown_manifests_versions_and_nested_tags_are_rejected()
    {
        var bytes = WireFormat.Encode(new ReleaseSolve("s"));
        Assert.Contains("unknown DistSoftmax manifest", Assert.Throws<SerializationException>(() => WireFormat.Decode(bytes, "Nope")).Message);
        var v2 = (byte[])bytes.Clone();
        v2[0] = 2;
        Assert.Contains("version 2", Assert.Throws<SerializationException>(() => WireFormat.Decode(v2, "ReleaseSolve")).Message);
        // A ShardResult whose nested tag names a request instead of a reply.
        var w = WireFormat.Encode(new ShardResult("s", 1, 1, 0, new GramReply(new double[] { 1.0 }, 1)));
        var text = System.Text.Encoding.UTF8.GetString(w);
        var forged = System.Text.Encoding.UTF8.GetBytes(text.Replace("GramReply", "GramRequest"));
        Assert.Throws<SerializationException>(() => WireFormat.Decode(forged, "ShardResult"));
    }

    [Fact]
    public void A_type_without_a_binding_is_refused_instead_of_falling_back_to_json()
    {
        Assert.False(Sys.Settings.Config.GetBoolean("akka.actor.serialization-settings.allow-unregistered-types", true));
        var e = Record.Exception(() => Sys.Serialization.FindSerializerForType(typeof(NotAMessage)));
        Assert.NotNull(e);
        Output?.WriteLine($"{e!.GetType().Name}: {e.Message}");
    }

    private sealed record NotAMessage(int X);

    /// <summary>
    /// A d = 1000 sketch triangle (500500 values, 4 MB: above the 1 MiB chunk size, under the 8 MiB frame) travels in
    /// chunks and comes back whole with its column count; a column count that does not fit the triangle is refused.
    /// </summary>
    [Fact]
    public void A_large_sketch_triangle_reply_round_trips_through_chunks()
    {
        const int d = 1000;
        var triangle = Enumerable.Range(0, d * (d + 1) / 2).Select(i => Math.Sin(i)).ToArray();
        var reply = new ScalarsReply(new ScalarSums(1.5, new[] { 1.0, 2.0 }, new[] { 1, 0 }), 0.0, 50000, Odd, triangle, d);
        var request = new EvaluateShard("s", 1, 3, 0, new ScalarsRequest(new double[d], new double[2], true, 4 * d, 9, HessianKind.Exact, SketchForm.Triangle));
        const int chunkBytes = 1 << 20;
        var chunks = Worker.WorkerActor.Package(request, reply, chunkBytes).Cast<ReplyChunk>().ToList();
        Assert.True(chunks.Count > 1 && WireFormat.EncodeReply(reply).Length < 8 << 20);
        var assembler = new ChunkAssembler(chunks[0].ChunkCount, chunks[0].TotalBytes);
        foreach (var c in chunks) assembler.Add(c);
        Assert.Null(DeepEquality.FirstDifference(reply, assembler.CompleteReply()));

        var wrong = WireFormat.EncodeReply(reply with { SketchColumns = d - 1 });
        Assert.Throws<SerializationException>(() => WireFormat.DecodeReply(wrong));
    }

    [Fact]
    public void Chunks_reassemble_in_any_order_and_inconsistent_chunks_are_rejected()
    {
        var reply = new GramReply(Enumerable.Range(0, 5000).Select(i => Math.Sqrt(i)).ToArray(), 12);
        var request = new EvaluateShard("s", 2, 9, 1, new ScalarsRequest(new double[1]));
        var chunks = Worker.WorkerActor.Package(request, reply, 4096).Cast<ReplyChunk>().ToList();
        Assert.Equal((int)Math.Ceiling(WireFormat.EncodeReply(reply).Length / 4096.0), chunks.Count);
        Assert.All(chunks, c => Assert.True(c.Bytes.Length <= 4096));

        var assembler = new ChunkAssembler(chunks[0].ChunkCount, chunks[0].TotalBytes);
        var shuffled = chunks.AsEnumerable().Reverse().ToList();
        for (int i = 0; i < shuffled.Count; i++)
        {
            Assert.Equal(i == shuffled.Count - 1, assembler.Add(shuffled[i]));
            if (i == 0) Assert.False(assembler.Add(shuffled[0])); // a duplicate changes nothing
        }
        Assert.Null(DeepEquality.FirstDifference(reply, assembler.CompleteReply()));

        var other = new ChunkAssembler(chunks[0].ChunkCount, chunks[0].TotalBytes);
        Assert.Throws<SerializationException>(() => other.Add(chunks[0] with { ChunkCount = chunks[0].ChunkCount + 1 }));
        Assert.Throws<SerializationException>(() => other.Add(chunks[0] with { ChunkIndex = -1 }));
        Assert.Throws<SerializationException>(() => new ChunkAssembler(3, long.MaxValue));

        // Requests travel the same way: the pieces of the tagged encoding, reassembled in any order.
        var big = new HessianVectorRequest(Enumerable.Range(0, 3000).Select(i => i * 0.5).ToArray(), Odd, HessianKind.Exact,
            Enumerable.Range(0, 3000).Select(i => -i * 0.25).ToArray());
        var encoded = WireFormat.EncodeRequest(big);
        var pieces = ChunkAssembler.Split(encoded, 1000);
        Assert.Equal((encoded.Length + 999) / 1000, pieces.Length);
        var requestAssembler = new ChunkAssembler(pieces.Length, encoded.LongLength);
        for (int c = pieces.Length - 1; c >= 0; c--)
            requestAssembler.Add(new RequestChunk("s", 1, 2, 0, c, pieces.Length, encoded.LongLength, pieces[c]));
        Assert.Null(DeepEquality.FirstDifference(big, requestAssembler.CompleteRequest()));

        var small = Worker.WorkerActor.Package(request, new GramReply(new double[] { 1.0 }, 1), 4096);
        Assert.IsType<ShardResult>(Assert.Single(small));
    }
}
