using System.Collections.Immutable;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// One row shard in the coordinator's <see cref="AssignmentState"/>.
/// </summary>
/// <param name="Owner">Registration order of the owning worker (<see cref="WorkerEntry.Order"/>), or null while
/// the shard waits for a live worker.</param>
/// <param name="PreviousOwner">Id of the worker that held it before, reported when it is handed over.</param>
/// <param name="Epoch">Assignment epoch of the current owner: every message about the shard must carry it.</param>
/// <param name="Loaded">Whether the current owner reported its rows loaded (until then a request waits behind the
/// load, so its deadline includes the load timeout).</param>
/// <param name="Reply">The reply to the current step, once accepted.</param>
/// <param name="Outstanding">Whether the owner has the current step's request and has not answered it yet.</param>
/// <param name="Deadline">Coordinator-clock time by which an outstanding owner must answer (or send a chunk).</param>
/// <param name="LoadFailures">Workers that could not load these rows, in the order they failed.</param>
internal sealed record ShardEntry(int Index, RowRange Rows, int? Owner, string? PreviousOwner, int Epoch, bool Loaded,
    ShardReply? Reply, bool Outstanding, TimeSpan Deadline, ImmutableArray<LoadFailure> LoadFailures)
{
    public static ShardEntry Unassigned(int index, RowRange rows) =>
        new(index, rows, null, null, 0, false, null, false, TimeSpan.Zero, ImmutableArray<LoadFailure>.Empty);

    public bool HasFailedOn(string workerId)
    {
        foreach (var f in LoadFailures) if (f.WorkerId == workerId) return true;
        return false;
    }

    /// <summary>The owner is gone or gave the shard up: no owner, nothing outstanding; a reply already in stays.</summary>
    public ShardEntry Orphaned(string previousOwner) => this with { Owner = null, PreviousOwner = previousOwner, Outstanding = false };
}
