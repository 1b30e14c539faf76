using System.Text.Json;
using DistSoftmax.Core.Solvers.Checkpoints;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// solve's checkpoints and solve --resume: a solve stopped mid-way (Ctrl+C in process, SIGKILL of the process) and
/// resumed from its output directory reaches the x of an uninterrupted solve, bit for bit, on the in-process and the
/// local (actor) backends; bad checkpoints and misuse of --resume are one-line errors with exit 2.
/// </summary>
public class ResumeTests
{
    private static string[] Instance(TempDir dir, int n = 20000, int d = 30)
    {
        var gen = Cli.Run(dir.Path, "generate", "--problem", "normalized", "--n", n.ToString(), "--d", d.ToString(), "--seed", "9", "--out-dir", "inst");
        Assert.True(gen.Code == 0, gen.ToString());
        return ["solve", "--problem", "normalized", "--A", "inst/A.npy", "--b", "inst/b.npy", "--tol", "1e-13", "--workers", "3"];
    }

    /// <summary>stdout that asks the solve to stop (as Ctrl+C does) once --progress json reports iteration <paramref name="at"/>.</summary>
    private sealed class StopAtIteration(CancellationTokenSource stop, int at) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is null || !value.StartsWith('{')) return;
            using var line = JsonDocument.Parse(value);
            if (line.RootElement.TryGetProperty("event", out var e) && e.GetString() == "iteration"
                && line.RootElement.GetProperty("iteration").GetInt32() >= at)
                stop.Cancel();
        }
    }

    private static CliResult RunStoppedAt(string workingDirectory, int iteration, string[] args)
    {
        using var stop = new CancellationTokenSource();
        var o = new StopAtIteration(stop, iteration);
        var e = new StringWriter();
        int code = Program.Run([.. args, "--progress", "json"], new CliContext(o, e, workingDirectory, cancellation: stop.Token));
        return new CliResult(code, o.ToString(), e.ToString());
    }

    [Theory]
    [InlineData("inprocess", "lbfgs")]
    [InlineData("inprocess", "approx-newton")]
    [InlineData("inprocess", "newton", "--globalization", "trust-region")]
    [InlineData("local", "lbfgs")]
    [InlineData("local", "approx-newton")]
    [InlineData("local", "newton-cg", "--globalization", "trust-region")]
    public void A_solve_stopped_mid_way_and_resumed_reaches_the_uninterrupted_x(string backend, string solver, params string[] more)
    {
        using var dir = new TempDir();
        string[] args = [.. Instance(dir), "--backend", backend, "--solver", solver, .. more];
        var full = Cli.Run(dir.Path, [.. args, "--out-dir", "full"]);
        Assert.True(full.Code is 0 or 3, full.ToString());
        Assert.False(File.Exists(dir.File("full/checkpoint.bin")), "a solve that ended keeps no checkpoint");
        Assert.False(File.Exists(dir.File("full/checkpoint.json")));
        int iterations = Report.Read(dir.File("full")).GetProperty("iterations").GetInt32();
        Assert.True(iterations >= 5, $"{solver}: {iterations} iterations is too few to stop mid-way");

        var stopped = RunStoppedAt(dir.Path, 3, [.. args, "--out-dir", "part"]);
        Assert.True(stopped.Code == 3, stopped.ToString());
        Assert.Contains("checkpoint kept", stopped.Err);
        var checkpoint = CheckpointFormat.Read(File.ReadAllBytes(dir.File("part/checkpoint.bin")));
        Assert.InRange(checkpoint.Iteration, 2, iterations - 1);

        // Resumed from another working directory: the recorded one resolves the solve's relative paths.
        using var elsewhere = new TempDir();
        var resumed = Cli.Run(elsewhere.Path, "solve", "--resume", dir.File("part"), "--progress", "json");
        Assert.True(resumed.Code == full.Code, resumed.ToString());
        Assert.Contains($"resuming the solve in {dir.File("part")} after iteration {checkpoint.Iteration}", resumed.Err);
        // It continued: its first iteration is the one after the checkpoint's, not iteration 0.
        var firstIteration = resumed.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)
            .First(l => l.GetProperty("event").GetString() == "iteration");
        Assert.Equal(checkpoint.Iteration + 1, firstIteration.GetProperty("iteration").GetInt32());
        var expected = NpyBytes.Read(dir.File("full/x.npy")).Values;
        var actual = NpyBytes.Read(dir.File("part/x.npy")).Values;
        double scale = Math.Max(1, expected.Max(Math.Abs));
        Assert.All(expected.Zip(actual), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-10 * scale, $"{p.First:R} vs {p.Second:R}"));
        Assert.Equal(expected, actual);   // in fact bit for bit
        var report = Report.Read(dir.File("part"));
        Assert.Equal(iterations, report.GetProperty("iterations").GetInt32());
        Assert.Equal(iterations + 1, report.GetProperty("trace").GetArrayLength());
        // The report records the solve's own command line, as the uninterrupted one's does (QA audit: "solve" was missing).
        string[] Arguments(JsonElement r) => r.GetProperty("arguments").EnumerateArray().Select(a => a.GetString()!).ToArray();
        Assert.Equal([.. args, "--out-dir", "part", "--progress", "json"], Arguments(report));   // as RunStoppedAt ran it
        Assert.Equal([.. args, "--out-dir", "full"], Arguments(Report.Read(dir.File("full"))));
        Assert.False(File.Exists(dir.File("part/checkpoint.bin")));
        Assert.False(File.Exists(dir.File("part/checkpoint.json")));
        Assert.Empty(Directory.EnumerateFiles(elsewhere.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void No_checkpoint_writes_none_and_resume_refuses_what_is_not_an_interrupted_solve()
    {
        using var dir = new TempDir();
        string[] args = [.. Instance(dir, 4000, 10), "--backend", "inprocess", "--solver", "lbfgs"];
        var stopped = RunStoppedAt(dir.Path, 2, [.. args, "--out-dir", "part", "--no-checkpoint"]);
        Assert.Equal(3, stopped.Code);
        Assert.False(File.Exists(dir.File("part/checkpoint.bin")));
        Assert.False(File.Exists(dir.File("part/checkpoint.json")));

        void BadInput(string expected, params string[] resumeArgs)
        {
            var r = Cli.Run(dir.Path, ["solve", .. resumeArgs]);
            Assert.True(r.Code == 2, r.ToString());
            var line = Assert.Single(r.ErrLines);
            Assert.StartsWith("error: --resume: ", line);
            Assert.Contains(expected, line);
        }
        BadInput("holds no checkpoint.json", "--resume", "part");
        BadInput("no such directory", "--resume", "nowhere");
        File.WriteAllText(dir.File("a-file"), "not a directory");
        BadInput("is a file, not a solve's --out-dir", "--resume", "a-file");

        var kept = RunStoppedAt(dir.Path, 2, [.. args, "--out-dir", "kept"]);
        Assert.Equal(3, kept.Code);
        BadInput("takes no other option but --progress", "--resume", "kept", "--tol", "1e-3");

        // A copy of the directory is not the --out-dir its record names.
        Directory.CreateDirectory(dir.File("copy"));
        foreach (var f in Directory.GetFiles(dir.File("kept"))) File.Copy(f, Path.Combine(dir.File("copy"), Path.GetFileName(f)));
        BadInput("is not the output directory of the solve recorded in it", "--resume", "copy");

        string bin = dir.File("kept/checkpoint.bin");
        var good = File.ReadAllBytes(bin);
        var flipped = (byte[])good.Clone();
        flipped[^5] ^= 1;
        File.WriteAllBytes(bin, flipped);
        BadInput("corrupted", "--resume", "kept");
        File.WriteAllBytes(bin, good[..40]);
        BadInput("not a dist-softmax checkpoint", "--resume", "kept");
        File.WriteAllBytes(bin, good);

        // The record edited to another solver: its checkpoint does not fit.
        string record = dir.File("kept/checkpoint.json");
        string original = File.ReadAllText(record);
        File.WriteAllText(record, original.Replace("\"lbfgs\"", "\"gd\""));
        BadInput("the checkpoint is of solver lbfgs", "--resume", "kept");
        File.WriteAllText(record, "{ not json");
        BadInput("is not valid JSON", "--resume", "kept");
        File.WriteAllText(record, """{"version": 7, "workingDirectory": "/", "arguments": []}""");
        BadInput("has no \"version\": 1", "--resume", "kept");
        File.Delete(record);
        Directory.CreateDirectory(record);
        BadInput("checkpoint.json: is a directory, not a checkpoint record", "--resume", "kept");
        Directory.Delete(record);
        File.WriteAllText(record, original);

        // An input rewritten since the checkpoint: refused.
        var stamp = File.GetLastWriteTimeUtc(dir.File("inst/b.npy"));
        File.SetLastWriteTimeUtc(dir.File("inst/b.npy"), stamp.AddSeconds(5));
        BadInput("inst/b.npy changed since the checkpoint was taken (its size or modification time differs)", "--resume", "kept");
        File.SetLastWriteTimeUtc(dir.File("inst/b.npy"), stamp);

        var resumed = Cli.Run(dir.Path, "solve", "--resume", "kept");
        Assert.True(resumed.Code is 0 or 3, resumed.ToString());
        Assert.False(File.Exists(bin));
    }
}
