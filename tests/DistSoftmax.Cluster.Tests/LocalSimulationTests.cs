using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Cluster.Tests;

public sealed class LocalSimulationTests
{
    private readonly SmallProblem _problem = new();

    // Every message of the simulation also goes through the project's serializer.
    private const string Strict = "akka.actor.serialize-messages = on\nakka.loglevel = WARNING";

    [Fact]
    public async Task Local_simulation_gives_the_in_process_answer_and_reports_every_iteration()
    {
        var expected = _problem.InProcess("approx-newton", 3);
        var trace = new List<TraceEntry>();
        var events = new List<SolveEvent>();
        var result = await LocalSimulation.SolveAsync(_problem.Loader, _problem.Source, SolverCatalog.Create("approx-newton"),
            _problem.X0, SmallProblem.Options, new LocalSimulationOptions
            {
                Workers = 3,
                ExtraHocon = Strict,
                Events = e => { events.Add(e); if (e is SolveProgress p) trace.Add(p.Entry); },
            });
        ResultAssert.BitIdentical(expected, result);
        Assert.Equal(result.Trace.Select(t => t.Loss), trace.Select(t => t.Loss));
        Assert.Equal(3, events.OfType<WorkerJoined>().Count());
        Assert.Equal(3, events.OfType<ShardReady>().Count());
        Assert.IsType<SolveCompleted>(events[^1]);
    }

    [Fact]
    public async Task The_short_overload_reports_progress_and_more_shards_than_workers_still_match()
    {
        var expected = _problem.InProcess("newton-cg", 2);
        int calls = 0;
        var result = await LocalSimulation.SolveAsync(_problem.Loader, _problem.Source, SolverCatalog.Create("newton-cg"),
            _problem.X0, SmallProblem.Options, workers: 2, progress: _ => Interlocked.Increment(ref calls));
        ResultAssert.BitIdentical(expected, result);
        Assert.Equal(result.Trace.Count, calls);

        var four = _problem.InProcess("newton-cg", 4);
        var result4 = await LocalSimulation.SolveAsync(_problem.Loader, _problem.Source, SolverCatalog.Create("newton-cg"),
            _problem.X0, SmallProblem.Options, new LocalSimulationOptions { Workers = 2, Shards = 4, ExtraHocon = Strict });
        ResultAssert.BitIdentical(four, result4);
    }

    [Fact]
    public async Task Cancelling_a_local_simulation_ends_the_solve_with_exit_condition_cancelled()
    {
        var loader = new GatedLoader(_problem.Loader, 0, gatedEvaluation: 4);
        using var cts = new CancellationTokenSource();
        var solve = LocalSimulation.SolveAsync(loader, _problem.Source, SolverCatalog.Create("lbfgs"), _problem.X0,
            SmallProblem.Options, new LocalSimulationOptions { Workers = 2, ExtraHocon = Strict }, cts.Token);
        Assert.True(loader.Reached.Wait(TimeSpan.FromSeconds(10)));
        cts.Cancel();
        loader.Release();
        var result = await solve.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(ExitCondition.Cancelled, result.Exit);
        Assert.True(result.Iterations <= 2, $"{result.Iterations} iterations after cancelling");
    }

    [Fact]
    public async Task A_local_simulation_that_cannot_load_its_rows_throws_the_coordinator_s_reason()
    {
        var loader = new FailingLoader(_problem.Loader, "disk on fire");
        var e = await Assert.ThrowsAsync<DistributedSolveException>(() => LocalSimulation.SolveAsync(loader, _problem.Source,
            SolverCatalog.Create("gd"), _problem.X0, SmallProblem.Options, workers: 2));
        Assert.Contains("disk on fire", e.Message);
    }

    [Fact]
    public async Task A_system_started_ahead_runs_the_solve_with_its_own_hocon_and_is_terminated_after_it()
    {
        var expected = _problem.InProcess("approx-newton", 2);
        var started = LocalSimulation.StartSystem(Strict);
        var system = await started;
        Assert.Equal("on", system.Settings.Config.GetString("akka.actor.serialize-messages"));
        var result = await LocalSimulation.SolveAsync(_problem.Loader, _problem.Source, SolverCatalog.Create("approx-newton"),
            _problem.X0, SmallProblem.Options, new LocalSimulationOptions { Workers = 2, StartedSystem = started });
        ResultAssert.BitIdentical(expected, result);
        Assert.True(system.WhenTerminated.IsCompleted, "the solve must terminate the system it took over");
    }

    [Fact]
    public async Task A_system_started_ahead_is_terminated_when_the_solve_refuses_its_options()
    {
        var started = LocalSimulation.StartSystem(Strict);
        await Assert.ThrowsAsync<ArgumentException>(() => LocalSimulation.SolveAsync(_problem.Loader, _problem.Source,
            SolverCatalog.Create("gd"), _problem.X0, SmallProblem.Options,
            new LocalSimulationOptions { Workers = 2, StartedSystem = started, ExtraHocon = Strict }));
        Assert.True((await started).WhenTerminated.IsCompleted);

        var refused = LocalSimulation.StartSystem();
        await Assert.ThrowsAnyAsync<ArgumentException>(() => LocalSimulation.SolveAsync(_problem.Loader, _problem.Source,
            SolverCatalog.Create("gd"), _problem.X0, SmallProblem.Options, new LocalSimulationOptions { Workers = 0, StartedSystem = refused }));
        Assert.True((await refused).WhenTerminated.IsCompleted);
    }

    [Fact]
    public async Task Discarding_a_system_started_ahead_terminates_it()
    {
        var started = LocalSimulation.StartSystem(Strict);
        await LocalSimulation.DiscardStartedSystem(started);
        Assert.True((await started).WhenTerminated.IsCompleted);
    }
}
