namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// A cluster job that never started solving because the cluster was not there: its node did not become Up within
/// <c>distsoftmax.cluster.join-timeout</c> (no seed answered), or fewer than the required workers registered within
/// <c>distsoftmax.coordinator.worker-wait-timeout</c>. This is a fault of the job's input (seeds, --min-workers), not
/// of the solve; <see cref="Exception.Message"/> says what was missing.
/// </summary>
public sealed class ClusterUnavailableException(string solveId, string reason, Exception? inner = null) : Exception(reason, inner)
{
    public string SolveId { get; } = solveId;
}
