using System.Collections.Immutable;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// The coordinator's bookkeeping for one solve as an immutable value with pure transitions (no actors, no clock:
/// the time is an argument). It says which worker owns which shard at which epoch, which shards are loaded, which
/// replies of the current step are in, and which workers failed to load which shards. <see cref="CoordinatorActor"/>
/// holds one value, replaces it on every message and turns what a transition reports into messages.
///
/// Invariants: <see cref="Workers"/>[k].Order = k; a shard's <see cref="ShardEntry.Owner"/>, when set, is a live
/// worker; epochs only grow, and every shard handed over by one <see cref="AssignOrphans"/> gets the same new epoch;
/// a reply is accepted only for the awaited (epoch, step) of an owned shard that has none yet.
/// </summary>
internal sealed record AssignmentState
{
    /// <summary>Registered workers, in registration order (lost ones stay, with Alive = false).</summary>
    public ImmutableArray<WorkerEntry> Workers { get; init; } = ImmutableArray<WorkerEntry>.Empty;
    /// <summary>The row shards, by index; empty until <see cref="Start"/>.</summary>
    public ImmutableArray<ShardEntry> Shards { get; init; } = ImmutableArray<ShardEntry>.Empty;
    /// <summary>The last assignment epoch handed out (0: none yet).</summary>
    public int Epoch { get; init; }
    /// <summary>The current step (0: no request sent yet). Replies must carry it.</summary>
    public long Step { get; init; }
    /// <summary>Since when shards have had no live worker to go to, or null.</summary>
    public TimeSpan? OrphanedSince { get; init; }
    /// <summary>Step messages dropped because they were stale (for the log).</summary>
    public long StaleDropped { get; init; }
    /// <summary>How long an owner may take to answer a step, without and with a load in front of it.</summary>
    public TimeSpan StepTimeout { get; init; }
    public TimeSpan LoadTimeout { get; init; }
    /// <summary>The solve's source as the shard caches identify it (null: caches are not consulted).</summary>
    public string? SourceIdentity { get; init; }

    public static AssignmentState Initial(TimeSpan stepTimeout, TimeSpan loadTimeout) =>
        new() { StepTimeout = stepTimeout, LoadTimeout = loadTimeout };

    public int LiveCount => Workers.Count(w => w.Alive);

    /// <summary>Whether the solve has begun (shards exist).</summary>
    public bool Started => Shards.Length > 0;

    /// <summary>Shards owned by a worker.</summary>
    public int ShardCountOf(int order) => Shards.Count(s => s.Owner == order);

    /// <summary>Whether a worker owns a shard it has not loaded yet.</summary>
    public bool IsLoadingOn(int order) => Shards.Any(s => s.Owner == order && !s.Loaded);

    // ---- workers -----------------------------------------------------------------------------------------------

    /// <summary>
    /// A new worker, alive, with the next registration order (returned); of its cached rows it keeps those of this
    /// solve's source (<see cref="SourceIdentity"/>).
    /// </summary>
    public (AssignmentState State, int Order) Register(string workerId, int processors, IReadOnlyList<Protocol.CachedRows>? cached = null)
    {
        int order = Workers.Length;
        var ours = SourceIdentity is null || cached is null
            ? null
            : cached.Where(c => c.Source == SourceIdentity).Select(c => (c.RowStart, c.Rows)).ToHashSet();
        return (this with { Workers = Workers.Add(new WorkerEntry(order, workerId, processors, true, ours)) }, order);
    }

    /// <summary>
    /// Stops using a worker: it is marked lost, its shards become orphans (keeping a reply already in for the current
    /// step) and go to live workers (<see cref="AssignOrphans"/>). A worker already lost changes nothing.
    /// </summary>
    public (AssignmentState State, Reassignment Change) LoseWorker(int order, TimeSpan now)
    {
        var worker = Workers[order];
        if (!worker.Alive) return (this, Reassignment.None);
        var shards = Shards.Select(s => s.Owner == order ? s.Orphaned(worker.Id) : s).ToImmutableArray();
        var lost = this with { Workers = Workers.SetItem(order, worker with { Alive = false }), Shards = shards };
        return lost.Started ? lost.AssignOrphans(now) : (lost, Reassignment.None);
    }

