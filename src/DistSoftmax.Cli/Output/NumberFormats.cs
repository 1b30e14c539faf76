namespace DistSoftmax.Cli.Output;

/// <summary>
/// The number formats of every table and progress line (live table, plain lines, summary), so one quantity reads the
/// same everywhere: losses with 7 significant digits, gradient norms with 5, steps with 4, seconds with 2 decimals.
/// </summary>
internal static class NumberFormats
{
    public const string Loss = "0.000000e+00";
    public const string GradientNorm = "0.0000e+00";
    public const string Step = "G4";
    public const string Seconds = "F2";
}
