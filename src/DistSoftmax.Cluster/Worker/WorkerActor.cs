using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Worker;

/// <summary>
/// Owns row shards, keyed by (SolveId, ShardIndex), for any number of solves and coordinators.
///
/// The actor itself only bookkeeps: loading rows (<see cref="IShardLoader.Load"/>) and evaluating requests
/// (<see cref="IShard.Evaluate"/>) run as tasks on a <see cref="DedicatedThreadScheduler"/> and come back with
/// PipeTo, so the actor is never blocked. Requests for one shard run one at a time in arrival order (shards are
/// not thread-safe); different shards may run concurrently. A reply to a coordinator on another node whose encoding
/// is larger than <see cref="WorkerSettings.ChunkSize"/> goes back as <see cref="ReplyChunk"/>s; within one
/// ActorSystem a reply goes whole and is never encoded here (there is no frame to fit).
///
/// Loaded shards are kept across solves in a <see cref="ShardCache"/> (<see cref="WorkerSettings.CacheBytes"/>): an
/// assignment first computes its source's identity (<see cref="SourceIdentity"/>, on a compute thread: it reads file
/// sizes and times), and a cached, idle shard of the same identity and row range is used without loading (a hit,
/// logged at Info, as is a miss); <see cref="GetShardCacheStatus"/> answers the counters and entries.
///
/// A solve's shards are dropped on <see cref="ReleaseSolve"/>, <see cref="ReleaseShard"/>, or when the coordinator
/// that assigned them terminates (DeathWatch: in a cluster, when the coordinator's node leaves or is downed).
///
/// Only a solve's own coordinator may act on it: a coordinator registers through <see cref="CoordinatorHello"/> →
/// <see cref="RegisterWorker"/> → <see cref="WorkerRegistered"/> (the same actor, the same solve id), one coordinator per
/// solve id; assignments, releases, requests and request chunks for a solve from any other sender are refused. Request
/// chunks are assembled only for a shard held from that sender at that epoch, within <see cref="Serialization.ChunkLimits"/>
/// (a header claiming too many pieces or bytes is refused before anything is allocated; an assembly older than the
/// assembly timeout is dropped).
/// </summary>
public sealed class WorkerActor : ReceiveActor, IWithTimers
{
    public static Props Props(IShardLoader loader, WorkerSettings settings) =>
        Akka.Actor.Props.Create(() => new WorkerActor(loader, settings));

    private readonly record struct ShardKey(string SolveId, int ShardIndex);

    /// <summary>One shard held by this worker at one assignment epoch.</summary>
    private sealed class Slot(ShardKey key, AssignShard assignment, IActorRef coordinator)
    {
        public ShardKey Key { get; } = key;
        public AssignShard Assignment { get; } = assignment;
        public IActorRef Coordinator { get; } = coordinator;
        public IShard? Shard { get; set; }
        public string? LoadError { get; set; }
        public bool Busy { get; set; }
        /// <summary>The cache entry this slot's shard is leased from (null: not cached).</summary>
        public ShardCacheKey? CacheKey { get; set; }
        /// <summary>Released while an evaluation ran on the shard: its lease ends when that evaluation does.</summary>
        public bool ReturnWhenIdle { get; set; }
        public Queue<(EvaluateShard Request, IActorRef ReplyTo)> Pending { get; } = new();
    }

    private sealed record LoadDone(Slot Slot, IShard? Shard, string? Error, double Seconds, ShardCacheKey? CacheKey = null, bool FromCache = false)
        : INoSerializationVerificationNeeded;

    /// <summary>An assignment's cache key (null: not cacheable), or why its source was refused.</summary>
    private sealed record Identified(Slot Slot, ShardCacheKey? Key, string? Error) : INoSerializationVerificationNeeded;

    private sealed record EvaluationDone(Slot Slot, IActorRef ReplyTo, IReadOnlyList<object> Messages) : INoSerializationVerificationNeeded;

