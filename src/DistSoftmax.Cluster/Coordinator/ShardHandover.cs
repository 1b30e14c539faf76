namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// A shard given to a worker by <see cref="AssignmentState.AssignOrphans"/>: the actor sends it an AssignShard for
/// <paramref name="Epoch"/> and, when <paramref name="SendRequest"/>, the current step's request at once (its reply
/// is still missing).
/// </summary>
internal sealed record ShardHandover(int ShardIndex, int Owner, int Epoch, string? PreviousOwner, bool SendRequest);
