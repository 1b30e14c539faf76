using System.Runtime.Serialization;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Serialization;

/// <summary>
/// The binary wire format of every DistSoftmax message and of the Core statistics requests and replies.
///
/// A payload is a one-byte header (<see cref="Version"/>) followed by the fields of the type its manifest names.
/// A request or reply nested inside a message (EvaluateShard, ShardResult) is written as its manifest string
/// followed by its fields, through the same table. Adding a type is one <c>Add</c> line in the table below
/// (the serializer round-trip tests fail for any concrete protocol, request or reply type without one).
/// </summary>
public static class WireFormat
{
    /// <summary>Format version written as the first byte of every payload.</summary>
    public const byte Version = 1;

    private sealed record Entry(string Manifest, Type Type, Action<WireWriter, object> Write, Func<WireReader, object> Read);

    private static readonly Dictionary<Type, Entry> ByType = new();
    private static readonly Dictionary<string, Entry> ByManifest = new(StringComparer.Ordinal);

    private static void Add<T>(string manifest, Action<WireWriter, T> write, Func<WireReader, T> read) where T : notnull
    {
        var e = new Entry(manifest, typeof(T), (w, o) => write(w, (T)o), r => read(r));
        ByType.Add(typeof(T), e);
        ByManifest.Add(manifest, e);
    }