    private readonly IShardLoader _loader;
    private readonly WorkerSettings _settings;
    private readonly Dictionary<ShardKey, Slot> _slots = new();
    private readonly ShardCache _cache;
    /// <summary>Requests arriving in chunks, per shard: the step they belong to and the pieces so far.</summary>
    private readonly Dictionary<ShardKey, (int Epoch, long Step, ChunkAssembler Assembler, DateTime Started)> _requestChunks = new();
    private readonly HashSet<IActorRef> _coordinators = new();
    /// <summary>Coordinators that said hello and were answered with RegisterWorker (bounded: oldest forgotten first).</summary>
    private readonly Dictionary<IActorRef, string> _hellos = new();
    private readonly Queue<IActorRef> _helloOrder = new();
    private const int MaxPendingHellos = 64;
    /// <summary>The one registered coordinator of each solve id.</summary>
    private readonly Dictionary<string, IActorRef> _solveOwners = new(StringComparer.Ordinal);

    private sealed class Sweep : INoSerializationVerificationNeeded
    {
        public static readonly Sweep Instance = new();
    }

    public ITimerScheduler Timers { get; set; } = null!;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private DedicatedThreadScheduler _scheduler = null!;
    private string _workerId = "";

    public WorkerActor(IShardLoader loader, WorkerSettings settings)
    {
        _loader = loader;
        _settings = settings.Validate();
        _cache = new ShardCache(_settings.CacheBytes);

        Receive<CoordinatorHello>(OnHello);
        Receive<WorkerRegistered>(OnRegistered);
        Receive<AssignShard>(m => { if (Authorized(m.SolveId, "assign")) Assign(m); });
        Receive<LoadDone>(Loaded);
        Receive<Identified>(OnIdentified);
        Receive<EvaluateShard>(m => Evaluate(m, Sender));
        Receive<RequestChunk>(OnRequestChunk);
        Receive<EvaluationDone>(Evaluated);
        Receive<ReleaseShard>(m =>
        {
            if (Authorized(m.SolveId, "release"))
                Release(s => s.Key == new ShardKey(m.SolveId, m.ShardIndex), $"shard {m.ShardIndex} of {m.SolveId} moved", answer: true);
        });
        Receive<ReleaseSolve>(m =>
        {
            if (Authorized(m.SolveId, "release")) Release(s => s.Key.SolveId == m.SolveId, $"solve {m.SolveId} released", answer: true);
        });
        Receive<Sweep>(_ => SweepAssemblies());
        Receive<Terminated>(t =>
        {
            _coordinators.Remove(t.ActorRef);
            foreach (var solve in _solveOwners.Where(o => o.Value.Equals(t.ActorRef)).Select(o => o.Key).ToList()) _solveOwners.Remove(solve);
            Release(s => s.Coordinator.Equals(t.ActorRef), $"coordinator {t.ActorRef.Path} terminated", answer: false);
        });
        Receive<GetWorkerStatus>(_ => Sender.Tell(new WorkerStatus(_workerId, _slots.Values
            .OrderBy(s => s.Key.SolveId, StringComparer.Ordinal).ThenBy(s => s.Key.ShardIndex)
            .Select(s => new HeldShard(s.Key.SolveId, s.Key.ShardIndex, s.Assignment.Epoch, s.Shard is not null, s.Shard?.Rows ?? 0))
            .ToArray())));
        Receive<GetShardCacheStatus>(_ => Sender.Tell(_cache.Status(_workerId)));
    }

    protected override void PreStart()
    {
        var provider = ((ExtendedActorSystem)Context.System).Provider;
        _workerId = Self.Path.ToStringWithAddress(provider.DefaultAddress);
        _scheduler = new DedicatedThreadScheduler(_settings.ComputeThreads, $"distsoftmax-shard-{Self.Path.Name}");
        var sweep = TimeSpan.FromTicks(Math.Max(_settings.Limits.AssemblyTimeout.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks));
        Timers.StartPeriodicTimer("sweep", Sweep.Instance, sweep);
    }

    protected override void PostStop() => _scheduler.Dispose();

    private void WatchCoordinator(IActorRef coordinator)
    {
        if (coordinator.IsNobody() || !_coordinators.Add(coordinator)) return;
        Context.Watch(coordinator);
    }

