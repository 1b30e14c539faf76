using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Tests;

/// <summary>The coordinator's assignment state on its own: every transition is a pure function (no actors).</summary>
public sealed class AssignmentStateTests
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Load = TimeSpan.FromSeconds(100);
    private static readonly TimeSpan T0 = TimeSpan.FromSeconds(1);

    private static ShardReply Reply(double value) => new GramReply(new[] { value }, 1);

    /// <summary>Workers w0…w(k−1) registered, then <paramref name="shards"/> shards of 10 rows each laid out.</summary>
    private static (AssignmentState State, Reassignment Change) Started(int workers, int shards)
    {
        var state = AssignmentState.Initial(Step, Load);
        for (int k = 0; k < workers; k++) state = state.Register($"w{k}", 2).State;
        return state.Start(ShardLayout.Split(10L * shards, shards), T0);
    }

    private static IEnumerable<int?> Owners(AssignmentState s) => s.Shards.Select(x => x.Owner);

    [Fact]
    public void Registering_gives_orders_in_arrival_and_leaves_the_earlier_state_unchanged()
    {
        var empty = AssignmentState.Initial(Step, Load);
        var (one, first) = empty.Register("a", 4);
        var (two, second) = one.Register("b", 8);
        Assert.Equal((0, 1), (first, second));
        Assert.Empty(empty.Workers);
        Assert.Single(one.Workers);
        Assert.Equal(new WorkerEntry(1, "b", 8, true), two.Workers[1]);
        Assert.Equal(2, two.LiveCount);
        Assert.False(two.Started);
    }

    [Fact]
    public void Start_assigns_every_shard_to_the_least_loaded_worker_under_epoch_one_without_sending_a_request()
    {
        var (state, change) = Started(workers: 2, shards: 5);
        Assert.Equal(new int?[] { 0, 1, 0, 1, 0 }, Owners(state));
        Assert.Equal(1, state.Epoch);
        Assert.All(state.Shards, s => Assert.Equal((1, false, false, (string?)null), (s.Epoch, s.Loaded, s.Outstanding, s.PreviousOwner)));
        Assert.Equal(Enumerable.Range(0, 5), change.Handovers.Select(h => h.ShardIndex));
        Assert.All(change.Handovers, h => Assert.False(h.SendRequest)); // no step yet
        Assert.Null(change.Unloadable);
        Assert.False(change.NoLiveWorker);
        Assert.Equal((3, 2), (state.ShardCountOf(0), state.ShardCountOf(1)));
        Assert.Equal(new RowRange(20, 10), state.Shards[2].Rows);
    }

    /// <summary>Two workers "a" and "b" whose shard caches hold the given 10-row ranges of source "S" (and of "other").</summary>
    private static AssignmentState WithCaches(long[] aStarts, long[] bStarts)
    {
        static CachedRows[] Rows(long[] starts) =>
            starts.Select(s => new CachedRows("S", s, 10)).Append(new CachedRows("other", 0, 10)).ToArray();
        var state = AssignmentState.Initial(Step, Load) with { SourceIdentity = "S" };
        state = state.Register("a", 2, Rows(aStarts)).State;
        return state.Register("b", 2, Rows(bStarts)).State;
    }

    [Fact]
    public void Shards_go_to_the_workers_that_hold_their_rows_in_their_shard_caches()
    {
        // Without the caches, shard 0 would go to "a" (fewest shards, then the smallest id).
        var state = WithCaches(aStarts: [10, 30], bStarts: [0, 20]);
        var (started, _) = state.Start(ShardLayout.Split(40, 4), T0);
        Assert.Equal(new int?[] { 1, 0, 1, 0 }, Owners(started));
        // Another source's rows, or no source identity at all, give no preference.
        var blind = (state with { SourceIdentity = null }).Register("c", 2, [new CachedRows("S", 0, 10)]).State;
        Assert.Null(blind.Workers[2].CachedRows);
        Assert.False(state.Workers[0].Holds(new RowRange(0, 10)));
    }

    [Fact]
    public void Cached_rows_never_unbalance_the_assignment()
    {
        // "a" holds all four shards: it takes its fair share ⌈4/2⌉ = 2, the rest go to "b".
        var (started, _) = WithCaches(aStarts: [0, 10, 20, 30], bStarts: []).Start(ShardLayout.Split(40, 4), T0);
        Assert.Equal((2, 2), (started.ShardCountOf(0), started.ShardCountOf(1)));
        Assert.Equal(new int?[] { 0, 0, 1, 1 }, Owners(started));
    }

    [Fact]
    public void A_step_makes_every_owned_shard_outstanding_with_the_load_timeout_until_loaded()
    {
        var state = Started(2, 2).State;
        var now = TimeSpan.FromSeconds(5);
        var stepped = state.BeginStep(now);
        Assert.Equal(1, stepped.Step);
        Assert.All(stepped.Shards, s => Assert.True(s.Outstanding));
        Assert.All(stepped.Shards, s => Assert.Equal(now + Step + Load, s.Deadline));

        var later = TimeSpan.FromSeconds(7);
        var (loaded, applied) = stepped.Loaded(1, epoch: 1, later);
        Assert.True(applied);
        Assert.True(loaded.Shards[1].Loaded);
        Assert.Equal(later + Step, loaded.Shards[1].Deadline);
        Assert.Equal(now + Step + Load, loaded.Shards[0].Deadline);
        Assert.False(stepped.Shards[1].Loaded); // the earlier value is untouched

        var (same, ignored) = loaded.Loaded(0, epoch: 2, later);
        Assert.False(ignored);
        Assert.Same(loaded, same);
        Assert.False(loaded.Loaded(7, epoch: 1, later).Applied);

        // The next step keeps the step timeout alone for the loaded shard.
        var next = loaded.BeginStep(later);
        Assert.Equal(later + Step, next.Shards[1].Deadline);
        Assert.Equal(later + Step + Load, next.Shards[0].Deadline);
    }

    [Fact]
    public void Stale_replies_of_a_wrong_epoch_step_or_shard_are_dropped_and_counted()
    {
        var state = Started(2, 2).State.BeginStep(T0).BeginStep(T0); // step 2, epoch 1
        var stale = new[]
        {
            (Epoch: 2, Step: 2L, Shard: 0), // wrong epoch
            (Epoch: 1, Step: 1L, Shard: 0), // old step
            (Epoch: 1, Step: 3L, Shard: 0), // future step
            (Epoch: 1, Step: 2L, Shard: 2), // no such shard
            (Epoch: 1, Step: 2L, Shard: -1),
        };
        foreach (var (epoch, step, shard) in stale)
        {
            Assert.False(state.Awaits(epoch, step, shard));
            var (next, outcome) = state.Accept(epoch, step, shard, Reply(666));
            Assert.Equal(ReplyOutcome.Stale, outcome);
            Assert.Equal(state.StaleDropped + 1, next.StaleDropped);
            Assert.Equal(state.Shards, next.Shards);
            state = next;
        }
        Assert.Equal(stale.Length, state.StaleDropped);
        Assert.Equal(1, state.DropStale().StaleDropped - state.StaleDropped);
    }

    [Fact]
    public void Replies_are_accepted_once_and_the_step_completes_with_them_in_shard_order()
    {
        var state = Started(2, 3).State.BeginStep(T0);
        var (afterTwo, accepted) = state.Accept(1, 1, 2, Reply(2));
        Assert.Equal(ReplyOutcome.Accepted, accepted);
        Assert.False(afterTwo.Shards[2].Outstanding);
        Assert.False(afterTwo.Awaits(1, 1, 2));

        var (duplicate, again) = afterTwo.Accept(1, 1, 2, Reply(99));
        Assert.Equal(ReplyOutcome.Stale, again);
        Assert.Equal(2.0, ((GramReply)duplicate.Shards[2].Reply!).PackedUpper[0]);

        var (afterZero, _) = afterTwo.Accept(1, 1, 0, Reply(0));
        Assert.Throws<InvalidOperationException>(() => afterZero.RepliesInShardOrder());
        var (complete, outcome) = afterZero.Accept(1, 1, 1, Reply(1));
        Assert.Equal(ReplyOutcome.StepComplete, outcome);
        Assert.Equal(new[] { 0.0, 1.0, 2.0 }, complete.RepliesInShardOrder().Select(r => ((GramReply)r).PackedUpper[0]));

        var next = complete.BeginStep(T0);
        Assert.All(next.Shards, s => Assert.Null(s.Reply));
        Assert.Equal(2, next.Step);
    }

    [Fact]
    public void Losing_a_worker_moves_its_shards_under_a_new_epoch_and_resends_only_missing_replies()
    {
        var state = Started(3, 4).State.BeginStep(T0); // owners 0, 1, 2, 0
        state = state.Accept(1, 1, 0, Reply(0)).State; // shard 0 (w0) already answered step 1
        var now = TimeSpan.FromSeconds(3);
        var (lost, change) = state.LoseWorker(0, now);

        Assert.False(lost.Workers[0].Alive);
        Assert.Equal(2, lost.Epoch);
        Assert.Equal(new[] { 0, 3 }, change.Handovers.Select(h => h.ShardIndex));
        Assert.Equal(new[] { 1, 2 }, change.Handovers.Select(h => h.Owner)); // fewest shards, then earliest
        Assert.All(change.Handovers, h => Assert.Equal((2, "w0"), (h.Epoch, h.PreviousOwner)));
        Assert.Equal(new[] { false, true }, change.Handovers.Select(h => h.SendRequest));
        Assert.Equal(0.0, ((GramReply)lost.Shards[0].Reply!).PackedUpper[0]); // the reply in stays
        Assert.Equal((2, false, true, now + Step + Load), (lost.Shards[3].Epoch, lost.Shards[3].Loaded, lost.Shards[3].Outstanding, lost.Shards[3].Deadline));
        Assert.Equal((1, 1), (lost.Shards[1].Epoch, lost.Shards[2].Epoch)); // untouched shards keep their epoch

        // The old owner's late reply (epoch 1) is stale; the new owner's (epoch 2) completes the step.
        Assert.Equal(ReplyOutcome.Stale, lost.Accept(1, 1, 3, Reply(3)).Outcome);
        var done = lost.Accept(2, 1, 3, Reply(3)).State.Accept(1, 1, 1, Reply(1)).State.Accept(1, 1, 2, Reply(2));
        Assert.Equal(ReplyOutcome.StepComplete, done.Outcome);

        // Losing it again changes nothing.
        var (same, none) = lost.LoseWorker(0, now);
        Assert.Same(lost, same);
        Assert.Same(Reassignment.None, none);
    }

    [Fact]
    public void Without_live_workers_orphans_wait_and_a_late_worker_takes_them_over()
    {
        var state = Started(1, 2).State.BeginStep(T0);
        var (orphaned, change) = state.LoseWorker(0, TimeSpan.FromSeconds(2));
        Assert.True(change.NoLiveWorker);
        Assert.Empty(change.Handovers);
        Assert.All(orphaned.Shards, s => Assert.Equal(((int?)null, "w0", false), (s.Owner, s.PreviousOwner, s.Outstanding)));
        Assert.Equal(TimeSpan.FromSeconds(2), orphaned.OrphanedSince);
        Assert.False(orphaned.Awaits(1, 1, 0));
        // Still none later: the first time is kept.
        orphaned = orphaned.AssignOrphans(TimeSpan.FromSeconds(4)).State;
        Assert.Equal(TimeSpan.FromSeconds(2), orphaned.OrphanedSince);
        Assert.False(orphaned.OrphanedLongerThan(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5)));
        Assert.True(orphaned.OrphanedLongerThan(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5.5)));

        var (registered, late) = orphaned.Register("late", 1);
        var (adopted, handed) = registered.AssignOrphans(TimeSpan.FromSeconds(6));
        Assert.Null(adopted.OrphanedSince);
        Assert.Equal(new int?[] { late, late }, Owners(adopted));
        Assert.Equal(2, adopted.Epoch);
        Assert.All(handed.Handovers, h => Assert.True(h.SendRequest));
    }

    [Fact]
    public void A_load_failure_moves_the_shard_to_a_worker_that_has_not_failed_it_and_fails_when_none_is_left()
    {
        var state = Started(2, 2).State.BeginStep(T0); // shard 0 on w0, shard 1 on w1
        var (moved, released, change) = state.LoadFailed(0, epoch: 1, "no such file", TimeSpan.FromSeconds(2));
        Assert.Equal(0, released);
        var handover = Assert.Single(change.Handovers);
        Assert.Equal(new ShardHandover(0, 1, 2, "w0", true), handover);
        Assert.Equal(new[] { new LoadFailure("w0", "no such file") }, moved.Shards[0].LoadFailures);
        Assert.True(moved.Workers[0].Alive); // a load failure does not lose the worker

        // A failure report of the old epoch is ignored.
        var (same, none, nothing) = moved.LoadFailed(0, epoch: 1, "late", TimeSpan.FromSeconds(2));
        Assert.Same(moved, same);
        Assert.Null(none);
        Assert.Empty(nothing.Handovers);

        // w1 cannot load it either: every live worker has failed shard 0.
        var (failed, releasedAgain, end) = moved.LoadFailed(0, epoch: 2, "disk error", TimeSpan.FromSeconds(3));
        Assert.Equal(1, releasedAgain);
        Assert.Empty(end.Handovers);
        Assert.NotNull(end.Unloadable);
        Assert.Equal(new[] { "w0: no such file", "w1: disk error" }, end.Unloadable!.LoadFailures.Select(f => $"{f.WorkerId}: {f.Reason}"));
        Assert.Null(failed.Shards[0].Owner);
    }

    [Fact]
    public void Silent_owners_are_those_past_the_deadline_each_once()
    {
        var state = Started(2, 4).State.BeginStep(T0); // owners 0, 1, 0, 1; deadline T0 + step + load
        state = state.Loaded(0, 1, T0).State.Loaded(2, 1, T0).State; // w0 loaded both: deadline T0 + step
        Assert.Empty(state.SilentOwners(T0 + Step));
        Assert.Equal(new[] { 0 }, state.SilentOwners(T0 + Step + TimeSpan.FromTicks(1)));
        Assert.True(state.IsLoadingOn(1));
        Assert.False(state.IsLoadingOn(0));
        // A chunk of shard 0 arriving extends its deadline; shard 2 still makes w0 silent.
        var arriving = state.ReplyArriving(0, T0 + Step);
        Assert.Equal(T0 + Step + Step, arriving.Shards[0].Deadline);
        Assert.Equal(new[] { 0 }, arriving.SilentOwners(T0 + Step + TimeSpan.FromSeconds(1)));
        // An answered shard is not outstanding.
        var answered = state.Accept(1, 1, 0, Reply(0)).State.Accept(1, 1, 2, Reply(2)).State;
        Assert.Equal(new[] { 1 }, answered.SilentOwners(T0 + Step + Load + TimeSpan.FromSeconds(1)));
    }
}
