namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// A worker as the coordinator's <see cref="AssignmentState"/> sees it: its registration order (its index in
/// <see cref="AssignmentState.Workers"/> and the tie-break among equally loaded workers), its id and whether it is
/// still used for this solve. A lost worker is never taken back; the actor maps the order to the worker's actor.
/// </summary>
/// <param name="CachedRows">The row ranges [start, start + rows) of this solve's source in the worker's shard cache
/// when it registered: preferred owners of those shards.</param>
internal sealed record WorkerEntry(int Order, string Id, int Processors, bool Alive, IReadOnlySet<(long Start, int Rows)>? CachedRows = null)
{
    /// <summary>Whether the worker reported the shard's rows cached.</summary>
    public bool Holds(Core.Shards.RowRange rows) => CachedRows?.Contains((rows.Start, (int)rows.Count)) == true;
}