    /// <summary>A coordinator introduces itself for a solve: remembered (bounded) and answered.</summary>
    private void OnHello(CoordinatorHello m)
    {
        if (Sender.IsNobody()) return;
        if (!_hellos.ContainsKey(Sender))
        {
            while (_hellos.Count >= MaxPendingHellos && _helloOrder.TryDequeue(out var oldest)) _hellos.Remove(oldest);
            _helloOrder.Enqueue(Sender);
        }
        _hellos[Sender] = m.CoordinatorId;
        Sender.Tell(new RegisterWorker(_workerId, Environment.ProcessorCount, _cache.Rows()));
    }

    /// <summary>The coordinator confirms: it becomes the owner of its solve id here, unless another live one is.</summary>
    private void OnRegistered(WorkerRegistered m)
    {
        if (!_hellos.TryGetValue(Sender, out var solveId) || solveId != m.CoordinatorId)
        {
            _log.Warning("ignored a registration for {0} from {1}, which did not say hello for it", m.CoordinatorId, Sender.Path);
            return;
        }
        if (_solveOwners.TryGetValue(solveId, out var owner) && !owner.Equals(Sender))
        {
            _log.Warning("ignored a second coordinator {0} for solve {1} (it belongs to {2})", Sender.Path, solveId, owner.Path);
            return;
        }
        _solveOwners[solveId] = Sender;
        WatchCoordinator(Sender);
    }

    /// <summary>Whether the sender is the registered coordinator of <paramref name="solveId"/>; logs a refusal.</summary>
    private bool Authorized(string solveId, string what)
    {
        if (_solveOwners.TryGetValue(solveId, out var owner) && owner.Equals(Sender)) return true;
        _log.Warning("refused to {0} for solve {1} from {2}: not the coordinator registered for it", what, solveId, Sender.Path);
        return false;
    }

    private void Assign(AssignShard m)
    {
        var key = new ShardKey(m.SolveId, m.ShardIndex);
        if (_slots.TryGetValue(key, out var existing))
        {
            if (existing.Assignment.Epoch == m.Epoch) return; // duplicate
            ReturnToCache(existing);
        }
        WatchCoordinator(Sender);
        var slot = new Slot(key, m, Sender);
        _slots[key] = slot; // a previous epoch's slot is dropped; its in-flight work is discarded when it ends
        if (_cache.BudgetBytes == 0)
        {
            StartLoad(slot, null);
            return;
        }
        var kinds = _settings.CacheableKinds;
        var guard = (_loader as GuardedShardLoader)?.Policy;
        Task.Factory.StartNew(() =>
        {
            try
            {
                guard?.Check(m.Source);   // a cached shard is served only to a source this worker would load
                string? identity = SourceIdentity.Of(m.Source, kinds);
                return new Identified(slot, identity is null ? null : new ShardCacheKey(identity, m.Rows.Start, (int)m.Rows.Count), null);
            }
            catch (Exception e)
            {
                return new Identified(slot, null, $"{e.GetType().Name}: {e.Message}");
            }
        }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, _scheduler).PipeTo(Self);
    }

    /// <summary>The assignment's source is identified: a cached idle shard is used as loaded (a hit), else the rows are loaded.</summary>
    private void OnIdentified(Identified m)
    {
        var slot = m.Slot;
        if (!IsCurrent(slot)) return;
        var a = slot.Assignment;
        if (m.Error is not null)
        {
            Loaded(new LoadDone(slot, null, m.Error, 0));
            return;
        }
        if (m.Key is not { } key)
        {
            StartLoad(slot, null);
            return;
        }
        if (_cache.TryLease(key, out var cached))
        {
            if (_log.IsInfoEnabled)
                _log.Info("{0}", $"shard cache hit: shard {a.ShardIndex} of {a.SolveId}, rows {a.Rows.Start}..{a.Rows.Start + a.Rows.Count - 1}, " +
                          $"{cached.Bytes} bytes (hits {_cache.Hits}, misses {_cache.Misses})");
            Loaded(new LoadDone(slot, cached, null, 0, key, FromCache: true));
            return;
        }
        if (_log.IsInfoEnabled)
            _log.Info("{0}", $"shard cache miss: shard {a.ShardIndex} of {a.SolveId}, rows {a.Rows.Start}..{a.Rows.Start + a.Rows.Count - 1} " +
                      $"of {a.Source}: loading (hits {_cache.Hits}, misses {_cache.Misses})");
        StartLoad(slot, key);
    }

