using System.Diagnostics;
using DistSoftmax.Core.Solvers.Checkpoints;
using Node = DistSoftmax.Cli.Tests.MultiProcessClusterTests.Node;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// Checkpoints and the shard cache with real processes on 127.0.0.1: a `dist-softmax solve` SIGKILLed mid-way and
/// resumed with --resume reaches the x of an uninterrupted solve; two `worker` processes serve a second job on the
/// same A files from their shard caches (a hit for every shard, no second read) with the same x.
/// </summary>
[Collection("multi-process cluster")]
public class CheckpointProcessTests
{
    private static readonly TimeSpan Up = TimeSpan.FromSeconds(60), Job = TimeSpan.FromSeconds(180);

    [Fact]
    public void A_solve_killed_with_SIGKILL_and_resumed_reaches_the_uninterrupted_x()
    {
        using var dir = new TempDir();
        var gen = Cli.Run(dir.Path, "generate", "--problem", "normalized", "--n", "100000", "--d", "40", "--seed", "3", "--out-dir", "inst");
        Assert.True(gen.Code == 0, gen.ToString());
        // Many cheap iterations (a few seconds in all, so that checkpoints, written at most once a second, get past
        // iteration 2): lbfgs to a tolerance it stops short of, without stopping as stalled (exit 3 both times).
        string[] solve = ["solve", "--A", "inst/A.npy", "--b", "inst/b.npy", "--solver", "lbfgs", "--backend", "inprocess",
            "--tol", "1e-15", "--max-iter", "600", "--stall-iter", "1000", "--workers", "2"];
        var full = Cli.Run(dir.Path, [.. solve, "--out-dir", "full"]);
        Assert.True(full.Code is 0 or 3, full.ToString());

        int killedAfter;
        using (var victim = new Node(dir.Path, [.. solve, "--out-dir", "part"]))
        {
            string bin = dir.File("part/checkpoint.bin");
            var clock = Stopwatch.StartNew();
            killedAfter = -1;
            while (clock.Elapsed < Job && !victim.HasExited)
            {
                if (File.Exists(bin) && CheckpointFormat.Read(File.ReadAllBytes(bin)).Iteration is >= 2 and var at)
                {
                    victim.Kill();   // SIGKILL: no handler runs, nothing is cleaned up
                    killedAfter = at;
                    break;
                }
                Thread.Sleep(20);
            }
            Assert.True(killedAfter >= 2, "the solve ended before its checkpoint showed 2 iterations:\n" + victim.Output);
            victim.WaitForExit(TimeSpan.FromSeconds(30));
        }
        Assert.False(File.Exists(dir.File("part/report.json")), "the killed solve got as far as its outputs");
        var last = CheckpointFormat.Read(File.ReadAllBytes(dir.File("part/checkpoint.bin")));
        Assert.True(last.Iteration >= killedAfter);

        using (var resumed = new Node(dir.Path, "solve", "--resume", "part"))
        {
            int code = resumed.WaitForExit(Job);
            Assert.True(code == full.Code, resumed.Output);
            Assert.Contains($"after iteration {last.Iteration}", resumed.Output);
        }
        var expected = NpyBytes.Read(dir.File("full/x.npy")).Values;
        var actual = NpyBytes.Read(dir.File("part/x.npy")).Values;
        double scale = Math.Max(1, expected.Max(Math.Abs));
        Assert.All(expected.Zip(actual), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-10 * scale, $"{p.First:R} vs {p.Second:R}"));
        Assert.Equal(expected, actual);
        Assert.False(File.Exists(dir.File("part/checkpoint.bin")));
    }

    [Fact]
    public void Two_worker_processes_serve_a_second_job_on_the_same_files_from_their_shard_caches()
    {
        using var dir = new TempDir();
        var gen = Cli.Run(dir.Path, "generate", "--problem", "normalized", "--n", "20000", "--d", "30", "--seed", "5", "--out-dir", "inst");
        Assert.True(gen.Code == 0, gen.ToString());
        int p1 = BackendTests.FreePort(), p2 = BackendTests.FreePort();
        using var first = new Node(dir.Path, "worker", "--host", "127.0.0.1", "--port", p1.ToString(), "--cache-mb", "256", "--log", "w1.log");
        Assert.True(first.WaitForLine(l => l.Contains("is up, serving solve jobs"), Up), "first worker did not come up:\n" + first.Output);
        Assert.Contains("shard cache 256 MiB", first.Output);
        using var second = new Node(dir.Path, "worker", "--host", "127.0.0.1", "--port", p2.ToString(), "--seeds", $"127.0.0.1:{p1}", "--cache-mb", "256", "--log", "w2.log");
        Assert.True(second.WaitForLine(l => l.Contains("is up, serving solve jobs"), Up), "second worker did not come up:\n" + second.Output);

        string[] job = ["solve", "--A", "inst/A.npy", "--b", "inst/b.npy", "--seeds", $"127.0.0.1:{p1}", "--min-workers", "2", "--workers", "2",
            "--seed-timeout", "60"];
        // Hits and misses are INFO lines of the workers' Akka.NET log, which --log sends to a file.
        string[] LogLines() => new[] { "w1.log", "w2.log" }.Select(dir.File).Where(File.Exists).SelectMany(File.ReadAllLines).ToArray();
        int Hits() => LogLines().Count(l => l.Contains("shard cache hit"));
        int Misses() => LogLines().Count(l => l.Contains("shard cache miss"));
        foreach (string name in new[] { "job1", "job2" })
        {
            using var solve = new Node(dir.Path, [.. job, "--out-dir", name]);
            int code = solve.WaitForExit(Job);
            Assert.True(code == 0, solve.Output + "\n--- workers\n" + first.Output + "\n" + second.Output);
            if (name == "job1") Assert.Equal((0, 2), (Hits(), Misses()));
        }
        // The worker logs its hit when the assignment arrives, before the job can end: no waiting needed.
        Assert.True((2, 2) == (Hits(), Misses()), "expected each worker to hit its cached shard on the second job:\n" + first.Output + "\n" + second.Output);
        Assert.Equal(NpyBytes.Read(dir.File("job1/x.npy")).Values, NpyBytes.Read(dir.File("job2/x.npy")).Values);
    }
}
