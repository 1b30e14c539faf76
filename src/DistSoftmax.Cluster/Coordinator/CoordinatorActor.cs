using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// Drives one <see cref="SolveRun"/> over worker actors.
///
/// 1. Waits until <see cref="SolveSpec.MinWorkers"/> workers have registered (<see cref="RegisterWorker"/>), then
///    splits the rows into <see cref="SolveSpec.Shards"/> ranges and assigns them round-robin.
/// 2. Each solver request is a step: it is sent to every shard's owner (<see cref="EvaluateShard"/>); replies
///    (as <see cref="RequestChunk"/>s when it is too large for one remote frame); replies
///    (<see cref="ShardResult"/> or reassembled <see cref="ReplyChunk"/>s) are kept by shard index; a reply is
///    accepted only if its (SolveId, Epoch, Step) is the one awaited for that shard, anything else is stale and
///    dropped. When every shard has answered, replies are merged in shard order — exactly as
///    <see cref="InProcessDriver"/> does, so iterates are bit-identical — and submitted to the solver.
/// 3. A worker that terminates (DeathWatch), becomes unreachable (cluster failure detector) or leaves a step
///    unanswered past the step timeout is lost: its shards go to the live workers with the fewest shards
///    (late-joining workers first), the epoch counter bumps, and the current request is re-sent to the new owners
///    only. With no live worker the solve fails after the no-worker timeout. A shard whose rows a worker cannot load
///    moves the same way to a worker that has not failed it; when every live worker has, the solve fails.
///
/// The solver's own work (Cholesky, QR) runs in this actor between steps, so it lives on its own pinned
/// dispatcher (<see cref="DispatcherId"/>). Events go to the subscriber; the actor stops itself at the end.
/// </summary>
public sealed class CoordinatorActor : ReceiveActor, IWithTimers
{
    public const string DispatcherId = "distsoftmax.coordinator-dispatcher";

    public static Props Props(SolveSpec spec, CoordinatorSettings settings, IActorRef subscriber) =>
        Akka.Actor.Props.Create(() => new CoordinatorActor(spec, settings, subscriber)).WithDispatcher(DispatcherId);

    private enum Phase { WaitingForWorkers, Running, Finished }

    private sealed class WorkerInfo(IActorRef actor, string id, int order, int processors)
    {
        public IActorRef Actor { get; } = actor;
        public string Id { get; } = id;
        public int Order { get; } = order;
        public int Processors { get; } = processors;
        public bool Alive { get; set; } = true;
        public int ShardCount { get; set; }
    }

    private sealed class ShardState(int index, RowRange rows)
    {
        public int Index { get; } = index;
        public RowRange Rows { get; } = rows;
        public WorkerInfo? Owner { get; set; }
        public string? PreviousOwner { get; set; }
        /// <summary>Assignment epoch of the current owner (what its messages must carry).</summary>
        public int Epoch { get; set; }
        public bool Loaded { get; set; }
        /// <summary>Reply to the current step, once in.</summary>
        public ShardReply? Reply { get; set; }
        public ChunkAssembler? Assembler { get; set; }
        /// <summary>Whether the owner has the current request and has not answered it yet.</summary>
        public bool Outstanding { get; set; }
        public TimeSpan Deadline { get; set; }
        /// <summary>Workers that could not load these rows, with their reasons (they are not asked again).</summary>
        public Dictionary<string, string> LoadFailures { get; } = new();
    }

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private readonly SolveSpec _spec;
    private readonly CoordinatorSettings _settings;
    private readonly IActorRef _subscriber;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<WorkerInfo> _workers = new();
    private ShardState[] _shards = Array.Empty<ShardState>();
    private Phase _phase = Phase.WaitingForWorkers;
    private SolveRun? _run;
    private ShardRequest? _pending;
    /// <summary>The pending request in pieces, when it is too large for one remote frame.</summary>
    private (byte[][] Pieces, long TotalBytes)? _pendingChunks;
    private long _step;
    private int _epoch;
    private int _workerOrder;
    private TimeSpan? _orphanedSince;
    private long _staleDropped;

    public ITimerScheduler Timers { get; set; } = null!;

    private string Id => _spec.SolveId;

