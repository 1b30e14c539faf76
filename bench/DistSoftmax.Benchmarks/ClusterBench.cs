using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Actor;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// `cluster [repeats=5] [transfers=7] [chunk-size bytes]`: the cost of the cluster's coordination on loopback.
///
/// 1. Per-step overhead: the same tiny solve (normalized softmax, n = 300, d = 10, gd, tolerance 0, 300 iterations)
///    through <see cref="InProcessDriver"/> (3 shards), <see cref="LocalSimulation"/> (one ActorSystem, 3 worker
///    actors) and <see cref="ClusterSolveJob"/> against 3 <see cref="WorkerNode"/>s (4 ActorSystems with remoting on
///    127.0.0.1). Overhead per step = (solve seconds − in-process solve seconds) / requests, from the medians.
/// 2. A 32 MB (d = 2000 full d×d) <see cref="GramReply"/> from a worker node to a second node through the worker's
///    chunked reply path (ReplyChunk of chunk-size bytes, reassembled with <see cref="ChunkAssembler"/>), against
///    the project's serializer round-trip of the same payload in-process.
/// Exit code 1 when a distributed solve's X is not bit-identical to the in-process one.
/// </summary>
public static class ClusterBench
{
    private const int N = 300, D = 10, Shards = 3, Iterations = 300;

    public static int Run(string[] args)
    {
        int repeats = args.Length > 0 ? int.Parse(args[0]) : 5;
        int transfers = args.Length > 1 ? int.Parse(args[1]) : 7;
        int? chunkSize = args.Length > 2 ? int.Parse(args[2]) : null;
        Progress($"cluster bench: {Environment.ProcessorCount} cores, .NET {Environment.Version}, load average {LoadAverage()}");
        bool ok = StepOverhead(repeats).GetAwaiter().GetResult();
        Transfer(transfers, chunkSize).GetAwaiter().GetResult();
        // The tables come last: leaving nodes make Akka.Remote log disassociations, which would split them.
        Console.WriteLine();
        Console.WriteLine($"==== results ({Environment.ProcessorCount} cores; load average at start {_loadAtStart}, at end {LoadAverage()}) ====");
        Console.Write(_report);
        return ok ? 0 : 1;
    }

    private static readonly System.Text.StringBuilder _report = new();
    private static string? _loadAtStart;

    private static void Report(string line) => _report.AppendLine(line);

