using System.Text.Json;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// solve --progress json: every stdout line is one JSON object; one iteration event per trace row of report.json,
/// then a finished event with the exit code and the files; nothing else on stdout, errors and warnings on stderr.
/// </summary>
public class JsonProgressTests
{
    private static string[] Generate(TempDir dir, params string[] args)
    {
        var gen = Cli.Run(dir.Path, ["generate", .. args, "--out-dir", "inst"]);
        Assert.True(gen.Code == 0, gen.ToString());
        return Cli.PrintedSolveCommand(gen.Out)[..^2]; // without its --out-dir
    }

    /// <summary>Parses every stdout line as JSON (a line that is not fails the test) and returns the objects.</summary>
    internal static JsonElement[] Lines(CliResult run)
    {
        var lines = run.Out.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal("", lines[^1]); // the stream ends with a newline
        return lines[..^1].Select(l =>
        {
            try
            {
                var e = JsonDocument.Parse(l).RootElement;
                Assert.Equal(JsonValueKind.Object, e.ValueKind);
                return e;
            }
            catch (JsonException ex)
            {
                throw new Xunit.Sdk.XunitException($"stdout line is not JSON: {l}\n{ex.Message}\n{run}");
            }
        }).ToArray();
    }

    private static void AssertIterationsMatchTheTrace(JsonElement[] events, JsonElement report)
    {
        var iterations = events.Where(e => e.GetProperty("event").GetString() == "iteration").ToArray();
        var trace = report.GetProperty("trace").EnumerateArray().ToArray();
        Assert.Equal(trace.Length, iterations.Length);
        for (int i = 0; i < trace.Length; i++)
        {
            foreach (var key in new[] { "iteration", "rowsSampled", "requests" })
                Assert.Equal(trace[i].GetProperty(key).GetInt64(), iterations[i].GetProperty(key).GetInt64());
            foreach (var key in new[] { "loss", "gradientNorm", "stepLength", "seconds" })
                Assert.Equal(trace[i].GetProperty(key).GetDouble(), iterations[i].GetProperty(key).GetDouble());
        }
    }

    [Fact]
    public void A_converged_solve_streams_one_iteration_event_per_trace_row_and_a_finished_event()
    {
        using var dir = new TempDir();
        var solve = Generate(dir, "--problem", "normalized", "--n", "400", "--d", "6", "--seed", "3");
        var run = Cli.Run(dir.Path, [.. solve, "--out-dir", "o", "--progress", "json"]);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Equal("", run.Err);

        var events = Lines(run);
        var report = Report.Read(dir.File("o"));
        AssertIterationsMatchTheTrace(events, report);
        Assert.True(events.Length >= 3, run.ToString());
        Assert.All(events[..^1], e => Assert.Equal("iteration", e.GetProperty("event").GetString()));

        var finished = events[^1];
        Assert.Equal("finished", finished.GetProperty("event").GetString());
        Assert.Equal(0, finished.GetProperty("exit").GetInt32());
        Assert.Equal("converged", finished.GetProperty("condition").GetString());
        Assert.Equal(report.GetProperty("iterations").GetInt32(), finished.GetProperty("iterations").GetInt32());
        Assert.Equal(report.GetProperty("message").GetString(), finished.GetProperty("message").GetString());
        var files = finished.GetProperty("files");
        foreach (var (key, name) in new[] { ("x", "x.npy"), ("report", "report.json"), ("plot", "convergence.png") })
        {
            Assert.Equal(dir.File(Path.Combine("o", name)), files.GetProperty(key).GetString());
            Assert.True(File.Exists(files.GetProperty(key).GetString()), key);
        }
    }

    [Fact]
    public void A_stopped_solve_finishes_with_exit_3_and_its_reason_stays_on_stderr()
    {
        using var dir = new TempDir();
        var solve = Generate(dir, "--problem", "hyperbolic", "--unit", "sinh", "--n", "300", "--d", "5", "--noise", "0.05");
        var run = Cli.Run(dir.Path, [.. solve, "--out-dir", "o", "--max-iter", "2", "--solver", "gd", "--progress", "json", "--backend", "inprocess"]);
        Assert.True(run.Code == 3, run.ToString());
        Assert.StartsWith("dist-softmax: stopped without meeting the tolerance (max-iterations)", Assert.Single(run.ErrLines));

        var events = Lines(run);
        AssertIterationsMatchTheTrace(events, Report.Read(dir.File("o")));
        Assert.Equal(3, events.Length - 1); // iterations 0, 1, 2
        var finished = events[^1];
        Assert.Equal(3, finished.GetProperty("exit").GetInt32());
        Assert.Equal("max-iterations", finished.GetProperty("condition").GetString());
        Assert.Equal(2, finished.GetProperty("iterations").GetInt32());
        Assert.StartsWith("reached 2 iterations", finished.GetProperty("message").GetString());
    }

    [Fact]
    public void Matrix_problems_stream_the_same_events()
    {
        using var dir = new TempDir();
        var solve = Generate(dir, "--problem", "multiple-normalized", "--n", "30", "--d", "3", "--planted");
        var run = Cli.Run(dir.Path, [.. solve, "--out-dir", "o", "--progress", "json"]);
        Assert.True(run.Code == 0, run.ToString());
        var events = Lines(run);
        AssertIterationsMatchTheTrace(events, Report.Read(dir.File("o")));
        Assert.Equal("finished", events[^1].GetProperty("event").GetString());
    }

    [Fact]
    public void Bad_input_prints_nothing_on_stdout_and_one_error_line()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "solve", "--A", "missing.npy", "--b", "missing-b.npy", "--progress", "json");
        Assert.True(run.Code == 2, run.ToString());
        Assert.Equal("", run.Out);
        Assert.StartsWith("error: ", Assert.Single(run.ErrLines));
    }

    [Fact]
    public void Warnings_stay_on_stderr()
    {
        using var dir = new TempDir();
        // b does not sum to 1: a warning for the normalized problem, and the solve goes on.
        dir.Write("A.npy", NpyBytes.Matrix(3, 2, 1, 0, 0, 1, 1, 1));
        dir.Write("b.npy", NpyBytes.Vector(0.5, 0.5, 0.5));
        var run = Cli.Run(dir.Path, "solve", "--A", "A.npy", "--b", "b.npy", "--out-dir", "o", "--progress", "json", "--max-iter", "3");
        Assert.True(run.Code is 0 or 3, run.ToString());
        Assert.Contains(run.ErrLines, l => l.StartsWith("warning: ", StringComparison.Ordinal));
        Assert.Equal("finished", Lines(run)[^1].GetProperty("event").GetString());
    }

    [Fact]
    public void An_unknown_progress_mode_is_bad_input()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "solve", "--progress", "xml");
        Assert.Equal(2, run.Code);
        Assert.Equal("error: --progress: unknown value 'xml' (allowed: text, json)", Assert.Single(run.ErrLines));
        Assert.Equal("", run.Out);
    }
}
