namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// A worker as the coordinator's <see cref="AssignmentState"/> sees it: its registration order (its index in
/// <see cref="AssignmentState.Workers"/> and the tie-break among equally loaded workers), its id and whether it is
/// still used for this solve. A lost worker is never taken back; the actor maps the order to the worker's actor.
/// </summary>
internal sealed record WorkerEntry(int Order, string Id, int Processors, bool Alive);
