namespace DistSoftmax.Cluster.Coordinator;

/// <summary>A worker that could not load a shard's rows, and why (it is not asked to load them again).</summary>
internal sealed record LoadFailure(string WorkerId, string Reason);
