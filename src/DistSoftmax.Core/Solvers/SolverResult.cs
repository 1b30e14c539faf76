namespace DistSoftmax.Core.Solvers;

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
    long Requests)
{
    public bool Converged => Exit == ExitCondition.Converged;
}
