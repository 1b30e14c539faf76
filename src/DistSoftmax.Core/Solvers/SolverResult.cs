namespace DistSoftmax.Core.Solvers;

/// <summary>A finished solve: x, how it ended, its trace and costs.</summary>
/// <param name="LogLinearStartRows">The rows of B the log-linear start fitted (those whose entries are all positive;
/// <see cref="SolveRun.LogLinearStartRows"/>); null when the solve did not start there.</param>
/// <param name="LogLinearStartScale">The factor t by which that start was scaled (<see cref="LogLinearStart.FitScale"/>;
/// 1 when it was kept as fitted); null when the solve did not start there or its scale was not fitted.</param>
public sealed record SolverResult(
    string Solver,
    double[] X,
    ExitCondition Exit,
    string Message,
    int Iterations,
    double Loss,
    double GradientNorm,
    double InitialGradientNorm,
    IReadOnlyList<TraceEntry> Trace,
    double Seconds,
    long Requests,
    long? LogLinearStartRows = null,
    double? LogLinearStartScale = null)
{
    public bool Converged => Exit == ExitCondition.Converged;
}
