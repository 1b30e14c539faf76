using System.Diagnostics;
using System.Text.Json;
using DistSoftmax.Core.Shards;
using DistSoftmax.Data;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// `solve-compare A.npy b.npy [solvers] [workers] [rounds]`: whole-process `dist-softmax solve` runs (local simulation,
/// tolerance 1e-8) of each solver under /usr/bin/time -v, against a streaming read of the same A (both cores) measured
/// before and after them in this run, each in a child process of its own (`streaming-read A.npy`): this process holds
/// no copy of A while the solves run. (Until the tenth session it read A itself and kept the 1.28 GB heap, which
/// slowed the solves it launched: at 400000×400, approx-newton's solve took 5.5–7.1 s under it against 4.0–4.3 s
/// alone, exact Newton's 13.6–14.7 s against 12.5 s.) Prints per solver: iterations, wall and solve seconds, the solve time per
/// iteration as a multiple of the read, and the peak resident memory as a multiple of A's bytes. With rounds &gt; 1 the
/// solvers run in turn that many times (alternated, so a drift of the machine's speed falls on all of them) and the
/// ratio of the second solver's median wall time to the first's closes the report, with the range of the rounds' own
/// ratios: on the shared 2-core machine single pairs at 400000×400 ranged 2.8–3.5.
/// The command line used is `dotnet $DISTSOFTMAX_CLI` for a dist-softmax.dll, or $DISTSOFTMAX_CLI itself for an
/// executable (an installed tool, a publish folder's dist-softmax); default: the Release build next to this repository's bench.
/// </summary>
public static class CliComparison
{
    public static int Run(string[] args)
    {
        if (args.Length < 2) { Console.Error.WriteLine("usage: solve-compare A.npy b.npy [solvers] [workers] [rounds]"); return 2; }
        string aPath = Path.GetFullPath(args[0]), bPath = Path.GetFullPath(args[1]);
        string[] solvers = args.Length > 2 ? args[2].Split(',') : new[] { "approx-newton", "newton" };
        int workers = args.Length > 3 ? int.Parse(args[3]) : 2;
        int rounds = args.Length > 4 ? int.Parse(args[4]) : 1;
        string cli = Environment.GetEnvironmentVariable("DISTSOFTMAX_CLI") ?? FindCli();
        var info = Npy.ReadInfo(aPath);
        long n = info.Rows, d = info.Cols;
        double aBytes = n * d * 8.0;
        WarmMapping(aPath);
        double readBefore = StreamingReadInChild(aPath);
        Console.WriteLine($"A: {n}×{d} ({aBytes / 1e6:F0} MB); streaming read (both cores, in memory): {readBefore * 1e3:F1} ms; load average {Load()}");
        var runs = new List<(string Solver, string Exit, int Iterations, double Wall, double Solve, long RssKb, string Load)>();
        foreach (var solver in Enumerable.Repeat(solvers, rounds).SelectMany(round => round))
        {
            string outDir = Path.Combine(Path.GetTempPath(), $"solve-compare-{solver}-{Environment.ProcessId}");
            string[] command = cli.EndsWith(".dll", StringComparison.Ordinal) ? ["dotnet", cli] : [cli];
            var psi = new ProcessStartInfo("/usr/bin/time", ["-v", .. command, "solve", "--A", aPath, "--b", bPath,
                "--workers", workers.ToString(), "--tol", "1e-8", "--solver", solver, "--out-dir", outDir])
            { RedirectStandardError = true, RedirectStandardOutput = true };
            var sw = Stopwatch.StartNew();
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            string stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            _ = stdout.Result;
            double wall = sw.Elapsed.TotalSeconds;
            long rssKb = stderr.Split('\n').Where(l => l.Contains("Maximum resident set size")).Select(l => long.Parse(l.Split(':')[1].Trim())).FirstOrDefault();
            using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
            var root = report.RootElement;
            int iterations = root.GetProperty("iterations").GetInt32();
            double solve = root.GetProperty("wallTime").GetProperty("solveSeconds").GetDouble();
            string exit = root.GetProperty("exit").GetString() ?? "?";
            runs.Add((solver, exit, iterations, wall, solve, rssKb, Load()));
            Directory.Delete(outDir, true);
        }
        double readAfter = StreamingReadInChild(aPath);
        double read = Math.Min(readBefore, readAfter);
        Console.WriteLine($"streaming read after the solves: {readAfter * 1e3:F1} ms; ratios below use the smaller, {read * 1e3:F1} ms");
        foreach (var r in runs)
        {
            double perIteration = r.Solve / Math.Max(1, r.Iterations);
            Console.WriteLine($"{r.Solver,-14} {r.Exit,-10} {r.Iterations,4} it  wall {r.Wall,7:F2} s  solve {r.Solve,7:F2} s  " +
                $"per iteration {perIteration * 1e3,7:F0} ms ({perIteration / read,4:F0}× read)  " +
                $"peak RSS {r.RssKb / 1024.0,6:F0} MiB ({r.RssKb * 1024.0 / aBytes:F2}× A)  load after {r.Load}");
        }
        if (solvers.Length >= 2 && rounds == 1)
            Console.WriteLine($"wall-time ratio {runs[1].Solver} / {runs[0].Solver}: {runs[1].Wall / runs[0].Wall:F2}; " +
                $"solve-time ratio {runs[1].Solve / runs[0].Solve:F2}");
        if (solvers.Length >= 2 && rounds > 1)
        {
            double[] Walls(string solver) => runs.Where(r => r.Solver == solver).Select(r => r.Wall).ToArray();
            double[] first = Walls(solvers[0]), second = Walls(solvers[1]);
            var roundRatios = first.Zip(second, (a, b) => b / a).Order().ToArray();
            Console.WriteLine($"median wall time over {rounds} rounds: {solvers[0]} {Timing.MedianOf(first):F2} s, {solvers[1]} {Timing.MedianOf(second):F2} s; " +
                $"ratio of medians {solvers[1]} / {solvers[0]}: {Timing.MedianOf(second) / Timing.MedianOf(first):F2} (rounds: {string.Join(", ", roundRatios.Select(r => r.ToString("F2")))})");
        }
        return 0;
    }