    static WireFormat()
    {
        // ---- Core: statistics requests -------------------------------------------------------------------
        Add<ScalarsRequest>("ScalarsRequest",
            (w, m) =>
            {
                w.WriteDoubles(m.X);
                w.WriteBool(m.Reference is not null);
                if (m.Reference is not null) w.WriteDoubles(m.Reference);
                w.WriteBool(m.WithGradient);
                w.WriteInt32(m.SketchRows); w.WriteUInt64(m.SketchSeed); WriteKind(w, m.SketchKind); WriteSketchForm(w, m.SketchForm);
                w.WriteBool(m.SinglePrecision);
                w.WriteBool(m.Anchored);
            },
            r => new ScalarsRequest(r.ReadDoubles(), r.ReadBool() ? r.ReadDoubles() : null, r.ReadBool(),
                r.ReadInt32(), r.ReadUInt64(), ReadKind(r), ReadSketchForm(r), r.ReadBool(), r.ReadBool()));
        Add<GradientRequest>("GradientRequest",
            (w, m) =>
            {
                w.WriteDoubles(m.X); w.WriteDoubles(m.Globals); WriteKind(w, m.Kind); w.WriteBool(m.WithLowRank);
                w.WriteInt32(m.SketchRows); w.WriteUInt64(m.SketchSeed); WriteSketchForm(w, m.SketchForm);
            },
            r => new GradientRequest(r.ReadDoubles(), r.ReadDoubles(), ReadKind(r), r.ReadBool(), r.ReadInt32(), r.ReadUInt64(), ReadSketchForm(r)));
        Add<GramRequest>("GramRequest",
            (w, m) => { w.WriteDoubles(m.X); w.WriteDoubles(m.Globals); WriteKind(w, m.Kind); },
            r => new GramRequest(r.ReadDoubles(), r.ReadDoubles(), ReadKind(r)));
        Add<SampledGramRequest>("SampledGramRequest",
            (w, m) =>
            {
                w.WriteDoubles(m.X); w.WriteDoubles(m.Globals); WriteKind(w, m.Kind); w.WriteDoubles(m.ProjectionT); w.WriteInt32(m.K);
                w.WriteDouble(m.TotalLeverage); w.WriteDouble(m.SampleSize); w.WriteUInt64(m.SampleSeed); w.WriteBool(m.Uniform);
                w.WriteBool(m.SinglePrecision);
            },
            r => new SampledGramRequest(r.ReadDoubles(), r.ReadDoubles(), ReadKind(r), r.ReadDoubles(), r.ReadInt32(),
                r.ReadDouble(), r.ReadDouble(), r.ReadUInt64(), r.ReadBool(), r.ReadBool()));
        Add<HessianVectorRequest>("HessianVectorRequest",
            (w, m) =>
            {
                w.WriteDoubles(m.X); w.WriteDoubles(m.Globals); WriteKind(w, m.Kind); w.WriteDoubles(m.V); w.WriteBool(m.SinglePrecision);
                w.WriteBool(m.SinglePassIterate);
            },
            r => new HessianVectorRequest(r.ReadDoubles(), r.ReadDoubles(), ReadKind(r), r.ReadDoubles(), r.ReadBool(), r.ReadBool()));
        Add<KroneckerFactorsRequest>("KroneckerFactorsRequest",
            (w, m) =>
            {
                w.WriteDoubles(m.X); WriteKind(w, m.Kind); w.WriteBool(m.SinglePrecision); w.WriteDouble(m.RowShare); w.WriteUInt64(m.SampleSeed);
                w.WriteBool(m.SinglePassIterate);
            },
            r => new KroneckerFactorsRequest(r.ReadDoubles(), ReadKind(r), r.ReadBool(), r.ReadDouble(), r.ReadUInt64(), r.ReadBool()));
        Add<MiniBatchGradientRequest>("MiniBatchGradientRequest",
            (w, m) => { w.WriteDoubles(m.X); w.WriteUInt64(m.Seed); w.WriteInt32(m.Epoch); w.WriteInt32(m.Batch); w.WriteDouble(m.BatchFraction); },
            r => new MiniBatchGradientRequest(r.ReadDoubles(), r.ReadUInt64(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble()));

        // ---- Core: statistics replies --------------------------------------------------------------------
        Add<ScalarsReply>("ScalarsReply",
            (w, m) =>
            {
                WriteScalarSums(w, m.Family); w.WriteDouble(m.RegularizerSum); w.WriteInt64(m.Rows);
                w.WriteDoubles(m.GradientBasis); w.WriteDoubles(m.Sketch); WriteSketchColumns(w, m.Sketch, m.SketchColumns);
            },
            r =>
            {
                var (family, reg, rows, basis, sketch) = (ReadScalarSums(r), r.ReadDouble(), r.ReadInt64(), r.ReadDoubles(), r.ReadDoubles());
                return new ScalarsReply(family, reg, rows, basis, sketch, ReadSketchColumns(r, sketch));
            });
        Add<GradientReply>("GradientReply",
            (w, m) => { w.WriteDoubles(m.Gradient); w.WriteDoubles(m.LowRank); w.WriteDoubles(m.Sketch); WriteSketchColumns(w, m.Sketch, m.SketchColumns); },
            r =>
            {
                var (gradient, lowRank, sketch) = (r.ReadDoubles(), r.ReadDoubles(), r.ReadDoubles());
                return new GradientReply(gradient, lowRank, sketch, ReadSketchColumns(r, sketch));
            });
        Add<GramReply>("GramReply",
            (w, m) => { w.WriteDoubles(m.PackedUpper); w.WriteInt64(m.RowsUsed); },
            r => new GramReply(r.ReadDoubles(), r.ReadInt64()));
        Add<KroneckerFactorsReply>("KroneckerFactorsReply",
            (w, m) => { w.WriteDoubles(m.LeftPacked); w.WriteDoubles(m.RightPacked); w.WriteDouble(m.WeightSum); w.WriteInt64(m.Rows); },
            r => new KroneckerFactorsReply(r.ReadDoubles(), r.ReadDoubles(), r.ReadDouble(), r.ReadInt64()));
        Add<HessianVectorReply>("HessianVectorReply",
            (w, m) => { w.WriteDoubles(m.Product); w.WriteDoubles(m.LowRankDots); },
            r => new HessianVectorReply(r.ReadDoubles(), r.ReadDoubles()));
        // A matrix solve's log-linear start (Solvers/LogLinearStart), its first request.
        Add<LogLinearStartRequest>("LogLinearStartRequest", (_, _) => { }, _ => new LogLinearStartRequest());
        Add<LogLinearStartReply>("LogLinearStartReply",
            (w, m) => { w.WriteDoubles(m.Gram); w.WriteDoubles(m.Projected); w.WriteDoubles(m.GradientAtZero); w.WriteInt64(m.UsableRows); w.WriteInt64(m.Rows); },
            r => new LogLinearStartReply(r.ReadDoubles(), r.ReadDoubles(), r.ReadDoubles(), r.ReadInt64(), r.ReadInt64()));
        // The log-linear start's scale (Solvers/LogLinearStart.FitScale): the loss along the ray t·X at one t.
        Add<StartScaleRequest>("StartScaleRequest", (w, m) => { w.WriteDoubles(m.X); w.WriteDouble(m.Scale); },
            r => new StartScaleRequest(r.ReadDoubles(), r.ReadDouble()));
        Add<StartScaleReply>("StartScaleReply",
            (w, m) => { w.WriteDouble(m.Loss); w.WriteDouble(m.Slope); w.WriteDouble(m.Curvature); w.WriteDouble(m.GaussNewtonCurvature); w.WriteInt64(m.Rows); },
            r => new StartScaleReply(r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadInt64()));
        // The post-solve analysis's requests (Analysis/PostSolveEvaluator), answered where the solve left the rows.
        Add<TargetSummaryRequest>("TargetSummaryRequest", (_, _) => { }, _ => new TargetSummaryRequest());
        Add<DataGramRequest>("DataGramRequest", (_, _) => { }, _ => new DataGramRequest());
        Add<RowProductsRequest>("RowProductsRequest", (w, m) => w.WriteDoubles(m.X), r => new RowProductsRequest(r.ReadDoubles()));
        Add<TargetSummaryReply>("TargetSummaryReply",
            (w, m) => { w.WriteDouble(m.TargetL1); w.WriteDouble(m.MinSquaredWeight); w.WriteInt64(m.Rows); },
            r => new TargetSummaryReply(r.ReadDouble(), r.ReadDouble(), r.ReadInt64()));
        Add<RowProductsReply>("RowProductsReply",
            (w, m) => { w.WriteDoubles(m.Products); w.WriteDoubles(m.Targets); w.WriteInt32(m.Columns); },
            r => ReadRowProducts(r.ReadDoubles(), r.ReadDoubles(), r.ReadInt32()));

        // ---- Worker protocol ---------------------------------------------------------------------------------
        Add<CoordinatorHello>("CoordinatorHello", (w, m) => w.WriteString(m.CoordinatorId), r => new CoordinatorHello(r.ReadString()));
        Add<RegisterWorker>("RegisterWorker",
            (w, m) =>
            {
                w.WriteString(m.WorkerId); w.WriteInt32(m.ProcessorCount);
                w.WriteInt32(m.Cached.Count);
                foreach (var c in m.Cached) { w.WriteString(c.Source); w.WriteInt64(c.RowStart); w.WriteInt32(c.Rows); }
            },
            r =>
            {
                string id = r.ReadString();
                int processors = r.ReadInt32();
                // Each entry: a string (≥ 4 bytes of length), row start, rows.
                int n = r.ReadCount(4 + 8 + 4, "a cached row list");
                var cached = new CachedRows[n];
                for (int i = 0; i < n; i++) cached[i] = new CachedRows(r.ReadString(), r.ReadInt64(), r.ReadInt32());
                return new RegisterWorker(id, processors, cached);
            });
        Add<WorkerRegistered>("WorkerRegistered", (w, m) => w.WriteString(m.CoordinatorId), r => new WorkerRegistered(r.ReadString()));
        Add<AssignShard>("AssignShard",
            (w, m) => { w.WriteString(m.SolveId); w.WriteInt32(m.Epoch); w.WriteInt32(m.ShardIndex); WriteSource(w, m.Source); WriteRange(w, m.Rows); },
            r => new AssignShard(r.ReadString(), r.ReadInt32(), r.ReadInt32(), ReadSource(r), ReadRange(r)));
        Add<ShardLoaded>("ShardLoaded",
            (w, m) => { w.WriteString(m.SolveId); w.WriteInt32(m.Epoch); w.WriteInt32(m.ShardIndex); w.WriteString(m.WorkerId); w.WriteInt64(m.Rows); w.WriteDouble(m.Seconds); },
            r => new ShardLoaded(r.ReadString(), r.ReadInt32(), r.ReadInt32(), r.ReadString(), r.ReadInt64(), r.ReadDouble()));
        Add<ShardLoadFailed>("ShardLoadFailed",
            (w, m) => { w.WriteString(m.SolveId); w.WriteInt32(m.Epoch); w.WriteInt32(m.ShardIndex); w.WriteString(m.WorkerId); w.WriteString(m.Reason); },
            r => new ShardLoadFailed(r.ReadString(), r.ReadInt32(), r.ReadInt32(), r.ReadString(), r.ReadString()));
        Add<ReleaseShard>("ReleaseShard",
            (w, m) => { w.WriteString(m.SolveId); w.WriteInt32(m.ShardIndex); },
            r => new ReleaseShard(r.ReadString(), r.ReadInt32()));
        Add<ReleaseSolve>("ReleaseSolve", (w, m) => w.WriteString(m.SolveId), r => new ReleaseSolve(r.ReadString()));
        Add<EvaluateShard>("EvaluateShard",
            (w, m) => { WriteStep(w, m.SolveId, m.Epoch, m.Step, m.ShardIndex); WriteRequest(w, m.Request); },
            r => { var (s, e, st, k) = ReadStep(r); return new EvaluateShard(s, e, st, k, ReadRequest(r)); });
        Add<RequestChunk>("RequestChunk",
            (w, m) =>
            {
                WriteStep(w, m.SolveId, m.Epoch, m.Step, m.ShardIndex);
                w.WriteInt32(m.ChunkIndex); w.WriteInt32(m.ChunkCount); w.WriteInt64(m.TotalBytes); w.WriteBytes(m.Bytes);
            },
            r => { var (s, e, st, k) = ReadStep(r); return new RequestChunk(s, e, st, k, r.ReadInt32(), r.ReadInt32(), r.ReadInt64(), r.ReadBytes()); });
        Add<ShardResult>("ShardResult",
            (w, m) => { WriteStep(w, m.SolveId, m.Epoch, m.Step, m.ShardIndex); WriteReply(w, m.Reply); },
            r => { var (s, e, st, k) = ReadStep(r); return new ShardResult(s, e, st, k, ReadReply(r)); });
        Add<ReplyChunk>("ReplyChunk",
            (w, m) =>
            {
                WriteStep(w, m.SolveId, m.Epoch, m.Step, m.ShardIndex);
                w.WriteInt32(m.ChunkIndex); w.WriteInt32(m.ChunkCount); w.WriteInt64(m.TotalBytes); w.WriteBytes(m.Bytes);
            },
            r => { var (s, e, st, k) = ReadStep(r); return new ReplyChunk(s, e, st, k, r.ReadInt32(), r.ReadInt32(), r.ReadInt64(), r.ReadBytes()); });
        Add<ShardFailed>("ShardFailed",
            (w, m) => { WriteStep(w, m.SolveId, m.Epoch, m.Step, m.ShardIndex); w.WriteString(m.Reason); w.WriteBool(m.WorkerFault); },
            r => { var (s, e, st, k) = ReadStep(r); return new ShardFailed(s, e, st, k, r.ReadString(), r.ReadBool()); });
        Add<GetWorkerStatus>("GetWorkerStatus", (_, _) => { }, _ => GetWorkerStatus.Instance);
        Add<WorkerStatus>("WorkerStatus",
            (w, m) =>
            {
                w.WriteString(m.WorkerId);
                w.WriteInt32(m.Shards.Count);
                foreach (var h in m.Shards)
                {
                    w.WriteString(h.SolveId); w.WriteInt32(h.ShardIndex); w.WriteInt32(h.Epoch); w.WriteBool(h.Loaded); w.WriteInt64(h.Rows);
                }
            },
            r =>
            {
                var id = r.ReadString();
                int n = r.ReadCount(4 + 4 + 4 + 1 + 8, "a shard list");
                var shards = new HeldShard[n];
                for (int i = 0; i < n; i++)
                    shards[i] = new HeldShard(r.ReadString(), r.ReadInt32(), r.ReadInt32(), r.ReadBool(), r.ReadInt64());
                return new WorkerStatus(id, shards);
            });

        Add<GetShardCacheStatus>("GetShardCacheStatus", (_, _) => { }, _ => GetShardCacheStatus.Instance);
        Add<ShardCacheStatus>("ShardCacheStatus",
            (w, m) =>
            {
                w.WriteString(m.WorkerId);
                w.WriteInt64(m.BudgetBytes); w.WriteInt64(m.UsedBytes); w.WriteInt64(m.Hits); w.WriteInt64(m.Misses); w.WriteInt64(m.Evictions);
                w.WriteInt32(m.Entries.Count);
                foreach (var e in m.Entries)
                {
                    w.WriteString(e.Source); w.WriteInt64(e.RowStart); w.WriteInt32(e.Rows); w.WriteInt64(e.Bytes); w.WriteBool(e.InUse);
                }
            },
            r =>
            {
                var id = r.ReadString();
                long budget = r.ReadInt64(), used = r.ReadInt64(), hits = r.ReadInt64(), misses = r.ReadInt64(), evictions = r.ReadInt64();
                // Each entry: a string (≥ 4 bytes of length), row start, rows, bytes, in use.
                int n = r.ReadCount(4 + 8 + 4 + 8 + 1, "a cache entry list");
                var entries = new CachedShard[n];
                for (int i = 0; i < n; i++)
                    entries[i] = new CachedShard(r.ReadString(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64(), r.ReadBool());
                return new ShardCacheStatus(id, budget, used, hits, misses, evictions, entries);
            });

        // ---- Coordinator protocol and events -----------------------------------------------------------------
        Add<CancelSolve>("CancelSolve", (_, _) => { }, _ => CancelSolve.Instance);
        Add<WorkerJoined>("WorkerJoined",
            (w, m) => { w.WriteString(m.SolveId); w.WriteString(m.WorkerId); w.WriteString(m.Address); w.WriteInt32(m.ProcessorCount); },
            r => new WorkerJoined(r.ReadString(), r.ReadString(), r.ReadString(), r.ReadInt32()));
        Add<WorkerLost>("WorkerLost",
            (w, m) => { w.WriteString(m.SolveId); w.WriteString(m.WorkerId); w.WriteString(m.Reason); },
            r => new WorkerLost(r.ReadString(), r.ReadString(), r.ReadString()));
        Add<ShardAssigned>("ShardAssigned",
            (w, m) =>
            {
                w.WriteString(m.SolveId); w.WriteInt32(m.Epoch); w.WriteInt32(m.ShardIndex); WriteRange(w, m.Rows);
                w.WriteString(m.WorkerId); w.WriteNullableString(m.PreviousWorkerId);
            },
            r => new ShardAssigned(r.ReadString(), r.ReadInt32(), r.ReadInt32(), ReadRange(r), r.ReadString(), r.ReadNullableString()));
        Add<ShardReady>("ShardReady",
            (w, m) => { w.WriteString(m.SolveId); w.WriteInt32(m.Epoch); w.WriteInt32(m.ShardIndex); w.WriteString(m.WorkerId); w.WriteInt64(m.Rows); w.WriteDouble(m.Seconds); },
            r => new ShardReady(r.ReadString(), r.ReadInt32(), r.ReadInt32(), r.ReadString(), r.ReadInt64(), r.ReadDouble()));
        Add<SolveProgress>("SolveProgress",
            (w, m) => { w.WriteString(m.SolveId); WriteTrace(w, m.Entry); },
            r => new SolveProgress(r.ReadString(), ReadTrace(r)));
        Add<SolveCompleted>("SolveCompleted",
            (w, m) => { w.WriteString(m.SolveId); WriteResult(w, m.Result); },
            r => new SolveCompleted(r.ReadString(), ReadResult(r)));
        Add<SolveFailed>("SolveFailed",
            (w, m) => { w.WriteString(m.SolveId); w.WriteString(m.Reason); },
            r => new SolveFailed(r.ReadString(), r.ReadString()));
    }

    /// <summary>Every type the table knows (tests check that no protocol, request or reply type is missing).</summary>
    public static IReadOnlyCollection<Type> RegisteredTypes => ByType.Keys;

    public static bool IsRegistered(Type type) => ByType.ContainsKey(type);

    public static string ManifestOf(object message) => EntryFor(message).Manifest;

    private static Entry EntryFor(object message) =>
        ByType.TryGetValue(message.GetType(), out var e)
            ? e
            : throw new SerializationException($"the DistSoftmax wire format has no entry for {message.GetType().FullName}");

    /// <summary>Header and fields of a message; its manifest travels beside it (Akka's string manifest).</summary>
    public static byte[] Encode(object message)
    {
        var e = EntryFor(message);
        var w = new WireWriter();
        w.WriteByte(Version);
        e.Write(w, message);
        return w.ToArray();
    }

    public static object Decode(byte[] bytes, string manifest)
    {
        if (!ByManifest.TryGetValue(manifest, out var e))
            throw new SerializationException($"unknown DistSoftmax manifest '{manifest}'");
        var r = new WireReader(bytes);
        ReadHeader(r);
        var message = e.Read(r);
        r.EnsureEnd(manifest);
        return message;
    }

    /// <summary>A reply as a self-describing byte string (header, tag, fields): what <see cref="ReplyChunk"/>s carry.</summary>
    public static byte[] EncodeReply(ShardReply reply)
    {
        var w = new WireWriter();
        w.WriteByte(Version);
        WriteReply(w, reply);
        return w.ToArray();
    }

    /// <summary>A request as a self-describing byte string (header, tag, fields): what <see cref="RequestChunk"/>s carry.</summary>
    public static byte[] EncodeRequest(ShardRequest request)
    {
        var w = new WireWriter();
        w.WriteByte(Version);
        WriteRequest(w, request);
        return w.ToArray();
    }

    public static ShardRequest DecodeRequest(byte[] bytes)
    {
        var r = new WireReader(bytes);
        ReadHeader(r);
        var request = ReadRequest(r);
        r.EnsureEnd(request.GetType().Name);
        return request;
    }

    public static ShardReply DecodeReply(byte[] bytes)
    {
        var r = new WireReader(bytes);
        ReadHeader(r);
        var reply = ReadReply(r);
        r.EnsureEnd(reply.GetType().Name);
        return reply;
    }

    private static void ReadHeader(WireReader r)
    {
        if (r.Remaining == 0) throw new SerializationException("corrupt DistSoftmax payload: empty");
        byte v = r.ReadByte();
        if (v != Version) throw new SerializationException($"DistSoftmax wire format version {v} is not supported (this node speaks {Version})");
    }

    // ---- nested values -------------------------------------------------------------------------------------

    internal static void WriteRequest(WireWriter w, ShardRequest request)
    {
        var e = EntryFor(request);
        w.WriteString(e.Manifest);
        e.Write(w, request);
    }

    internal static ShardRequest ReadRequest(WireReader r) => ReadTagged<ShardRequest>(r, "request");

    internal static void WriteReply(WireWriter w, ShardReply reply)
    {
        var e = EntryFor(reply);
        w.WriteString(e.Manifest);
        e.Write(w, reply);
    }

    internal static ShardReply ReadReply(WireReader r) => ReadTagged<ShardReply>(r, "reply");

    private static T ReadTagged<T>(WireReader r, string what) where T : class
    {
        var tag = r.ReadString();
        if (!ByManifest.TryGetValue(tag, out var e) || !typeof(T).IsAssignableFrom(e.Type))
            throw new SerializationException($"corrupt DistSoftmax payload: '{tag}' is not a known {what} type");
        return (T)e.Read(r);
    }

    private static void WriteStep(WireWriter w, string solveId, int epoch, long step, int shard)
    {
        w.WriteString(solveId); w.WriteInt32(epoch); w.WriteInt64(step); w.WriteInt32(shard);
    }

    private static (string SolveId, int Epoch, long Step, int Shard) ReadStep(WireReader r) =>
        (r.ReadString(), r.ReadInt32(), r.ReadInt64(), r.ReadInt32());

    private static void WriteKind(WireWriter w, HessianKind kind) => w.WriteByte((byte)kind);

    private static void WriteSketchForm(WireWriter w, SketchForm form) => w.WriteByte((byte)form);

    private static SketchForm ReadSketchForm(WireReader r)
    {
        var f = (SketchForm)r.ReadByte();
        return Enum.IsDefined(f) ? f : throw new SerializationException($"corrupt DistSoftmax payload: sketch form {(byte)f}");
    }

    /// <summary>The d of a packed-triangle sketch, 0 for rows.</summary>
    private static void WriteSketchColumns(WireWriter w, double[] sketch, int columns) => w.WriteInt32(columns);

    /// <summary>A triangle's d must match its length, d(d+1)/2.</summary>
    private static int ReadSketchColumns(WireReader r, double[] sketch)
    {
        int columns = r.ReadInt32();
        if (columns < 0 || (columns > 0 && sketch.Length != 0 && (long)columns * (columns + 1) / 2 != sketch.Length))
            throw new SerializationException($"corrupt DistSoftmax payload: a sketch triangle of {columns} columns has {sketch.Length} entries");
        return columns;
    }

    private static HessianKind ReadKind(WireReader r)
    {
        var k = (HessianKind)r.ReadByte();
        return Enum.IsDefined(k) ? k : throw new SerializationException($"corrupt DistSoftmax payload: Hessian kind {(byte)k}");
    }

    /// <summary>Rows of a model and of its targets: as many of each, whole rows of a positive width.</summary>
    private static RowProductsReply ReadRowProducts(double[] products, double[] targets, int columns)
    {
        if (columns < 1 || products.Length != targets.Length || products.Length % columns != 0)
            throw new SerializationException($"corrupt DistSoftmax payload: {products.Length} model values and {targets.Length} targets in rows of {columns}");
        return new RowProductsReply(products, targets, columns);
    }

    private static void WriteScalarSums(WireWriter w, ScalarSums s)
    {
        w.WriteDouble(s.Shift); w.WriteDoubles(s.Sums); w.WriteInt32s(s.Powers);
    }

    private static ScalarSums ReadScalarSums(WireReader r)
    {
        var s = new ScalarSums(r.ReadDouble(), r.ReadDoubles(), r.ReadInt32s());
        if (s.Sums.Length != s.Powers.Length)
            throw new SerializationException($"corrupt DistSoftmax payload: {s.Sums.Length} scalar sums with {s.Powers.Length} powers");
        return s;
    }

    private static void WriteSource(WireWriter w, ProblemSource s)
    {
        w.WriteString(s.Kind);
        w.WriteInt32(s.Parameters.Count);
        foreach (var p in s.Parameters) { w.WriteString(p.Key); w.WriteString(p.Value); }
    }

    private static ProblemSource ReadSource(WireReader r)
    {
        var kind = r.ReadString();
        int n = r.ReadCount(8, "a parameter list");
        var ps = new KeyValuePair<string, string>[n];
        for (int i = 0; i < n; i++) ps[i] = KeyValuePair.Create(r.ReadString(), r.ReadString());
        return new ProblemSource(kind, ps);
    }

    private static void WriteRange(WireWriter w, RowRange range)
    {
        w.WriteInt64(range.Start); w.WriteInt32(range.Count);
    }

    private static RowRange ReadRange(WireReader r)
    {
        long start = r.ReadInt64();
        int count = r.ReadInt32();
        if (start < 0 || count < 0) throw new SerializationException($"corrupt DistSoftmax payload: row range [{start}, +{count})");
        return new RowRange(start, count);
    }

    private const int TraceBytes = 4 + 8 * 7 + 4;

    private static void WriteTrace(WireWriter w, TraceEntry t)
    {
        w.WriteInt32(t.Iteration); w.WriteDouble(t.Loss); w.WriteDouble(t.GradientNorm); w.WriteDouble(t.StepLength);
        w.WriteInt64(t.RowsSampled); w.WriteDouble(t.Seconds); w.WriteInt64(t.Requests); w.WriteDouble(t.NegativeCurvature);
        w.WriteInt32(t.CgIterations);
    }

    private static TraceEntry ReadTrace(WireReader r) =>
        new(r.ReadInt32(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadInt64(), r.ReadDouble(), r.ReadInt64(), r.ReadDouble(), r.ReadInt32());

    private static void WriteResult(WireWriter w, SolverResult s)
    {
        w.WriteString(s.Solver); w.WriteDoubles(s.X); w.WriteByte((byte)s.Exit); w.WriteString(s.Message);
        w.WriteInt32(s.Iterations); w.WriteDouble(s.Loss); w.WriteDouble(s.GradientNorm); w.WriteDouble(s.InitialGradientNorm);
        w.WriteInt32(s.Trace.Count);
        foreach (var t in s.Trace) WriteTrace(w, t);
        w.WriteDouble(s.Seconds); w.WriteInt64(s.Requests); w.WriteInt64(s.LogLinearStartRows ?? -1);
        w.WriteDouble(s.LogLinearStartScale ?? double.NaN);
    }

    private static SolverResult ReadResult(WireReader r)
    {
        var solver = r.ReadString();
        var x = r.ReadDoubles();
        var exit = (ExitCondition)r.ReadByte();
        if (!Enum.IsDefined(exit)) throw new SerializationException($"corrupt DistSoftmax payload: exit condition {(byte)exit}");
        var message = r.ReadString();
        int iterations = r.ReadInt32();
        double loss = r.ReadDouble(), gnorm = r.ReadDouble(), g0 = r.ReadDouble();
        int n = r.ReadCount(TraceBytes, "a trace");
        var trace = new TraceEntry[n];
        for (int i = 0; i < n; i++) trace[i] = ReadTrace(r);
        double seconds = r.ReadDouble();
        long requests = r.ReadInt64(), startRows = r.ReadInt64();
        if (startRows < -1) throw new SerializationException($"corrupt DistSoftmax payload: {startRows} log-linear start rows");
        double startScale = r.ReadDouble();
        if (!(double.IsNaN(startScale) || (double.IsFinite(startScale) && startScale > 0)))
            throw new SerializationException($"corrupt DistSoftmax payload: log-linear start scale {startScale}");
        return new SolverResult(solver, x, exit, message, iterations, loss, gnorm, g0, trace, seconds, requests, startRows >= 0 ? startRows : null,
            double.IsNaN(startScale) ? null : startScale);
    }
}