    /// <summary>Loads the slot's rows on the compute threads; <paramref name="cacheKey"/> is where the shard may be cached.</summary>
    private void StartLoad(Slot slot, ShardCacheKey? cacheKey)
    {
        var m = slot.Assignment;
        var loader = _loader;
        var compute = _settings.Compute;
        Task.Factory.StartNew(() =>
        {
            var clock = Stopwatch.StartNew();
            try
            {
                var shard = loader.Load(m.Source, m.Rows, compute);
                if (shard.Rows != m.Rows.Count)
                    return new LoadDone(slot, null, $"the loader returned {shard.Rows} rows for range {m.Rows}", clock.Elapsed.TotalSeconds);
                return new LoadDone(slot, shard, null, clock.Elapsed.TotalSeconds, cacheKey);
            }
            catch (Exception e)
            {
                return new LoadDone(slot, null, $"{e.GetType().Name}: {e.Message}", clock.Elapsed.TotalSeconds);
            }
        }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, _scheduler).PipeTo(Self);
    }

    private void Loaded(LoadDone done)
    {
        var slot = done.Slot;
        bool current = IsCurrent(slot);
        if (done is { Shard: { } loaded, CacheKey: { } key, FromCache: false } && _cache.Admit(key, loaded, slot.Assignment.Source.ToString()))
        {
            if (current) slot.CacheKey = key;
            else _cache.Return(key, loaded);   // released while loading: kept for the next solve, idle
        }
        else if (done.FromCache) slot.CacheKey = done.CacheKey;
        if (!current) return;
        var a = slot.Assignment;
        if (done.Shard is null)
        {
            slot.LoadError = done.Error;
            _log.Warning("could not load shard {0} of {1} ({2}): {3}", a.ShardIndex, a.SolveId, a.Source, done.Error);
            slot.Coordinator.Tell(new ShardLoadFailed(a.SolveId, a.Epoch, a.ShardIndex, _workerId, done.Error ?? "unknown error"));
            while (slot.Pending.TryDequeue(out var p))
                p.ReplyTo.Tell(new ShardFailed(a.SolveId, p.Request.Epoch, p.Request.Step, a.ShardIndex,
                    $"shard {a.ShardIndex} could not be loaded on {_workerId}: {done.Error}", WorkerFault: false));
            return;
        }
        slot.Shard = done.Shard;
        _log.Debug("loaded shard {0} of {1}: rows {2} in {3:F3} s", a.ShardIndex, a.SolveId, a.Rows, done.Seconds);
        slot.Coordinator.Tell(new ShardLoaded(a.SolveId, a.Epoch, a.ShardIndex, _workerId, done.Shard.Rows, done.Seconds));
        RunNext(slot);
    }

    /// <summary>
    /// A piece of a request too large for one frame: collected per shard; a piece of another step or epoch replaces
    /// what was collected (the coordinator has moved on); once every piece is in, the request is evaluated.
    /// </summary>
    private void OnRequestChunk(RequestChunk chunk)
    {
        var key = new ShardKey(chunk.SolveId, chunk.ShardIndex);
        // Only for a shard held at that epoch from this very sender: nobody else can make this worker keep bytes.
        if (!_slots.TryGetValue(key, out var slot) || slot.Assignment.Epoch != chunk.Epoch || !slot.Coordinator.Equals(Sender))
        {
            Sender.Tell(new ShardFailed(chunk.SolveId, chunk.Epoch, chunk.Step, chunk.ShardIndex,
                $"worker {_workerId} holds no shard {chunk.ShardIndex} of {chunk.SolveId} at epoch {chunk.Epoch} for this sender", WorkerFault: true));
            return;
        }
        if (!_requestChunks.TryGetValue(key, out var partial) || partial.Epoch != chunk.Epoch || partial.Step != chunk.Step)
        {
            try { partial = (chunk.Epoch, chunk.Step, new ChunkAssembler(chunk.ChunkCount, chunk.TotalBytes, _settings.Limits), DateTime.UtcNow); }
            catch (System.Runtime.Serialization.SerializationException e) { RejectChunk(chunk, e); return; }
            _requestChunks[key] = partial;
        }
        ShardRequest request;
        try
        {
            if (!partial.Assembler.Add(chunk)) return;
            request = partial.Assembler.CompleteRequest();
        }
        catch (System.Runtime.Serialization.SerializationException e) { RejectChunk(chunk, e); return; }
        _requestChunks.Remove(key);
        Evaluate(new EvaluateShard(chunk.SolveId, chunk.Epoch, chunk.Step, chunk.ShardIndex, request), Sender);
    }

