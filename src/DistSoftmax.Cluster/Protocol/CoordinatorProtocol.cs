using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Cluster.Protocol;

/// <summary>Asks the coordinator to stop the solve: it ends at the solver's next iteration boundary with exit
/// condition Cancelled (or fails at once when the solve has not started).</summary>
public sealed record CancelSolve : IDistSoftmaxMessage
{
    public static readonly CancelSolve Instance = new();
    private CancelSolve() { }
}

/// <summary>
/// What a coordinator tells its subscriber, in order: the CLI renders these plain records (Spectre.Console), tests
/// assert on them. Exactly one <see cref="SolveCompleted"/> or <see cref="SolveFailed"/> ends the stream.
/// </summary>
public abstract record SolveEvent(string SolveId) : ISolveMessage;

/// <summary>A worker registered with the coordinator (at the start or later: late workers are spares that receive
/// the shards of lost workers).</summary>
public sealed record WorkerJoined(string SolveId, string WorkerId, string Address, int ProcessorCount) : SolveEvent(SolveId);

/// <summary>A worker is no longer used for this solve: terminated, unreachable or silent past the step timeout.</summary>
public sealed record WorkerLost(string SolveId, string WorkerId, string Reason) : SolveEvent(SolveId);

/// <summary>A shard got an owner. <paramref name="PreviousWorkerId"/> is null for the first assignment.</summary>
public sealed record ShardAssigned(string SolveId, int Epoch, int ShardIndex, RowRange Rows, string WorkerId,
    string? PreviousWorkerId) : SolveEvent(SolveId);

/// <summary>An owner reports its shard loaded (the load time is the worker's own measurement).</summary>
public sealed record ShardReady(string SolveId, int Epoch, int ShardIndex, string WorkerId, long Rows, double Seconds)
    : SolveEvent(SolveId);

/// <summary>One solver iteration (the solver's own trace row).</summary>
public sealed record SolveProgress(string SolveId, TraceEntry Entry) : SolveEvent(SolveId);

/// <summary>The solve ended with a result (converged or not: see <see cref="SolverResult.Exit"/>).</summary>
public sealed record SolveCompleted(string SolveId, SolverResult Result) : SolveEvent(SolveId);

/// <summary>The solve could not be carried out (no workers, a shard that cannot be loaded or evaluated, …).</summary>
public sealed record SolveFailed(string SolveId, string Reason) : SolveEvent(SolveId);
