using DistSoftmax.Cli.Solving;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// The checkpoint writer's schedule: the first checkpoint is written at once, later ones at most once per interval
/// (the newest then), and at the end the last one only when it is kept. The intervals here are an hour (nothing
/// more is written while the test runs) or 50 ms.
/// </summary>
public class CheckpointWriterTests
{
    private static readonly TimeSpan Long = TimeSpan.FromHours(1), Short = TimeSpan.FromMilliseconds(50);

    private static CheckpointWriter Writer(TempDir dir, TimeSpan interval) =>
        new(dir.File("out"), new ResumeRecord(dir.Path, ["solve"], null), TextWriter.Null, interval);

    private static SolverCheckpoint At(int iteration) => new()
    {
        Solver = "lbfgs", Globalization = "line-search", Dimension = 2, Rows = 10, Iteration = iteration,
        X = [iteration, -iteration], Loss = 1.0 / (iteration + 1), Globals = [], Gradient = [0.5, 0.25], LowRank = [],
        Sketch = [], SketchColumns = 0, GradientNorm = 0.5, Kind = HessianKind.Exact, InitialGradientNorm = 1,
        StagnationReference = 1, StagnationQuiet = 0, ScheduleCutBacks = 0, Radius = 10,
        Trace = Enumerable.Range(0, iteration + 1).Select(i => new TraceEntry(i, 1.0 / (i + 1), 0.5, 1, 0, 0, 0)).ToArray(),
        Requests = iteration, Seconds = 0,
    };

    private static int IterationOnDisk(TempDir dir) =>
        CheckpointFormat.Read(File.ReadAllBytes(dir.File("out/" + CheckpointWriter.FileName))).Iteration;

    private static void WaitFor(Func<bool> condition)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the writer did not write in time");
            Thread.Sleep(5);
        }
    }

    [Fact]
    public async Task Iterations_within_the_interval_are_skipped_and_a_kept_solve_writes_its_newest_at_the_end()
    {
        using var dir = new TempDir();
        var writer = Writer(dir, Long);
        writer.Offer(At(0));
        WaitFor(() => writer.Written == 1);
        Assert.Equal(0, IterationOnDisk(dir));
        for (int k = 1; k <= 5; k++) writer.Offer(At(k));
        Thread.Sleep(100);
        Assert.Equal(1, writer.Written);
        await writer.CompleteAsync(keepLast: true);
        Assert.Equal(2, writer.Written);
        Assert.Equal(5, IterationOnDisk(dir));
        Assert.True(File.Exists(dir.File("out/" + ResumeRecord.FileName)));
    }

    [Fact]
    public async Task A_solve_that_ended_does_not_write_its_last_checkpoint()
    {
        using var dir = new TempDir();
        var writer = Writer(dir, Long);
        writer.Offer(At(0));
        WaitFor(() => writer.Written == 1);
        writer.Offer(At(1));
        await writer.CompleteAsync(keepLast: false);
        await writer.CompleteAsync(keepLast: true);   // the first call decided
        Assert.Equal(1, writer.Written);
        Assert.Equal(0, IterationOnDisk(dir));
    }

    [Fact]
    public async Task After_the_interval_the_newest_checkpoint_is_written()
    {
        using var dir = new TempDir();
        var writer = Writer(dir, Short);
        writer.Offer(At(0));
        WaitFor(() => writer.Written == 1);
        writer.Offer(At(1));
        writer.Offer(At(2));
        // Written without the solve ending: once the interval is over (iteration 1 too if this thread was held up).
        WaitFor(() => writer.Written >= 2 && IterationOnDisk(dir) == 2);
        long written = writer.Written;
        await writer.CompleteAsync(keepLast: false);
        Assert.Equal(written, writer.Written);
    }
}
