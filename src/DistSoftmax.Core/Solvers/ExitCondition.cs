namespace DistSoftmax.Core.Solvers;

/// <summary>Why a solve ended. Ordinary non-convergence is an exit condition, never an exception.</summary>
public enum ExitCondition { Converged, MaxIterations, Stalled, Diverged, Cancelled }
