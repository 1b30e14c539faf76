using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Drivers;

/// <summary>
/// A computation over the shards that its driver steps: <see cref="Start"/> gives its first request, <see cref="Submit"/>
/// (the merged replies of that request) its next, and null means it has finished. The shape of a
/// <see cref="Solvers.SolveRun"/>, so a coordinator drives either over its workers.
/// </summary>
public interface IRequestProgram
{
    ShardRequest? Start();
    ShardRequest? Submit(ShardReply merged);
    /// <summary>Whether it has finished (its last Submit returned null, or it was abandoned).</summary>
    bool Finished { get; }
    /// <summary>Ends the program before it finishes (its driver failed or was cancelled), saying why.</summary>
    void Abandon(string reason);
}
