namespace DistSoftmax.Cli;

/// <summary>
/// Where a command runs: its output and error writers, the directory relative paths are resolved against, whether
/// stdout is an interactive terminal (live progress) or not (plain lines), and the token that Ctrl+C / SIGTERM cancel.
/// Tests pass string writers and a temporary directory; <see cref="Program.Main"/> passes the real console.
/// </summary>
internal sealed class CliContext
{
    public TextWriter Out { get; }
    public TextWriter Err { get; }
    public string WorkingDirectory { get; }
    public bool Interactive { get; }
    public CancellationToken Cancellation { get; }

    public CliContext(TextWriter @out, TextWriter err, string? workingDirectory = null, bool interactive = false,
        CancellationToken cancellation = default)
    {
        Out = @out;
        Err = err;
        WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory;
        Interactive = interactive;
        Cancellation = cancellation;
    }

    /// <summary>A user-given path made absolute against the working directory.</summary>
    public string Resolve(string path) => Path.GetFullPath(path, WorkingDirectory);

    /// <summary>Whether DISTSOFTMAX_DEBUG=1 asks for stack traces.</summary>
    public static bool Debug => Environment.GetEnvironmentVariable("DISTSOFTMAX_DEBUG") == "1";
}
