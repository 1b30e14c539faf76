namespace DistSoftmax.Cli.Solving;

/// <summary>The values of `solve --start`: where a solve without --x0 begins.</summary>
internal static class StartChoices
{
    /// <summary>The log-linear start for multiple-normalized; every other problem's default start.</summary>
    public const string Auto = "auto";

    /// <summary>x = 0.</summary>
    public const string Zeros = "zeros";

    /// <summary>The least-squares fit of the rows' centred log B (Core/Solvers/LogLinearStart), multiple-normalized only.</summary>
    public const string LogLinear = "log-linear";
}
