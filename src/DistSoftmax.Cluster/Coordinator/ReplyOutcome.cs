namespace DistSoftmax.Cluster.Coordinator;

/// <summary>What <see cref="AssignmentState.Accept"/> did with a reply.</summary>
internal enum ReplyOutcome
{
    /// <summary>Not the awaited (epoch, step) of a shard still waiting for its reply: dropped and counted.</summary>
    Stale,
    /// <summary>Kept; other shards have yet to answer.</summary>
    Accepted,
    /// <summary>Kept, and every shard has now answered: the step's replies can be merged in shard order.</summary>
    StepComplete,
}