    /// <summary>
    /// The streaming read of A timed in a child process (`streaming-read`), so that A's memory goes with it: seconds.
    /// </summary>
    private static double StreamingReadInChild(string aPath)
    {
        string self = typeof(CliComparison).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet", new[] { self, "streaming-read", aPath }) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 || !double.TryParse(output.Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds))
            throw new InvalidOperationException($"streaming-read {aPath} failed (exit {p.ExitCode}): {output.Trim()}");
        return seconds;
    }

    /// <summary>
    /// Maps A and touches each of its pages once, so that every solve timed after finds the same page-cache state: the
    /// first mapping of a freshly written file's 2 MB folios costs ≈ 0.3 s per GB on this project's VMs, later ones
    /// ≈ 15 ms (README, "Approximate Newton at large d"), and it would otherwise fall on whichever solver runs first.
    /// </summary>
    private static void WarmMapping(string aPath)
    {
        const int PageBytes = 4096;
        using var file = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateFromFile(aPath, FileMode.Open, null, 0,
            System.IO.MemoryMappedFiles.MemoryMappedFileAccess.Read);
        using var view = file.CreateViewAccessor(0, 0, System.IO.MemoryMappedFiles.MemoryMappedFileAccess.Read);
        long sum = 0;
        for (long offset = 0; offset < view.Capacity; offset += PageBytes) sum += view.ReadByte(offset);
        GC.KeepAlive(sum);
    }

    /// <summary>`streaming-read A.npy`: prints the seconds of a streaming read of A on all cores (median of 15).</summary>
    public static int StreamingReadCommand(string[] args)
    {
        if (args.Length != 1) { Console.Error.WriteLine("usage: streaming-read A.npy"); return 2; }
        Console.WriteLine(StreamingRead(Path.GetFullPath(args[0])).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        return 0;
    }

    /// <summary>Loads A and times a streaming read of it on all cores (median of 15).</summary>
    private static double StreamingRead(string aPath)
    {
        var a = Npy.ReadMatrixRows(aPath, 0, checked((int)Npy.ReadInfo(aPath).Rows));
        var blocks = RowBlocks.For(a.Rows);
        var partial = new double[blocks.BlockCount];
        int d = a.Cols;
        double t = Timing.Median(() => blocks.Run(ShardComputeOptions.Default, k =>
        {
            var (s, e) = blocks[k];
            partial[k] = System.Numerics.Tensors.TensorPrimitives.Sum<double>(a.Data.AsSpan(s * d, (e - s) * d));
        }), 15, 2);
        a = null;
        GC.Collect();
        return t;
    }

    private static string FindCli()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "src", "DistSoftmax.Cli", "bin", "Release", "net10.0", "dist-softmax.dll");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("dist-softmax.dll not found: build the solution in Release or set DISTSOFTMAX_CLI");
    }

    private static string Load()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; } catch { return "?"; }
    }
}
