using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The solve's clock (SolveRun.Seconds, the report's solve seconds): a coordinator sends the first request while its
/// workers still load their rows and starts the clock once every shard is loaded (CoordinatorActor.OnLoaded), so the
/// time before <see cref="SolveRun.StartClock"/> is not counted; an in-process solve starts it with its first request.
/// </summary>
public class SolveClockTests
{
    private const int Side = 8;
    private static readonly SolverOptions Options = new() { RelativeTolerance = 1e-9 };

    private static TestProblem Planted()
    {
        var a = TestProblem.Gaussian(400, Side, 41);
        return new TestProblem(NormalizedSoftmax.Instance, a, TestProblem.Softmax(a, TestProblem.Vector(Side, 42, 1.5)), Regularizer.None);
    }

    [Fact]
    public void A_run_started_with_its_clock_waiting_counts_nothing_until_the_clock_starts()
    {
        var p = Planted();
        var driver = p.Driver(2);
        var run = SolverCatalog.Create("newton").Start(p.Objective, new double[Side], Options);
        var request = run.Start(clockRunning: false);
        Thread.Sleep(30);   // in a coordinator: the workers loading their rows
        Assert.Equal(0, run.Seconds);
        run.StartClock();
        run.StartClock();   // a later call does nothing
        for (; request is not null; request = run.Submit(driver.Evaluate(request))) { }
        Assert.True(run.Result!.Converged, run.Result.Message);
        Assert.True(run.Result.Seconds > 0);

        var started = SolverCatalog.Create("newton").Start(p.Objective, new double[Side], Options);
        started.Start();
        Thread.Sleep(30);
        Assert.True(started.Seconds >= 0.02, $"{started.Seconds} s: the default start runs the clock");
    }

    [Fact]
    public void A_reply_starts_a_clock_that_nothing_started()
    {
        var p = Planted();
        var run = SolverCatalog.Create("newton").Start(p.Objective, new double[Side], Options);
        var request = run.Start(clockRunning: false);
        run.Submit(p.Driver(2).Evaluate(request!));
        Thread.Sleep(30);
        Assert.True(run.Seconds >= 0.02, $"{run.Seconds} s after the first reply");
    }
}