    public CoordinatorActor(SolveSpec spec, CoordinatorSettings settings, IActorRef subscriber)
    {
        _spec = spec.Validate();
        _settings = settings.Validate();
        _subscriber = subscriber;

        Receive<RegisterWorker>(Register);
        Receive<Terminated>(t =>
        {
            var w = _workers.FirstOrDefault(x => x.Actor.Equals(t.ActorRef));
            if (w is not null) Lose(w, "terminated", stillThere: false);
        });
        Receive<WorkerUnreachable>(u =>
        {
            foreach (var w in _workers.Where(x => x.Alive && x.Actor.Path.Address.Equals(u.Address)).ToList())
                Lose(w, $"unreachable ({u.Address})");
        });
        Receive<ShardLoaded>(OnLoaded);
        Receive<ShardLoadFailed>(OnLoadFailed);
        Receive<ShardResult>(m => { if (Awaited(m) is { } s) Accept(s, m.Reply); });
        Receive<ReplyChunk>(OnChunk);
        Receive<ShardFailed>(OnShardFailed);
        Receive<CancelSolve>(_ => Cancel());
        Receive<Tick>(_ => OnTick());
    }

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("tick", Tick.Instance, _settings.TickInterval);
        _log.Info("solve {0}: waiting for {1} worker(s), {2} shard(s) of {3} rows of {4}",
            Id, _spec.MinWorkers, _spec.Shards, _spec.Shape.Rows, _spec.Source);
    }

    protected override void PostStop()
    {
        if (_phase == Phase.Finished) return;
        // Stopped from outside (system shutdown, parent): the subscriber must not wait forever.
        _phase = Phase.Finished;
        _subscriber.Tell(new SolveFailed(Id, "the coordinator was stopped before the solve ended"));
        ReleaseWorkers();
    }

    // ---- workers ---------------------------------------------------------------------------------------------

    private void Register(RegisterWorker m)
    {
        if (_phase == Phase.Finished) return;
        var known = _workers.FirstOrDefault(w => w.Actor.Equals(Sender));
        if (known is not null)
        {
            Sender.Tell(new WorkerRegistered(Id));
            return;
        }
        var worker = new WorkerInfo(Sender, m.WorkerId, _workerOrder++, m.ProcessorCount);
        _workers.Add(worker);
        Context.Watch(Sender);
        Sender.Tell(new WorkerRegistered(Id));
        _subscriber.Tell(new WorkerJoined(Id, m.WorkerId, Sender.Path.Address.ToString(), m.ProcessorCount));
        _log.Info("solve {0}: worker {1} registered ({2} live)", Id, m.WorkerId, LiveCount);

        if (_phase == Phase.WaitingForWorkers && LiveCount >= _spec.MinWorkers) StartSolve();
        else if (_phase == Phase.Running) AssignOrphans();
    }

    private int LiveCount => _workers.Count(w => w.Alive);

    /// <summary>
    /// Stops using a worker for this solve (it is not taken back even if it answers again; the next solve uses it)
    /// and reassigns its shards.
    /// </summary>
    private void Lose(WorkerInfo worker, string reason, bool stillThere = true)
    {
        if (!worker.Alive || _phase == Phase.Finished) return;
        worker.Alive = false;
        Context.Unwatch(worker.Actor);
        if (stillThere) worker.Actor.Tell(new ReleaseSolve(Id)); // slow or partitioned, perhaps alive: free its memory
        _log.Warning("solve {0}: worker {1} lost: {2}", Id, worker.Id, reason);
        _subscriber.Tell(new WorkerLost(Id, worker.Id, reason));
        if (_phase != Phase.Running) return;
        foreach (var shard in _shards.Where(s => s.Owner == worker))
        {
            shard.Owner = null;
            shard.PreviousOwner = worker.Id;
            shard.Outstanding = false;
            shard.Assembler = null;
        }
        worker.ShardCount = 0;
        AssignOrphans();
    }

    /// <summary>
    /// Gives every shard without an owner to the live worker with the fewest shards (ties: earliest registered),
    /// under a new epoch; owners of the current step's missing replies get the pending request at once.
    /// </summary>
    private void AssignOrphans()
    {
        var orphans = _shards.Where(s => s.Owner is null).ToList();
        if (orphans.Count == 0)
        {
            _orphanedSince = null;
            return;
        }
        var live = _workers.Where(w => w.Alive).ToList();
        if (live.Count == 0)
        {
            _orphanedSince ??= _clock.Elapsed;
            _log.Warning("solve {0}: no live worker for shard(s) {1}; waiting up to {2} for one",
                Id, string.Join(", ", orphans.Select(s => s.Index)), _settings.NoWorkerTimeout);
            return;
        }
        _orphanedSince = null;
        _epoch++;
        foreach (var shard in orphans)
        {
            var candidates = live.Where(w => !shard.LoadFailures.ContainsKey(w.Id)).ToList();
            if (candidates.Count == 0)
            {
                Fail($"no worker could load shard {shard.Index} (rows {shard.Rows.Start}..{shard.Rows.Start + shard.Rows.Count - 1}) " +
                     $"of {_spec.Source}: " + string.Join("; ", shard.LoadFailures.Select(f => $"{f.Key}: {f.Value}")));
                return;
            }
            var owner = candidates.OrderBy(w => w.ShardCount).ThenBy(w => w.Order).First();
            shard.Owner = owner;
            owner.ShardCount++;
            shard.Epoch = _epoch;
            shard.Loaded = false;
            shard.Assembler = null;
            owner.Actor.Tell(new AssignShard(Id, _epoch, shard.Index, _spec.Source, shard.Rows));
            _subscriber.Tell(new ShardAssigned(Id, _epoch, shard.Index, shard.Rows, owner.Id, shard.PreviousOwner));
            if (shard.PreviousOwner is not null)
                _log.Info("solve {0}: shard {1} moved from {2} to {3} at epoch {4}", Id, shard.Index, shard.PreviousOwner, owner.Id, _epoch);
            if (_pending is not null && shard.Reply is null) SendPending(shard);
        }
    }

    // ---- steps -----------------------------------------------------------------------------------------------

    private void StartSolve()
    {
        var ranges = ShardLayout.Split(_spec.Shape.Rows, _spec.Shards);
        _shards = ranges.Select((r, i) => new ShardState(i, r)).ToArray();
        _phase = Phase.Running;
        try
        {
            _run = _spec.Solver.Start(_spec.Shape.Objective, _spec.X0, _spec.Options, _spec.Cancellation);
        }
        catch (Exception e)
        {
            Fail($"the solve could not start: {e.Message}");
            return;
        }
        var subscriber = _subscriber;
        var id = Id;
        _run.Progress += entry => subscriber.Tell(new SolveProgress(id, entry));
        AssignOrphans();
        ShardRequest? first;
        try { first = _run.Start(); }
        catch (Exception e)
        {
            Fail($"solver {_spec.Solver.Name} failed: {e.GetType().Name}: {e.Message}");
            return;
        }
        FanOut(first);
    }

    private void FanOut(ShardRequest? request)
    {
        if (request is null)
        {
            Finish(new SolveCompleted(Id, _run!.Result!));
            return;
        }
        _step++;
        _pending = request;
        _pendingChunks = null;
        if (_settings.MaxRequestBytes > 0)
        {
            // Too large for one remote frame: the request's tagged encoding goes in pieces (the same for every shard).
            // The step header an EvaluateShard adds is a few dozen bytes, inside the frame's reserved overhead.
            var encoded = WireFormat.EncodeRequest(request);
            if (encoded.LongLength > _settings.MaxRequestBytes)
                _pendingChunks = (ChunkAssembler.Split(encoded, _settings.RequestChunkBytes), encoded.LongLength);
        }
        foreach (var shard in _shards)
        {
            shard.Reply = null;
            shard.Assembler = null;
            shard.Outstanding = false;
            if (shard.Owner is not null) SendPending(shard);
        }
    }

    private void SendPending(ShardState shard)
    {
        if (_pendingChunks is var (pieces, total))
            for (int c = 0; c < pieces.Length; c++)
                shard.Owner!.Actor.Tell(new RequestChunk(Id, shard.Epoch, _step, shard.Index, c, pieces.Length, total, pieces[c]));
        else
            shard.Owner!.Actor.Tell(new EvaluateShard(Id, shard.Epoch, _step, shard.Index, _pending!));
        shard.Outstanding = true;
        shard.Deadline = _clock.Elapsed + _settings.StepTimeout + (shard.Loaded ? TimeSpan.Zero : _settings.LoadTimeout);
    }

    /// <summary>The shard a step message answers, or null (and the message is dropped) when it is stale.</summary>
    private ShardState? Awaited(IStepMessage m)
    {
        if (_phase == Phase.Running && m.SolveId == Id && m.Step == _step && m.ShardIndex >= 0 && m.ShardIndex < _shards.Length)
        {
            var shard = _shards[m.ShardIndex];
            if (shard.Owner is not null && shard.Epoch == m.Epoch && shard.Reply is null) return shard;
        }
        _staleDropped++;
        if (_log.IsDebugEnabled)
            _log.Debug($"solve {Id}: dropped stale {m.GetType().Name} (solve {m.SolveId}, epoch {m.Epoch}, step {m.Step}, " +
                       $"shard {m.ShardIndex}); now at step {_step}");
        return null;
    }

    private void OnChunk(ReplyChunk chunk)
    {
        if (Awaited(chunk) is not { } shard) return;
        try
        {
            shard.Assembler ??= new ChunkAssembler(chunk.ChunkCount, chunk.TotalBytes);
            // Data is arriving: a long chunked reply is not a silent owner.
            shard.Deadline = _clock.Elapsed + _settings.StepTimeout;
            if (shard.Assembler.Add(chunk)) Accept(shard, shard.Assembler.CompleteReply());
        }
        catch (Exception e)
        {
            Fail($"the chunked reply of shard {shard.Index} from {shard.Owner!.Id} is corrupt: {e.Message}");
        }
    }

    private void Accept(ShardState shard, ShardReply reply)
    {
        shard.Reply = reply;
        shard.Assembler = null;
        shard.Outstanding = false;
        if (_shards.Any(s => s.Reply is null)) return;

        ShardRequest? next;
        try
        {
            var merged = _shards[0].Reply!;
            for (int k = 1; k < _shards.Length; k++) merged = merged.Merge(_shards[k].Reply!);
            next = _run!.Submit(merged);
        }
        catch (Exception e)
        {
            Fail($"solver {_spec.Solver.Name} failed at step {_step}: {e.GetType().Name}: {e.Message}");
            return;
        }
        FanOut(next);
    }

    private void OnLoaded(ShardLoaded m)
    {
        if (_phase != Phase.Running || m.SolveId != Id || m.ShardIndex < 0 || m.ShardIndex >= _shards.Length) return;
        var shard = _shards[m.ShardIndex];
        if (shard.Epoch != m.Epoch || shard.Owner is null) return;
        shard.Loaded = true;
        if (shard.Outstanding) shard.Deadline = _clock.Elapsed + _settings.StepTimeout;
        _subscriber.Tell(new ShardReady(Id, m.Epoch, m.ShardIndex, m.WorkerId, m.Rows, m.Seconds));
    }

    private void OnLoadFailed(ShardLoadFailed m)
    {
        if (_phase != Phase.Running || m.SolveId != Id || m.ShardIndex < 0 || m.ShardIndex >= _shards.Length) return;
        var shard = _shards[m.ShardIndex];
        if (shard.Epoch != m.Epoch || shard.Owner is not { } owner) return;
        // The rows may load elsewhere (a node without the file, a transient I/O error): move the shard to a live
        // worker that has not failed it yet; when every live worker has, the solve fails with all their reasons.
        shard.LoadFailures[owner.Id] = m.Reason;
        _log.Warning("solve {0}: worker {1} could not load shard {2}: {3}", Id, owner.Id, shard.Index, m.Reason);
        owner.Actor.Tell(new ReleaseShard(Id, shard.Index));
        owner.ShardCount--;
        shard.Owner = null;
        shard.PreviousOwner = owner.Id;
        shard.Outstanding = false;
        shard.Assembler = null;
        AssignOrphans();
    }

    private void OnShardFailed(ShardFailed m)
    {
        if (Awaited(m) is not { } shard) return;
        if (m.WorkerFault) Lose(shard.Owner!, m.Reason);
        else Fail($"shard {m.ShardIndex} failed on {shard.Owner!.Id}: {m.Reason}");
    }

    // ---- time ------------------------------------------------------------------------------------------------

    private void OnTick()
    {
        var now = _clock.Elapsed;
        if (_phase == Phase.WaitingForWorkers)
        {
            if (now > _settings.WorkerWaitTimeout)
                Fail($"only {LiveCount} of the {_spec.MinWorkers} worker(s) needed registered within {Seconds(_settings.WorkerWaitTimeout)}");
            return;
        }
        if (_phase != Phase.Running) return;
        if (_orphanedSince is { } since && now - since > _settings.NoWorkerTimeout)
        {
            var lost = _workers.Where(w => !w.Alive).Select(w => w.Id);
            Fail($"no live worker for {Seconds(_settings.NoWorkerTimeout)}: shard(s) {string.Join(", ", _shards.Where(s => s.Owner is null).Select(s => s.Index))} " +
                 $"have no owner (lost: {string.Join(", ", lost)})");
            return;
        }
        var silent = _shards.Where(s => s.Outstanding && s.Owner is not null && now > s.Deadline).Select(s => s.Owner!).Distinct().ToList();
        foreach (var w in silent)
            Lose(w, $"no answer to step {_step} within the {(_shards.Any(s => s.Owner == w && !s.Loaded) ? "load + " : "")}step timeout");
    }

    private static string Seconds(TimeSpan t) => $"{t.TotalSeconds:0.###} s";

    // ---- end -------------------------------------------------------------------------------------------------

    private void Cancel()
    {
        if (_phase == Phase.WaitingForWorkers) Fail("cancelled before the solve started");
        else if (_phase == Phase.Running) _run!.Cancel(); // the solver stops at its next iteration boundary
    }

    private void Fail(string reason)
    {
        _log.Error("solve {0} failed: {1}", Id, reason);
        Finish(new SolveFailed(Id, reason));
    }

    private void Finish(SolveEvent final)
    {
        if (_phase == Phase.Finished) return;
        _phase = Phase.Finished;
        if (_staleDropped > 0) _log.Info("solve {0}: {1} stale message(s) dropped", Id, _staleDropped);
        _subscriber.Tell(final);
        ReleaseWorkers();
        Timers.CancelAll();
        Context.Stop(Self);
    }

    private void ReleaseWorkers()
    {
        foreach (var w in _workers.Where(w => w.Alive)) w.Actor.Tell(new ReleaseSolve(Id));
    }
}
