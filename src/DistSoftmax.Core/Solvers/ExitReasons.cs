namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The one spelling of an <see cref="ExitCondition"/> in every output (CLI text, report.json, progress JSON, the
/// Python package): kebab-case, "converged", "max-iterations", "stalled", "diverged", "cancelled".
/// </summary>
public static class ExitReasons
{
    public static string Name(ExitCondition exit) => exit switch
    {
        ExitCondition.Converged => "converged",
        ExitCondition.MaxIterations => "max-iterations",
        ExitCondition.Stalled => "stalled",
        ExitCondition.Diverged => "diverged",
        ExitCondition.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(exit), exit, "unknown exit condition"),
    };
}
