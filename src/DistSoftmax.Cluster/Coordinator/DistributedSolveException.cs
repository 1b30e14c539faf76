namespace DistSoftmax.Cluster.Coordinator;

/// <summary>A solve that could not be carried out; <see cref="Exception.Message"/> is the coordinator's reason.</summary>
public sealed class DistributedSolveException(string solveId, string reason) : Exception(reason)
{
    public string SolveId { get; } = solveId;
}
