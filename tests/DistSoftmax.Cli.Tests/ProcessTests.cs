using System.Diagnostics;

namespace DistSoftmax.Cli.Tests;

/// <summary>The built dist-softmax executable run as a real process (redirected output, no terminal).</summary>
public class ProcessTests
{
    private static CliResult RunProcess(string workingDirectory, IDictionary<string, string>? environment, params string[] args)
    {
        string dir = AppContext.BaseDirectory;
        string apphost = Path.Combine(dir, OperatingSystem.IsWindows() ? "dist-softmax.exe" : "dist-softmax");
        var psi = File.Exists(apphost) ? new ProcessStartInfo(apphost) : new ProcessStartInfo("dotnet") { ArgumentList = { Path.Combine(dir, "dist-softmax.dll") } };
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.WorkingDirectory = workingDirectory;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        psi.Environment.Remove("DISTSOFTMAX_DEBUG");
        if (environment is not null) foreach (var (k, v) in environment) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "dist-softmax did not finish within 60 s");
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void A_parse_error_is_exit_code_2_and_one_stderr_line()
    {
        using var dir = new TempDir();
        var run = RunProcess(dir.Path, null, "solve", "--tol", "abc");
        Assert.Equal(2, run.Code);
        Assert.Equal("", run.Out);
        Assert.Equal("error: --tol: 'abc' is not a number", Assert.Single(run.ErrLines));
    }

    [Fact]
    public void A_bad_file_is_one_line_without_a_stack_trace_unless_debugging()
    {
        using var dir = new TempDir();
        dir.Write("A.npy", [0x93, (byte)'N', (byte)'U']);
        dir.Write("b.npy", NpyBytes.Vector(1));
        var plain = RunProcess(dir.Path, null, "solve", "--A", "A.npy", "--b", "b.npy");
        Assert.Equal(2, plain.Code);
        Assert.Equal($"error: {dir.File("A.npy")}: not a .npy file (missing the \\x93NUMPY magic string)", Assert.Single(plain.ErrLines));
        var debug = RunProcess(dir.Path, new Dictionary<string, string> { ["DISTSOFTMAX_DEBUG"] = "1" }, "solve", "--A", "A.npy", "--b", "b.npy");
        Assert.Equal(2, debug.Code);
        Assert.Equal(plain.ErrLines[0], debug.ErrLines[0]);
        Assert.Contains(debug.ErrLines, l => l.TrimStart().StartsWith("at DistSoftmax.Data.Npy", StringComparison.Ordinal));
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void Generate_then_an_unconverged_solve_exits_3_with_plain_output_and_files()
    {
        using var dir = new TempDir();
        var gen = RunProcess(dir.Path, null, "generate", "--problem", "rescaled", "--unit", "cosh", "--n", "200", "--d", "4", "--out-dir", "inst");
        Assert.True(gen.Code == 0, gen.ToString());
        var run = RunProcess(dir.Path, null, [.. Cli.PrintedSolveCommand(gen.Out), "--max-iter", "1", .. GenerateSolveTests.Backend]);
        Assert.True(run.Code == 3, run.ToString());
        Assert.StartsWith("dist-softmax: stopped without meeting the tolerance (max-iterations)", Assert.Single(run.ErrLines));
        Assert.DoesNotContain("\u001b[", run.Out); // no ANSI escapes when stdout is not a terminal
        Assert.Equal(2, run.Out.Split('\n').Count(l => l.StartsWith("iteration ")));
        Assert.Equal("max-iterations", Report.Read(dir.File("inst/solution")).GetProperty("exit").GetString());
        Png.Check(dir.File("inst/solution/convergence.png"));
    }

    [Fact]
    public void SIGTERM_stops_a_solve_at_the_next_iteration_and_still_writes_its_files()
    {
        if (OperatingSystem.IsWindows()) return; // POSIX signals only
        using var dir = new TempDir();
        string apphost = Path.Combine(AppContext.BaseDirectory, "dist-softmax");
        var psi = File.Exists(apphost) ? new ProcessStartInfo(apphost) : new ProcessStartInfo("dotnet") { ArgumentList = { Path.Combine(AppContext.BaseDirectory, "dist-softmax.dll") } };
        // Gradient descent with no tolerance and no iteration limit runs until it is stopped.
        foreach (string a in (string[])["solve", "--solver", "gd", "--tol", "0", "--max-iter", "1000000", "--stall-iter", "1000000", .. GenerateSolveTests.Backend])
            psi.ArgumentList.Add(a);
        psi.WorkingDirectory = dir.Path;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        // Wait for the solve to be under way (iteration 3 printed), then ask it to stop.
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null && !line.StartsWith("iteration    3")) { }
        Assert.NotNull(line);
        using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString()])) kill.WaitForExit();
        string rest = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(30_000), "the solve did not stop after SIGTERM");
        Assert.True(p.ExitCode == 3, $"exit {p.ExitCode}\n{rest}\n{stderr.Result}");
        // The solve's checkpoint is kept for --resume (ResumeTests), and the stop reason is the last line.
        Assert.Equal([$"dist-softmax: checkpoint kept: continue with dist-softmax solve --resume {dir.File("out")}",
            "dist-softmax: stopped without meeting the tolerance (cancelled): cancelled"], stderr.Result.Trim().Split('\n'));
        var report = Report.Read(dir.File("out"));
        Assert.Equal("cancelled", report.GetProperty("exit").GetString());
        Assert.True(report.GetProperty("iterations").GetInt32() >= 3);
        Assert.Equal(new long[] { 50 }, NpyBytes.Read(dir.File("out/x.npy")).Shape);
    }
}
