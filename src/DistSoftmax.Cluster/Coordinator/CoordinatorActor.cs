using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// Drives one <see cref="SolveRun"/> over worker actors.
///
/// 1. Waits until <see cref="SolveSpec.MinWorkers"/> workers have registered (<see cref="RegisterWorker"/>), then
///    splits the rows into <see cref="SolveSpec.Shards"/> ranges and assigns them to the workers with the fewest shards.
/// 2. Each solver request is a step: it is sent to every shard's owner (<see cref="EvaluateShard"/>, or
///    <see cref="RequestChunk"/>s when it is too large for one remote frame); replies (<see cref="ShardResult"/> or
///    reassembled <see cref="ReplyChunk"/>s) are kept by shard index; a reply is accepted only if its
///    (SolveId, Epoch, Step) is the one awaited for that shard, anything else is stale and dropped. When every shard
///    has answered, replies are merged in shard order — exactly as <see cref="InProcessDriver"/> does, so iterates
///    are bit-identical — and submitted to the solver. Requests go out at once after an assignment: a worker queues
///    them behind the load, so a shard's deadline includes the load timeout until it reports loaded.
/// 3. A worker that terminates (DeathWatch), becomes unreachable (cluster failure detector) or leaves a step
///    unanswered past the step timeout is lost: its shards go to the live workers with the fewest shards
///    (late-joining workers first), the epoch counter bumps, and the current request is re-sent to the new owners
///    only. With no live worker the solve fails after the no-worker timeout. A shard whose rows a worker cannot load
///    moves the same way to a worker that has not failed it; when every live worker has, the solve fails.
///
/// 4. When the solver has finished, the spec's <see cref="SolveSpec.AfterSolve"/> program (the post-solve analysis at
///    x*) is stepped the same way on the same shards, with the same failover, before the result is reported.
///
/// Who owns what is one immutable <see cref="AssignmentState"/> (tested on its own); this actor turns its transitions
/// into messages. Behaviours (<c>Become</c>): <see cref="WaitingForWorkers"/> → <see cref="Solving"/> (shards loading
/// and steps running; a reassigned shard loads again mid-solve, so loading is per shard, in the state) →
/// <see cref="Finished"/>.
///
/// The solver's own work (Cholesky, QR) runs in this actor between steps, so it lives on its own pinned
/// dispatcher (<see cref="DispatcherId"/>). Events go to the subscriber; the actor stops itself at the end.
/// </summary>
public sealed class CoordinatorActor : ReceiveActor, IWithTimers
{
    public const string DispatcherId = "distsoftmax.coordinator-dispatcher";

