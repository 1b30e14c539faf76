using System.Collections.Immutable;

namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// What one <see cref="AssignmentState.AssignOrphans"/> did: the shards handed over (in shard order), and why it
/// stopped short, if it did.
/// </summary>
/// <param name="Unloadable">A shard every live worker has failed to load: the solve cannot go on. Handovers before it
/// were made.</param>
/// <param name="NoLiveWorker">Shards are orphaned and no worker is alive to take them (the no-worker timeout runs).</param>
internal sealed record Reassignment(ImmutableArray<ShardHandover> Handovers, ShardEntry? Unloadable, bool NoLiveWorker)
{
    public static readonly Reassignment None = new(ImmutableArray<ShardHandover>.Empty, null, false);
}