    // ---- assignment --------------------------------------------------------------------------------------------

    /// <summary>Creates the shards of the row ranges (all orphans) and assigns them.</summary>
    public (AssignmentState State, Reassignment Change) Start(IReadOnlyList<RowRange> ranges, TimeSpan now)
    {
        if (Started) throw new InvalidOperationException("the shards are already laid out");
        if (ranges.Count == 0) throw new ArgumentException("a solve needs at least one shard", nameof(ranges));
        var shards = ranges.Select((r, i) => ShardEntry.Unassigned(i, r)).ToImmutableArray();
        return (this with { Shards = shards }).AssignOrphans(now);
    }

    /// <summary>
    /// Gives every shard without an owner, in shard order, among the live workers that have not failed to load it, to
    /// the first by: below its fair share ⌈shards / live workers⌉ (so preferences never unbalance the solve), holding
    /// the shard's rows in its shard cache (a second job on the same source loads nothing), fewest shards, smallest
    /// worker id (ordinal — the same workers get the same shards in every job) — all under one new epoch. A handed-over shard is
    /// loading; when a step is under way and its reply is missing, its request goes out at once (deadline: load +
    /// step timeout). Stops at the first shard no live worker can load. With orphans and no live worker it records
    /// since when (<see cref="OrphanedSince"/>); without orphans it clears that.
    /// </summary>
    public (AssignmentState State, Reassignment Change) AssignOrphans(TimeSpan now)
    {
        if (!Shards.Any(s => s.Owner is null)) return (this with { OrphanedSince = null }, Reassignment.None);
        var live = Workers.Where(w => w.Alive).ToList();
        if (live.Count == 0)
            return (this with { OrphanedSince = OrphanedSince ?? now }, Reassignment.None with { NoLiveWorker = true });

        int epoch = Epoch + 1;
        var shards = Shards.ToBuilder();
        var counts = live.ToDictionary(w => w.Order, w => ShardCountOf(w.Order));
        int fairShare = (Shards.Length + live.Count - 1) / live.Count;
        var handovers = ImmutableArray.CreateBuilder<ShardHandover>();
        ShardEntry? unloadable = null;
        for (int i = 0; i < shards.Count; i++)
        {
            var shard = shards[i];
            if (shard.Owner is not null) continue;
            var candidates = live.Where(w => !shard.HasFailedOn(w.Id)).ToList();
            if (candidates.Count == 0)
            {
                unloadable = shard;
                break;
            }
            var owner = candidates
                .OrderBy(w => counts[w.Order] >= fairShare ? 1 : 0)
                .ThenBy(w => w.Holds(shard.Rows) ? 0 : 1)
                .ThenBy(w => counts[w.Order])
                .ThenBy(w => w.Id, StringComparer.Ordinal).First();
            counts[owner.Order]++;
            bool send = Step > 0 && shard.Reply is null;
            shards[i] = shard with
            {
                Owner = owner.Order, Epoch = epoch, Loaded = false, Outstanding = send,
                Deadline = send ? now + StepTimeout + LoadTimeout : shard.Deadline,
            };
            handovers.Add(new ShardHandover(i, owner.Order, epoch, shard.PreviousOwner, send));
        }
        var next = this with { Shards = shards.ToImmutable(), Epoch = epoch, OrphanedSince = null };
        return (next, new Reassignment(handovers.ToImmutable(), unloadable, false));
    }

    /// <summary>The owner reports the shard's rows loaded; a message about another epoch (or an orphan) is ignored.</summary>
    public (AssignmentState State, bool Applied) Loaded(int shardIndex, int epoch, TimeSpan now)
    {
        if (!IsCurrentOwnerEpoch(shardIndex, epoch)) return (this, false);
        var shard = Shards[shardIndex];
        var loaded = shard with { Loaded = true, Deadline = shard.Outstanding ? now + StepTimeout : shard.Deadline };
        return (this with { Shards = Shards.SetItem(shardIndex, loaded) }, true);
    }