    private void RejectChunk(RequestChunk chunk, Exception e)
    {
        _requestChunks.Remove(new ShardKey(chunk.SolveId, chunk.ShardIndex));
        Sender.Tell(new ShardFailed(chunk.SolveId, chunk.Epoch, chunk.Step, chunk.ShardIndex,
            $"the request of step {chunk.Step} arrived corrupt at {_workerId}: {e.Message}", WorkerFault: false));
    }

    /// <summary>Drops request assemblies older than the assembly timeout (a coordinator that stopped mid-request).</summary>
    private void SweepAssemblies()
    {
        var cutoff = DateTime.UtcNow - _settings.Limits.AssemblyTimeout;
        foreach (var key in _requestChunks.Where(p => p.Value.Started < cutoff).Select(p => p.Key).ToList())
        {
            _requestChunks.Remove(key);
            _log.Warning("dropped an incomplete request for shard {0} of {1}: older than {2}", key.ShardIndex, key.SolveId, _settings.Limits.AssemblyTimeout);
        }
    }

    private void Evaluate(EvaluateShard m, IActorRef replyTo)
    {
        var key = new ShardKey(m.SolveId, m.ShardIndex);
        if (!_slots.TryGetValue(key, out var slot) || slot.Assignment.Epoch != m.Epoch || !slot.Coordinator.Equals(replyTo))
        {
            replyTo.Tell(new ShardFailed(m.SolveId, m.Epoch, m.Step, m.ShardIndex,
                $"worker {_workerId} holds no shard {m.ShardIndex} of {m.SolveId} at epoch {m.Epoch}", WorkerFault: true));
            return;
        }
        if (slot.LoadError is not null)
        {
            replyTo.Tell(new ShardFailed(m.SolveId, m.Epoch, m.Step, m.ShardIndex,
                $"shard {m.ShardIndex} could not be loaded on {_workerId}: {slot.LoadError}", WorkerFault: false));
            return;
        }
        slot.Pending.Enqueue((m, replyTo));
        RunNext(slot);
    }

    /// <summary>Starts the next queued request of a loaded, idle shard on the compute threads.</summary>
    private void RunNext(Slot slot)
    {
        if (slot.Busy || slot.Shard is null || !slot.Pending.TryDequeue(out var next)) return;
        slot.Busy = true;
        var shard = slot.Shard;
        int chunkSize = _settings.ChunkSize;
        var (request, replyTo) = next;
        bool crossesNodes = CrossesNodes(replyTo);
        Task.Factory.StartNew(() =>
        {
            IReadOnlyList<object> messages;
            try
            {
                var reply = shard.Evaluate(request.Request);
                messages = crossesNodes ? Package(request, reply, chunkSize) : new object[] { Whole(request, reply) };
            }
            catch (Exception e)
            {
                messages = new object[]
                {
                    new ShardFailed(request.SolveId, request.Epoch, request.Step, request.ShardIndex,
                        $"{request.Request.GetType().Name} failed on shard {request.ShardIndex}: {e.GetType().Name}: {e.Message}",
                        WorkerFault: false),
                };
            }
            return new EvaluationDone(slot, replyTo, messages);
        }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, _scheduler).PipeTo(Self);
    }

    /// <summary>
    /// Whether a message to <paramref name="recipient"/> leaves this ActorSystem: its path carries a remote address
    /// (protocol, system, host and port). Actors of the local system have local-scope paths even under remoting.
    /// </summary>
    internal static bool CrossesNodes(IActorRef recipient) => CrossesNodes(recipient.Path);

