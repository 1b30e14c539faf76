namespace DistSoftmax.Cli.Output;

/// <summary>
/// Writing an output failed (a full disk, a vanished directory): exit code <see cref="ExitCodes.OutputFailure"/>, one
/// line naming the file. Nothing of the new output set was put in place, and the previous run's files are unchanged.
/// </summary>
internal sealed class OutputWriteException(string path, string problem, Exception? inner = null)
    : Exception($"{path}: {problem}; no output was replaced", inner)
{
    public string Path { get; } = path;
}