    public static Props Props(SolveSpec spec, CoordinatorSettings settings, IActorRef subscriber) =>
        Akka.Actor.Props.Create(() => new CoordinatorActor(spec, settings, subscriber)).WithDispatcher(DispatcherId);

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }

    private readonly SolveSpec _spec;
    private readonly CoordinatorSettings _settings;
    private readonly IActorRef _subscriber;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private AssignmentState _state;
    /// <summary>Worker actors by registration order (<see cref="WorkerEntry.Order"/>), and the reverse.</summary>
    private readonly List<IActorRef> _actors = new();
    private readonly Dictionary<IActorRef, int> _orders = new();
    private SolveRun? _run;
    /// <summary>The spec's <see cref="SolveSpec.AfterSolve"/> program once the solver has finished, or null.</summary>
    private IRequestProgram? _afterSolve;
    private ShardRequest? _pending;
    /// <summary>The pending request in pieces, when it is too large for one remote frame.</summary>
    private (byte[][] Pieces, long TotalBytes)? _pendingChunks;
    /// <summary>Chunked replies being reassembled, by shard, with the (epoch, step) they answer.</summary>
    private readonly Dictionary<int, (int Epoch, long Step, ChunkAssembler Assembler)> _assemblers = new();
    private bool _finished;

    public ITimerScheduler Timers { get; set; } = null!;

    private string Id => _spec.SolveId;
    private TimeSpan Now => _clock.Elapsed;

    public CoordinatorActor(SolveSpec spec, CoordinatorSettings settings, IActorRef subscriber)
    {
        _spec = spec.Validate();
        _settings = settings.Validate();
        _subscriber = subscriber;
        _state = AssignmentState.Initial(_settings.StepTimeout, _settings.LoadTimeout) with { SourceIdentity = spec.CacheIdentity };
        WaitingForWorkers();
    }

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("tick", Tick.Instance, _settings.TickInterval);
        _log.Info("solve {0}: waiting for {1} worker(s), {2} shard(s) of {3} rows of {4}",
            Id, _spec.MinWorkers, _spec.Shards, _spec.Shape.Rows, _spec.Source);
    }

    protected override void PostStop()
    {
        if (_finished) return;
        // Stopped from outside (system shutdown, parent): the subscriber must not wait forever.
        _finished = true;
        _afterSolve?.Abandon("the coordinator was stopped");
        _subscriber.Tell(new SolveFailed(Id, "the coordinator was stopped before the solve ended"));
        ReleaseWorkers();
    }

    // ---- behaviours --------------------------------------------------------------------------------------------

    /// <summary>Registering workers until <see cref="SolveSpec.MinWorkers"/> are alive; fails after the wait timeout.</summary>
    private void WaitingForWorkers()
    {
        Receive<RegisterWorker>(m =>
        {
            Register(m);
            if (_state.LiveCount >= _spec.MinWorkers) StartSolve();
        });
        ReceiveWorkerLoss();
        Receive<IStepMessage>(m => DropStale(m));
        Receive<ShardLoaded>(_ => { }); // no shard is assigned yet: not about this solve's current epochs
        Receive<ShardLoadFailed>(_ => { });
        Receive<CancelSolve>(_ => Fail("cancelled before the solve started"));
        Receive<Tick>(_ =>
        {
            if (Now > _settings.WorkerWaitTimeout)
                Fail($"only {_state.LiveCount} of the {_spec.MinWorkers} worker(s) needed registered within {Seconds(_settings.WorkerWaitTimeout)}");
        });
    }

    /// <summary>Shards assigned (and reassigned), loading, and answering one step after another.</summary>
    private void Solving()
    {
        Receive<RegisterWorker>(m =>
        {
            if (Register(m)) Reassign(_state.AssignOrphans(Now));
        });
        ReceiveWorkerLoss();
        Receive<ShardLoaded>(OnLoaded);
        Receive<ShardLoadFailed>(OnLoadFailed);
        Receive<ShardResult>(m => { if (IsOurs(m)) Accept(m.Epoch, m.Step, m.ShardIndex, m.Reply); else DropStale(m); });
        Receive<ReplyChunk>(OnChunk);
        Receive<ShardFailed>(OnShardFailed);
        Receive<CancelSolve>(_ =>
        {
            if (_afterSolve is null) _run!.Cancel(); // the solver stops at its next iteration boundary
            else Fail("cancelled after the solve, while the post-solve requests ran");
        });
        Receive<Tick>(_ => OnTick());
    }

    /// <summary>The final event has gone out and the actor is stopping: nothing more is done.</summary>
    private void Finished() => ReceiveAny(_ => { });

    private void ReceiveWorkerLoss()
    {
        Receive<Terminated>(t =>
        {
            if (_orders.TryGetValue(t.ActorRef, out var order)) Lose(order, "terminated", stillThere: false);
        });
        Receive<WorkerUnreachable>(u =>
        {
            foreach (var w in _state.Workers.Where(w => w.Alive && _actors[w.Order].Path.Address.Equals(u.Address)).ToList())
                Lose(w.Order, $"unreachable ({u.Address})");
        });
    }

    // ---- workers -----------------------------------------------------------------------------------------------

    /// <summary>Registers the sender (acknowledged again if known); true when it is a new worker.</summary>
    private bool Register(RegisterWorker m)
    {
        if (_orders.ContainsKey(Sender))
        {
            Sender.Tell(new WorkerRegistered(Id));
            return false;
        }
        (_state, var order) = _state.Register(m.WorkerId, m.ProcessorCount, m.Cached);
        _actors.Add(Sender);
        _orders[Sender] = order;
        Context.Watch(Sender);
        Sender.Tell(new WorkerRegistered(Id));
        _subscriber.Tell(new WorkerJoined(Id, m.WorkerId, Sender.Path.Address.ToString(), m.ProcessorCount));
        _log.Info("solve {0}: worker {1} registered ({2} live)", Id, m.WorkerId, _state.LiveCount);
        return true;
    }

    /// <summary>
    /// Stops using a worker for this solve (it is not taken back even if it answers again; the next solve uses it)
    /// and reassigns its shards.
    /// </summary>
    private void Lose(int order, string reason, bool stillThere = true)
    {
        var worker = _state.Workers[order];
        if (!worker.Alive || _finished) return;
        var actor = _actors[order];
        Context.Unwatch(actor);
        if (stillThere) actor.Tell(new ReleaseSolve(Id)); // slow or partitioned, perhaps alive: free its memory
        _log.Warning("solve {0}: worker {1} lost: {2}", Id, worker.Id, reason);
        _subscriber.Tell(new WorkerLost(Id, worker.Id, reason));
        foreach (var shard in _state.Shards.Where(s => s.Owner == order)) _assemblers.Remove(shard.Index);
        Reassign(_state.LoseWorker(order, Now));
    }

    /// <summary>
    /// Adopts the state after an assignment and carries it out: each new owner gets AssignShard (and the pending
    /// request when the shard's reply is missing); a shard no live worker can load fails the solve.
    /// </summary>
    private void Reassign((AssignmentState State, Reassignment Change) transition)
    {
        var (state, change) = transition;
        _state = state;
        foreach (var h in change.Handovers)
        {
            var shard = _state.Shards[h.ShardIndex];
            var owner = _state.Workers[h.Owner];
            _assemblers.Remove(h.ShardIndex);
            _actors[h.Owner].Tell(new AssignShard(Id, h.Epoch, h.ShardIndex, _spec.Source, shard.Rows));
            _subscriber.Tell(new ShardAssigned(Id, h.Epoch, h.ShardIndex, shard.Rows, owner.Id, h.PreviousOwner));
            if (h.PreviousOwner is not null)
                _log.Info("solve {0}: shard {1} moved from {2} to {3} at epoch {4}", Id, h.ShardIndex, h.PreviousOwner, owner.Id, h.Epoch);
            if (h.SendRequest) SendPending(shard);
        }
        if (change.Unloadable is { } failed)
            Fail($"no worker could load shard {failed.Index} (rows {failed.Rows.Start}..{failed.Rows.Start + failed.Rows.Count - 1}) " +
                 $"of {_spec.Source}: " + string.Join("; ", failed.LoadFailures.Select(f => $"{f.WorkerId}: {f.Reason}")));
        else if (change.NoLiveWorker)
            _log.Warning("solve {0}: no live worker for shard(s) {1}; waiting up to {2} for one",
                Id, BoundedList.Describe(_state.Shards.Where(s => s.Owner is null).Select(s => s.Index)), _settings.NoWorkerTimeout);
    }

    // ---- steps -------------------------------------------------------------------------------------------------

    private void StartSolve()
    {
        Become(Solving);
        var ranges = ShardLayout.Split(_spec.Shape.Rows, _spec.Shards);
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
        Reassign(_state.Start(ranges, Now));
        if (_finished) return;
        ShardRequest? first;
        try { first = _run.Start(clockRunning: false); }   // the clock starts once every shard is loaded (OnLoaded)
        catch (Exception e)
        {
            Fail($"solver {_spec.Solver.Name} failed: {e.GetType().Name}: {e.Message}");
            return;
        }
        FanOut(first);
    }

    private void FanOut(ShardRequest? request)
    {
        if (request is null && _afterSolve is null && _spec.AfterSolve is { } after)
            request = StartAfterSolve(after, _run!.Result!);
        if (request is null)
        {
            Finish(new SolveCompleted(Id, _run!.Result!));
            return;
        }
        _state = _state.BeginStep(Now);
        _pending = request;
        _pendingChunks = null;
        _assemblers.Clear();
        if (_settings.MaxRequestBytes > 0)
        {
            // Too large for one remote frame: the request's tagged encoding goes in pieces (the same for every shard).
            // The step header an EvaluateShard adds is a few dozen bytes, inside the frame's reserved overhead.
            var encoded = WireFormat.EncodeRequest(request);
            if (encoded.LongLength > _settings.MaxRequestBytes)
                _pendingChunks = (ChunkAssembler.Split(encoded, _settings.RequestChunkBytes), encoded.LongLength);
        }
        foreach (var shard in _state.Shards)
            if (shard.Outstanding) SendPending(shard);
    }

    /// <summary>The program that runs after the solver on the same shards (<see cref="SolveSpec.AfterSolve"/>): its first request, or null.</summary>
    private ShardRequest? StartAfterSolve(Func<SolverResult, IRequestProgram?> after, SolverResult solved)
    {
        try
        {
            _afterSolve = after(solved);
            return _afterSolve?.Start();
        }
        catch (Exception e)
        {
            // Its creator sees that it did not finish; the solve's own result stands.
            _log.Warning("solve {0}: the post-solve program did not start: {1}", Id, e.Message);
            _afterSolve?.Abandon(e.Message);
            return null;
        }
    }

    /// <summary>Sends the pending request to the shard's owner (the state has already marked it outstanding).</summary>
    private void SendPending(ShardEntry shard)
    {
        var owner = _actors[shard.Owner!.Value];
        if (_pendingChunks is var (pieces, total))
            for (int c = 0; c < pieces.Length; c++)
                owner.Tell(new RequestChunk(Id, shard.Epoch, _state.Step, shard.Index, c, pieces.Length, total, pieces[c]));
        else
            owner.Tell(new EvaluateShard(Id, shard.Epoch, _state.Step, shard.Index, _pending!));
    }

    private bool IsOurs(ISolveMessage m) => m.SolveId == Id;

    private void DropStale(IStepMessage m)
    {
        _state = _state.DropStale();
        if (_log.IsDebugEnabled)
            _log.Debug($"solve {Id}: dropped stale {m.GetType().Name} (solve {m.SolveId}, epoch {m.Epoch}, step {m.Step}, " +
                       $"shard {m.ShardIndex}); now at step {_state.Step}");
    }

    private void OnChunk(ReplyChunk chunk)
    {
        if (!IsOurs(chunk) || !_state.Awaits(chunk.Epoch, chunk.Step, chunk.ShardIndex))
        {
            DropStale(chunk);
            return;
        }
        int index = chunk.ShardIndex;
        try
        {
            if (!_assemblers.TryGetValue(index, out var partial) || partial.Epoch != chunk.Epoch || partial.Step != chunk.Step)
                _assemblers[index] = partial = (chunk.Epoch, chunk.Step, new ChunkAssembler(chunk.ChunkCount, chunk.TotalBytes, _settings.Limits));
            // Data is arriving: a long chunked reply is not a silent owner.
            _state = _state.ReplyArriving(index, Now);
            if (!partial.Assembler.Add(chunk)) return;
            _assemblers.Remove(index);
            Accept(chunk.Epoch, chunk.Step, index, partial.Assembler.CompleteReply());
        }
        catch (Exception e)
        {
            Fail($"the chunked reply of shard {index} from {_state.Workers[_state.Shards[index].Owner!.Value].Id} is corrupt: {e.Message}");
        }
    }

    private void Accept(int epoch, long step, int shardIndex, ShardReply reply)
    {
        (_state, var outcome) = _state.Accept(epoch, step, shardIndex, reply);
        if (outcome == ReplyOutcome.Stale)
        {
            if (_log.IsDebugEnabled)
                _log.Debug($"solve {Id}: dropped a stale reply (epoch {epoch}, step {step}, shard {shardIndex}); now at step {_state.Step}");
            return;
        }
        if (outcome != ReplyOutcome.StepComplete) return;

        ShardRequest? next;
        try
        {
            var replies = _state.RepliesInShardOrder();
            var merged = replies[0];
            for (int k = 1; k < replies.Count; k++) merged = merged.Merge(replies[k]);
            next = _afterSolve is { } program ? program.Submit(merged) : _run!.Submit(merged);
        }
        catch (Exception e)
        {
            Fail(_afterSolve is null
                ? $"solver {_spec.Solver.Name} failed at step {_state.Step}: {e.GetType().Name}: {e.Message}"
                : $"the post-solve program failed at step {_state.Step}: {e.GetType().Name}: {e.Message}");
            return;
        }
        FanOut(next);
    }

    private void OnLoaded(ShardLoaded m)
    {
        if (!IsOurs(m)) return;
        (_state, var applied) = _state.Loaded(m.ShardIndex, m.Epoch, Now);
        if (applied) _subscriber.Tell(new ShardReady(Id, m.Epoch, m.ShardIndex, m.WorkerId, m.Rows, m.Seconds));
        if (_state.Shards.All(s => s.Loaded)) _run?.StartClock();
    }

    private void OnLoadFailed(ShardLoadFailed m)
    {
        if (!IsOurs(m)) return;
        // The rows may load elsewhere (a node without the file, a transient I/O error): move the shard to a live
        // worker that has not failed it yet; when every live worker has, the solve fails with all their reasons.
        var (state, released, change) = _state.LoadFailed(m.ShardIndex, m.Epoch, m.Reason, Now);
        if (released is not { } owner) return;
        _log.Warning("solve {0}: worker {1} could not load shard {2}: {3}", Id, _state.Workers[owner].Id, m.ShardIndex, m.Reason);
        _actors[owner].Tell(new ReleaseShard(Id, m.ShardIndex));
        _assemblers.Remove(m.ShardIndex);
        Reassign((state, change));
    }

    private void OnShardFailed(ShardFailed m)
    {
        if (!IsOurs(m) || !_state.Awaits(m.Epoch, m.Step, m.ShardIndex))
        {
            DropStale(m);
            return;
        }
        int owner = _state.Shards[m.ShardIndex].Owner!.Value;
        if (m.WorkerFault) Lose(owner, m.Reason);
        else Fail($"shard {m.ShardIndex} failed on {_state.Workers[owner].Id}: {m.Reason}");
    }

    // ---- time --------------------------------------------------------------------------------------------------

    private void OnTick()
    {
        var now = Now;
        if (_state.OrphanedLongerThan(_settings.NoWorkerTimeout, now))
        {
            var lost = _state.Workers.Where(w => !w.Alive).Select(w => w.Id);
            Fail($"no live worker for {Seconds(_settings.NoWorkerTimeout)}: shard(s) {BoundedList.Describe(_state.Shards.Where(s => s.Owner is null).Select(s => s.Index))} " +
                 $"have no owner (lost: {BoundedList.Describe(lost)})");
            return;
        }
        foreach (var w in _state.SilentOwners(now))
        {
            if (_finished) return;
            Lose(w, $"no answer to step {_state.Step} within the {(_state.IsLoadingOn(w) ? "load + " : "")}step timeout");
        }
    }

    private static string Seconds(TimeSpan t) => $"{t.TotalSeconds:0.###} s";

    // ---- end ---------------------------------------------------------------------------------------------------

    private void Fail(string reason)
    {
        if (_afterSolve is not null && !_finished)
        {
            // The solver had finished: its result stands, and only what ran after it is lost (its creator sees why).
            _log.Info("solve {0}: the post-solve requests stopped: {1}", Id, reason);
            _afterSolve.Abandon(reason);
            Finish(new SolveCompleted(Id, _run!.Result!));
            return;
        }
        // Info, not Error: the failure is the solve's result, which its host reports (the command's one-line error, the
        // service's job record); at Error it would be a second copy on the command's stderr.
        _log.Info("solve {0} failed: {1}", Id, reason);
        Finish(new SolveFailed(Id, reason));
    }

    private void Finish(SolveEvent final)
    {
        if (_finished) return;
        _finished = true;
        Become(Finished);
        if (_state.StaleDropped > 0) _log.Info("solve {0}: {1} stale message(s) dropped", Id, _state.StaleDropped);
        _subscriber.Tell(final);
        ReleaseWorkers();
        Timers.CancelAll();
        Context.Stop(Self);
    }

    private void ReleaseWorkers()
    {
        foreach (var w in _state.Workers.Where(w => w.Alive)) _actors[w.Order].Tell(new ReleaseSolve(Id));
    }
}