    internal static bool CrossesNodes(ActorPath recipient) => recipient.Address.HasGlobalScope;

    /// <summary>The reply as one <see cref="ShardResult"/>, unmeasured (for a recipient in this ActorSystem).</summary>
    internal static ShardResult Whole(EvaluateShard request, ShardReply reply) =>
        new(request.SolveId, request.Epoch, request.Step, request.ShardIndex, reply);

    /// <summary>
    /// The reply for a recipient on another node: one <see cref="ShardResult"/>, or, when its encoding exceeds
    /// <paramref name="chunkSize"/>, ⌈bytes/chunkSize⌉ <see cref="ReplyChunk"/>s of the tagged encoding (runs on a
    /// compute thread).
    /// </summary>
    internal static IReadOnlyList<object> Package(EvaluateShard request, ShardReply reply, int chunkSize)
    {
        var bytes = WireFormat.EncodeReply(reply);
        if (bytes.Length <= chunkSize) return new object[] { Whole(request, reply) };
        var pieces = ChunkAssembler.Split(bytes, chunkSize);
        var chunks = new object[pieces.Length];
        for (int c = 0; c < pieces.Length; c++)
            chunks[c] = new ReplyChunk(request.SolveId, request.Epoch, request.Step, request.ShardIndex, c, pieces.Length, bytes.LongLength, pieces[c]);
        return chunks;
    }

    private void Evaluated(EvaluationDone done)
    {
        var slot = done.Slot;
        slot.Busy = false;
        if (!IsCurrent(slot))
        {
            if (slot.ReturnWhenIdle) ReturnToCache(slot);
            // Released or reassigned meanwhile: the reply is dropped, but never silently — if the coordinator still
            // waits for it (a release it did not send, a race), the failure makes it reassign now, not at its step
            // timeout; otherwise it is stale there and dropped.
            if (done.Messages is [IStepMessage first, ..])
                done.ReplyTo.Tell(Dropped(first.SolveId, first.Epoch, first.Step, first.ShardIndex, "its shard was released while it ran"));
            return;
        }
        foreach (var message in done.Messages) done.ReplyTo.Tell(message);
        RunNext(slot);
    }

    /// <summary>Ends the cache lease of a slot that is dropped — once no evaluation runs on its shard (shards are not thread-safe).</summary>
    private void ReturnToCache(Slot slot)
    {
        if (slot.CacheKey is not { } key || slot.Shard is not { } shard) return;
        if (slot.Busy)
        {
            slot.ReturnWhenIdle = true;
            return;
        }
        slot.ReturnWhenIdle = false;
        slot.CacheKey = null;
        _cache.Return(key, shard);
    }

    private bool IsCurrent(Slot slot) => _slots.TryGetValue(slot.Key, out var current) && ReferenceEquals(current, slot);

    /// <summary>The answer to a request this worker will not evaluate: another owner may (WorkerFault).</summary>
    private ShardFailed Dropped(string solveId, int epoch, long step, int shardIndex, string why) =>
        new(solveId, epoch, step, shardIndex, $"worker {_workerId} dropped the request of step {step} for shard {shardIndex}: {why}", WorkerFault: true);

    /// <summary>Drops shards; with <paramref name="answer"/> every queued request is answered with a failure at once
    /// (a coordinator still waiting for it then reassigns in a step, not a step timeout).</summary>
    private void Release(Func<Slot, bool> which, string why, bool answer)
    {
        var gone = _slots.Values.Where(which).ToList();
        foreach (var slot in gone)
        {
            _slots.Remove(slot.Key);
            _requestChunks.Remove(slot.Key);
            ReturnToCache(slot);
            while (slot.Pending.TryDequeue(out var p))
                if (answer) p.ReplyTo.Tell(Dropped(p.Request.SolveId, p.Request.Epoch, p.Request.Step, p.Request.ShardIndex, why));
        }
        if (gone.Count > 0) _log.Info("released {0} shard(s): {1}", gone.Count, why);
    }
}
