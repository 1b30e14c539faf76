namespace DistSoftmax.Core.Solvers;

/// <summary>A finished solve: x, how it ended, its trace and costs.</summary>
/// <param name="LogLinearStartRows">The rows of B the log-linear start fitted (those whose entries are all positive;
/// <see cref="SolveRun.LogLinearStartRows"/>); null when the solve did not start there.</param>
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
    long? LogLinearStartRows = null)
{
    public bool Converged => Exit == ExitCondition.Converged;
}
