using System.Text.Json;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// <c>solve --progress json</c>: stdout is a stream of JSON objects, one per line, for programs that drive the tool
/// (the Python package reads it while the solve runs). Events: <c>iteration</c> (a trace row, as in report.json),
/// <c>cluster</c> (a worker joined or was lost, a shard moved: the line text mode shows) and a last <c>finished</c>.
/// Numbers follow report.json: non-finite values are the strings "NaN", "Infinity", "-Infinity". Lines are written
/// whole under a lock, since progress and cluster notes arrive from any thread.
/// </summary>
internal sealed class JsonProgress(TextWriter output)
{
    /// <summary>report.json's conventions (camelCase, named non-finite numbers, relaxed escaping) on one line.</summary>
    private static readonly JsonSerializerOptions Options = new(SolveReport.Json) { WriteIndented = false };

    public void Iteration(TraceEntry e) => Write(new
    {
        Event = "iteration",
        e.Iteration,
        e.Loss,
        e.GradientNorm,
        e.StepLength,
        e.RowsSampled,
        e.Seconds,
        e.Requests,
        e.NegativeCurvature,
        e.CgIterations,
    });

    public void Cluster(string message) => Write(new { Event = "cluster", Message = message });

    /// <summary>
    /// The last line. <paramref name="exit"/> is the process exit code; <paramref name="condition"/> the solver's exit
    /// condition as in report.json (null when the solve never ran); <paramref name="files"/> null when nothing was written;
    /// <paramref name="regime"/> report.json's regime, when the post-solve analysis ran (a <see cref="Core.Analysis.Regime"/>,
    /// or the downloaded report's "regime" node for a solve --server).
    /// </summary>
    public void Finished(int exit, ExitCondition? condition, int iterations, string message, FilesReport? files,
        object? regime = null) => Write(new
    {
        Event = "finished",
        Exit = exit,
        Condition = condition,
        Iterations = iterations,
        Message = message,
        Files = (object?)files ?? new Dictionary<string, string>(),
        Regime = regime,
    });

    private void Write(object value)
    {
        string line = JsonSerializer.Serialize(value, Options);
        lock (output)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }

    /// <summary>
    /// While the stream runs on the real console, anything else that writes to <see cref="Console.Out"/> (Akka.NET's
    /// standard-out logger) goes to stderr instead, so stdout holds only the JSON lines. The returned scope restores
    /// Console.Out. Does nothing when the command writes somewhere else (tests pass their own writers).
    /// </summary>
    public static IDisposable KeepConsoleOutClean(TextWriter commandOutput)
    {
        var original = Console.Out;
        if (!ReferenceEquals(commandOutput, original)) return new Restore(null);
        Console.SetOut(Console.Error);
        return new Restore(original);
    }

    private sealed class Restore(TextWriter? original) : IDisposable
    {
        public void Dispose()
        {
            if (original is not null) Console.SetOut(original);
        }
    }
}