    /// <summary>
    /// The owner could not load the shard: the failure is recorded against that worker, which gives the shard up
    /// (<paramref name="Released"/>: the actor tells it so), and the shard goes to a live worker that has not failed
    /// it (<see cref="AssignOrphans"/>). A message about another epoch (or an orphan) is ignored.
    /// </summary>
    public (AssignmentState State, int? Released, Reassignment Change) LoadFailed(int shardIndex, int epoch, string reason, TimeSpan now)
    {
        if (!IsCurrentOwnerEpoch(shardIndex, epoch)) return (this, null, Reassignment.None);
        var shard = Shards[shardIndex];
        int owner = shard.Owner!.Value;
        var ownerId = Workers[owner].Id;
        var failed = shard.Orphaned(ownerId) with { LoadFailures = shard.LoadFailures.Add(new LoadFailure(ownerId, reason)) };
        var (next, change) = (this with { Shards = Shards.SetItem(shardIndex, failed) }).AssignOrphans(now);
        return (next, owner, change);
    }

    private bool IsCurrentOwnerEpoch(int shardIndex, int epoch) =>
        shardIndex >= 0 && shardIndex < Shards.Length && Shards[shardIndex] is { Owner: not null } s && s.Epoch == epoch;

    // ---- steps -------------------------------------------------------------------------------------------------

    /// <summary>
    /// A new request: the step number advances, every reply is cleared, and every owned shard's request goes out
    /// now (deadline: step timeout, plus the load timeout while the shard is loading). Orphans get it when assigned.
    /// </summary>
    public AssignmentState BeginStep(TimeSpan now) => this with
    {
        Step = Step + 1,
        Shards = Shards.Select(s => s with
        {
            Reply = null,
            Outstanding = s.Owner is not null,
            Deadline = s.Owner is not null ? now + StepTimeout + (s.Loaded ? TimeSpan.Zero : LoadTimeout) : s.Deadline,
        }).ToImmutableArray(),
    };

    /// <summary>Whether a message tagged (epoch, step, shard) answers the current step of a shard still waiting.</summary>
    public bool Awaits(int epoch, long step, int shardIndex) =>
        step == Step && Step > 0 && shardIndex >= 0 && shardIndex < Shards.Length &&
        Shards[shardIndex] is { Owner: not null, Reply: null } s && s.Epoch == epoch;

    /// <summary>Counts a step message that did not pass <see cref="Awaits"/>.</summary>
    public AssignmentState DropStale() => this with { StaleDropped = StaleDropped + 1 };

    /// <summary>Part of a chunked reply arrived: data is flowing, so the owner is not silent (deadline extended).</summary>
    public AssignmentState ReplyArriving(int shardIndex, TimeSpan now) =>
        this with { Shards = Shards.SetItem(shardIndex, Shards[shardIndex] with { Deadline = now + StepTimeout }) };

    /// <summary>
    /// A reply tagged (epoch, step, shard): kept when awaited (<see cref="ReplyOutcome.StepComplete"/> once every
    /// shard has one), otherwise dropped as stale and counted.
    /// </summary>
    public (AssignmentState State, ReplyOutcome Outcome) Accept(int epoch, long step, int shardIndex, ShardReply reply)
    {
        if (!Awaits(epoch, step, shardIndex)) return (DropStale(), ReplyOutcome.Stale);
        var shards = Shards.SetItem(shardIndex, Shards[shardIndex] with { Reply = reply, Outstanding = false });
        var next = this with { Shards = shards };
        return (next, shards.All(s => s.Reply is not null) ? ReplyOutcome.StepComplete : ReplyOutcome.Accepted);
    }

    /// <summary>The current step's replies in shard order (after <see cref="ReplyOutcome.StepComplete"/>).</summary>
    public IReadOnlyList<ShardReply> RepliesInShardOrder() =>
        Shards.Select(s => s.Reply ?? throw new InvalidOperationException($"shard {s.Index} has not answered step {Step}")).ToList();

    // ---- time --------------------------------------------------------------------------------------------------

    /// <summary>Whether shards have had no live worker for longer than the timeout.</summary>
    public bool OrphanedLongerThan(TimeSpan timeout, TimeSpan now) => OrphanedSince is { } since && now - since > timeout;

    /// <summary>Live owners with an outstanding request past its deadline, each once, in shard order.</summary>
    public IReadOnlyList<int> SilentOwners(TimeSpan now) =>
        Shards.Where(s => s.Outstanding && s.Owner is not null && now > s.Deadline).Select(s => s.Owner!.Value).Distinct().ToList();
}