    private static void Progress(string line)
    {
        _loadAtStart ??= LoadAverage();
        Console.WriteLine(line);
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>Bench nodes: the production cluster.conf (timeouts, frame size, chunk size) with quieter logging.</summary>
    private const string Quiet = """
        akka.loglevel = WARNING
        akka.cluster.log-info = off
        akka.remote.log-remote-lifecycle-events = off
        """;

    private static NodeOptions Node(IReadOnlyList<string> seeds) =>
        new() { Host = "127.0.0.1", Port = 0, Seeds = seeds, ExtraHocon = Quiet };

    // ---- 1. per-step coordination overhead ---------------------------------------------------------------------

    private sealed record Run1(string Name, SolverResult Result, double Wall, double? StartUp, double? Leave);

    private static async Task<bool> StepOverhead(int repeats)
    {
        var data = new double[N * D];
        new Rng(7).FillNormal(data, 1.5 / Math.Sqrt(D));
        var a = new DenseMatrix(N, D, data);
        var b = new Rng(8).NextDirichlet(N);
        var reg = Regularizer.Uniform(0.05);
        var loader = new InMemoryShardLoader();
        var source = loader.RegisterVector("bench-300x10", NormalizedSoftmax.Instance, a, b, reg);
        var objective = new VectorObjective(NormalizedSoftmax.Instance, D, N);
        var x0 = new double[D];
        // Tolerance 0 and no stall exit: the solve runs its 300 iterations whatever the loss does.
        var options = new SolverOptions { RelativeTolerance = 0, AbsoluteTolerance = 0, MaxIterations = Iterations, StallIterations = 1_000_000 };
        Solver Gd() => SolverCatalog.Create("gd");

        Progress($"1. per-step overhead: starting {Shards} worker nodes");
        var clock = Stopwatch.StartNew();
        var nodes = new List<WorkerNode>();
        try
        {
            nodes.Add(WorkerNode.Start(Node(Array.Empty<string>()), loader));
            if (!await nodes[0].WaitUntilUpAsync(TimeSpan.FromSeconds(30))) throw new TimeoutException("seed node not Up");
            var seeds = new[] { nodes[0].Address.ToString() };
            for (int i = 1; i < Shards; i++) nodes.Add(WorkerNode.Start(Node(seeds), loader));
            foreach (var node in nodes.Skip(1))
                if (!await node.WaitUntilUpAsync(TimeSpan.FromSeconds(30))) throw new TimeoutException($"node {node.Address} not Up");
            Progress($"   {nodes.Count} worker nodes Up in {clock.Elapsed.TotalSeconds:F1} s: {string.Join(", ", nodes.Select(n => n.Address.Port))}");

            // Event times (on the listener's thread): the first ShardAssigned is the moment the solve starts (all
            // workers registered), SolveCompleted the moment it ends; before/after them lie start-up and leave.
            var events = new List<(SolveEvent Event, double At)>();
            Stopwatch? eventClock = null;
            void Record(SolveEvent e)
            {
                lock (events) events.Add((e, eventClock!.Elapsed.TotalSeconds));
            }
            var kinds = new (string Name, Func<Task<SolverResult>> Solve)[]
            {
                ("in-process", () => Task.FromResult(new InProcessDriver(ShardLayout.VectorShards(NormalizedSoftmax.Instance, a, b, reg, Shards,
                    ShardComputeOptions.Sequential)).Solve(Gd(), objective, x0, options))),
                ("local simulation", () => LocalSimulation.SolveAsync(loader, source, Gd(), x0, options,
                    new LocalSimulationOptions { Workers = Shards, ExtraHocon = Quiet, Events = Record })),
                ("cluster (3 nodes)", () => ClusterSolveJob.RunAsync(
                    new ClusterJobOptions { Node = Node(seeds), MinWorkers = Shards, Events = Record },
                    loader, source, Gd(), x0, options)),
            };
            var runs = new List<Run1>();
            for (int r = -1; r < repeats; r++)
                foreach (var (name, solve) in kinds)
                {
                    lock (events) events.Clear();
                    eventClock = Stopwatch.StartNew();
                    var result = await solve().WaitAsync(TimeSpan.FromMinutes(5));
                    double wall = eventClock.Elapsed.TotalSeconds;
                    double? start = null, end = null;
                    lock (events)
                    {
                        if (events.FirstOrDefault(e => e.Event is ShardAssigned) is { Event: not null } s0) start = s0.At;
                        if (events.FirstOrDefault(e => e.Event is SolveCompleted) is { Event: not null } s1) end = s1.At;
                    }
                    if (r >= 0) runs.Add(new Run1(name, result, wall, start, end is { } e1 ? wall - e1 : null));
                    else Progress($"   warm-up {name}: {result.Seconds:F3} s, {result.Requests} requests, {result.Exit}, {result.Iterations} iterations");
                }

            var reference = runs.First(x => x.Name == "in-process").Result;
            double baseSeconds = Timing.MedianOf(runs.Where(x => x.Name == "in-process").Select(x => x.Result.Seconds));
            Report("");
            Report($"1. per-step overhead: normalized softmax n = {N}, d = {D}, {Shards} shards, gd, tol 0, max-iter {Iterations}; " +
                   $"median of {repeats} runs of each (after one warm-up), interleaved");
            Report($"   {"driver",-18} {"solve s",8} {"(min..max)",15} {"requests",8} {"ms/request",10} {"overhead ms/step",16} " +
                   $"{"iter ms p50/max",16} {"start s",7} {"leave s",7}  X vs in-process");
            bool allIdentical = true;
            foreach (var (name, _) in kinds)
            {
                var mine = runs.Where(x => x.Name == name).ToList();
                double s = Timing.MedianOf(mine.Select(x => x.Result.Seconds));
                long requests = mine[0].Result.Requests;
                bool identical = mine.All(x => SameBits(reference.X, x.Result.X) && x.Result.Requests == reference.Requests
                                              && x.Result.Iterations == reference.Iterations);
                allIdentical &= identical;
                // Per-iteration times from the solver's own trace (cumulative seconds), over every run.
                var iter = mine.SelectMany(x => x.Result.Trace.Zip(x.Result.Trace.Skip(1), (p, q) => (q.Seconds - p.Seconds) * 1e3)).ToList();
                string overhead = name == "in-process" ? "—" : $"{(s - baseSeconds) / requests * 1e3:F3}";
                string startUp = mine[0].StartUp is null ? "—" : $"{Timing.MedianOf(mine.Select(x => x.StartUp!.Value)):F2}";
                string leave = mine[0].Leave is null ? "—" : $"{Timing.MedianOf(mine.Select(x => x.Leave!.Value)):F2}";
                Report($"   {name,-18} {s,8:F3} {$"({mine.Min(x => x.Result.Seconds):F3}..{mine.Max(x => x.Result.Seconds):F3})",15} " +
                       $"{requests,8} {s / requests * 1e3,10:F3} {overhead,16} {$"{Timing.MedianOf(iter):F2}/{iter.Max():F1}",16} {startUp,7} {leave,7}  " +
                       (name == "in-process" ? "reference" : identical ? "bit-identical" : "DIFFERENT"));
            }
            Report($"   solve s: SolverResult.Seconds, the solver's clock from its first request to its result ({reference.Exit}, " +
                   $"{reference.Iterations} iterations, {reference.Requests} requests, loss {reference.Loss:E6}).");
            Report("   start s: from the call to the first shard assignment (ActorSystem start, join, discovery, registration);");
            Report("   leave s: from SolveCompleted to the call's return (cluster leave, ActorSystem termination).");
            return allIdentical;
        }
        finally
        {
            foreach (var node in nodes.AsEnumerable().Reverse()) await node.StopAsync();
        }
    }

    // ---- 2. 32 MB block between two nodes ------------------------------------------------------------------------

    private sealed class FixedReplyLoader(ShardReply reply, long rows) : IShardLoader
    {
        public ProblemShape Describe(ProblemSource source) => new(new VectorObjective(NormalizedSoftmax.Instance, 1, rows), rows);
        public IShard Load(ProblemSource source, RowRange range, ShardComputeOptions compute) => new Fixed(reply, range);

        private sealed class Fixed(ShardReply reply, RowRange range) : IShard
        {
            public long RowOffset => range.Start;
            public int Rows => range.Count;
            public ShardReply Evaluate(ShardRequest request) => reply;
        }
    }

    /// <summary>The coordinator's side of one step, reduced to what a chunked reply needs.</summary>
    private sealed class Receiver : ReceiveActor
    {
        public sealed record Expect(IActorRef Worker, EvaluateShard Request, TaskCompletionSource<(ShardReply Reply, int Chunks, double Seconds)> Done)
            : INoSerializationVerificationNeeded;

        private TaskCompletionSource<(ShardReply, int, double)>? _done;
        private ChunkAssembler? _assembler;
        private Stopwatch _clock = new();

        public Receiver(TaskCompletionSource<ShardLoaded> loaded)
        {
            Receive<ShardLoaded>(m => loaded.TrySetResult(m));
            Receive<Expect>(e =>
            {
                _done = e.Done;
                _assembler = null;
                _clock = Stopwatch.StartNew();
                e.Worker.Tell(e.Request);
            });
            Receive<ReplyChunk>(c =>
            {
                try
                {
                    _assembler ??= new ChunkAssembler(c.ChunkCount, c.TotalBytes);
                    if (_assembler.Add(c))
                    {
                        var reply = _assembler.CompleteReply();
                        _done!.TrySetResult((reply, c.ChunkCount, _clock.Elapsed.TotalSeconds));
                    }
                }
                catch (Exception ex) { _done?.TrySetException(ex); }
            });
            Receive<ShardResult>(m => _done?.TrySetResult((m.Reply, 1, _clock.Elapsed.TotalSeconds)));
            Receive<ShardFailed>(m => _done?.TrySetException(new InvalidOperationException(m.Reason)));
        }
    }

    private static async Task Transfer(int transfers, int? chunkSizeArg)
    {
        const int d = 2000;
        var full = new double[d * d];
        for (int i = 0; i < full.Length; i++) full[i] = Math.Sin(i) * 1e3 + i;
        var reply = new GramReply(full, 123);
        double mb = full.Length * 8 / 1e6;
        Progress($"2. {mb:F0} MB transfer: {transfers} transfers after one warm-up");

        // Baseline: the project's serializer, as bound in base.conf, round-trips the whole reply in-process.
        var workerOptions = Node(Array.Empty<string>());
        if (chunkSizeArg is { } cs) workerOptions = workerOptions with { ExtraHocon = workerOptions.ExtraHocon + $"\ndistsoftmax.worker.chunk-size = {cs}b" };
        var worker = WorkerNode.Start(workerOptions, new FixedReplyLoader(reply, 10));
        ActorSystem? coordinatorSystem = null;
        try
        {
            var serialization = worker.System.Serialization;
            var whole = new ShardResult("s-32mb", 1, 1, 0, reply);
            var serializer = serialization.FindSerializerFor(whole);
            if (serializer is not DistSoftmaxSerializer) throw new InvalidOperationException($"ShardResult is bound to {serializer.GetType().Name}");
            string manifest = Akka.Serialization.Serialization.ManifestFor(serializer, whole);
            var roundTrip = new List<double>();
            for (int r = -1; r < transfers; r++)
            {
                var sw = Stopwatch.StartNew();
                var bytes = serializer.ToBinary(whole);
                var back = (ShardResult)serialization.Deserialize(bytes, serializer.Identifier, manifest);
                double s = sw.Elapsed.TotalSeconds;
                if (!SameBits(full, ((GramReply)back.Reply).PackedUpper)) throw new InvalidOperationException("serializer round trip differs");
                if (r >= 0) roundTrip.Add(s);
            }

            // The same chunking in-process: EncodeReply, split into chunk-size ReplyChunks, each through the serializer,
            // reassembled and decoded (what both ends do around the socket, without the socket).
            int chunkSize = (int)(worker.System.Settings.Config.GetByteSize("distsoftmax.worker.chunk-size") ?? 1 << 20);
            var chunked = new List<double>();
            for (int r = -1; r < transfers; r++)
            {
                var sw = Stopwatch.StartNew();
                var encoded = WireFormat.EncodeReply(reply);
                int count = (encoded.Length + chunkSize - 1) / chunkSize;
                var assembler = new ChunkAssembler(count, encoded.Length);
                for (int c = 0; c < count; c++)
                {
                    int start = c * chunkSize;
                    var chunk = new ReplyChunk("s-32mb", 1, 1, 0, c, count, encoded.Length,
                        encoded.AsSpan(start, Math.Min(chunkSize, encoded.Length - start)).ToArray());
                    var bytes = serializer.ToBinary(chunk);
                    assembler.Add((ReplyChunk)serialization.Deserialize(bytes, serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, chunk)));
                }
                var back = (GramReply)assembler.CompleteReply();
                double s = sw.Elapsed.TotalSeconds;
                if (!SameBits(full, back.PackedUpper)) throw new InvalidOperationException("in-process chunk round trip differs");
                if (r >= 0) chunked.Add(s);
            }

            // Over the wire: a worker node and a second node (the coordinator role) in one cluster on 127.0.0.1.
            if (!await worker.WaitUntilUpAsync(TimeSpan.FromSeconds(30))) throw new TimeoutException("worker node not Up");
            var config = DistSoftmaxConfig.Cluster(Node(new[] { worker.Address.ToString() }), ClusterRole.Coordinator);
            coordinatorSystem = ActorSystem.Create(worker.Settings.SystemName, config);
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Akka.Cluster.Cluster.Get(coordinatorSystem).RegisterOnMemberUp(() => up.TrySetResult());
            await up.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var remoteWorker = await coordinatorSystem.ActorSelection(new RootActorPath(worker.Address) / "user" / worker.Settings.WorkerActor)
                .ResolveOne(TimeSpan.FromSeconds(10));
            var loaded = new TaskCompletionSource<ShardLoaded>(TaskCreationOptions.RunContinuationsAsynchronously);
            var receiver = coordinatorSystem.ActorOf(Props.Create(() => new Receiver(loaded)), "receiver");
            var src = ProblemSource.Create("fixed", Array.Empty<KeyValuePair<string, string>>());
            remoteWorker.Tell(new AssignShard("s-32mb", 1, 0, src, new RowRange(0, 10)), receiver);
            await loaded.Task.WaitAsync(TimeSpan.FromSeconds(30));

            var wire = new List<double>();
            int chunks = 0;
            for (int r = -1; r < transfers; r++)
            {
                var done = new TaskCompletionSource<(ShardReply Reply, int Chunks, double Seconds)>(TaskCreationOptions.RunContinuationsAsynchronously);
                receiver.Tell(new Receiver.Expect(remoteWorker, new EvaluateShard("s-32mb", 1, r + 2, 0, new ScalarsRequest(new double[1])), done));
                var (back, n, s) = await done.Task.WaitAsync(TimeSpan.FromSeconds(120));
                if (!SameBits(full, ((GramReply)back).PackedUpper)) throw new InvalidOperationException("the block that crossed differs");
                chunks = n;
                if (r >= 0) wire.Add(s);
                await Task.Delay(200); // let the last chunk's buffers go before the next transfer
            }

            double tWire = Timing.MedianOf(wire), tRound = Timing.MedianOf(roundTrip), tChunk = Timing.MedianOf(chunked);
            Report("");
            Report($"2. a full d×d block, d = {d} ({mb:F0} MB of doubles) as a GramReply; median of {transfers} (after one warm-up)");
            Report($"   {"path",-58} {"ms",8} {"(min..max)",17} {"MB/s",8} {"× baseline",11}");
            void Row(string name, List<double> t, double median) =>
                Report($"   {name,-58} {median * 1e3,8:F1} {$"({t.Min() * 1e3:F0}..{t.Max() * 1e3:F0})",17} {mb / median,8:F0} {median / tRound,11:F2}");
            Row("serializer ToBinary+FromBinary, one ShardResult (baseline)", roundTrip, tRound);
            Row($"in-process chunk path ({chunks} ReplyChunks of ≤ {chunkSize} B)", chunked, tChunk);
            Row("worker node → second node over loopback remoting", wire, tWire);
            Report("   (over the wire: from the request leaving the receiver to the reassembled, decoded reply; it includes the");
            Report("    worker's encoding and chunking on its compute thread, Akka.Remote framing, TCP on 127.0.0.1, reassembly)");
        }
        finally
        {
            if (coordinatorSystem is not null) await ClusterLeave(coordinatorSystem);
            await worker.StopAsync();
        }
    }

    private static async Task ClusterLeave(ActorSystem system)
    {
        await Akka.Cluster.Cluster.Get(system).LeaveAsync().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
    }

    // ---- helpers ---------------------------------------------------------------------------------------------------

    private static bool SameBits(double[] a, double[] b) =>
        a.Length == b.Length && MemoryMarshal.AsBytes(a.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(b.AsSpan()));
}
