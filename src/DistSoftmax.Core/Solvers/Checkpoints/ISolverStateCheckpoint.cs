namespace DistSoftmax.Core.Solvers.Checkpoints;

/// <summary>A solver's per-solve state (<see cref="SolveRun"/>'s SolverState) that can be written into a checkpoint.</summary>
internal interface ISolverStateCheckpoint
{
    /// <summary>A snapshot of the state now; later changes of the state do not change it.</summary>
    CheckpointState Save();
}
