using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cluster.Tests;

/// <summary>Independent whole jobs on a pool of worker actors (LocalSimulation.SolveJobsAsync).</summary>
public class LocalJobsTests
{
    [Fact]
    public async Task Independent_jobs_run_whole_on_worker_actors_and_equal_one_shard_in_process_solves()
    {
        // Five different problems in one loader; three workers, so two of them run two jobs each.
        var problems = Enumerable.Range(0, 5).Select(i => new SmallProblem(300 + 40 * i, 5, (ulong)(20 + i), name: $"job-{i}")).ToArray();
        var loader = new CountingLoader(problems);
        var jobs = problems.Select((p, i) => new LocalJob(p.Source, SolverCatalog.Create(i % 2 == 0 ? "newton" : "lbfgs"), p.X0,
            SmallProblem.Options)).ToArray();

        var results = await LocalSimulation.SolveJobsAsync(loader, jobs, workers: 3);

        Assert.Equal(jobs.Length, results.Length);
        for (int i = 0; i < jobs.Length; i++)
        {
            var p = problems[i];
            var expected = new InProcessDriver(new[] { p.Loader.Load(p.Source, new RowRange(0, p.N), ShardComputeOptions.Sequential) })
                .Solve(SolverCatalog.Create(i % 2 == 0 ? "newton" : "lbfgs"), p.Objective, p.X0, SmallProblem.Options);
            Assert.Equal(expected.X, results[i].X);
            Assert.Equal(expected.Iterations, results[i].Iterations);
        }
        // Every job loaded its whole problem exactly once, as one shard.
        Assert.Equal(problems.Select(p => (p.Source.ToString(), 0L, p.N)).OrderBy(t => t.Item1),
            loader.Loads.OrderBy(t => t.Source).Select(t => (t.Source, t.Start, t.Count)));
    }

    /// <summary>Routes each source to its problem's loader and records every load.</summary>
    private sealed class CountingLoader(SmallProblem[] problems) : IShardLoader
    {
        public System.Collections.Concurrent.ConcurrentBag<(string Source, long Start, int Count)> Loads { get; } = new();

        private SmallProblem Of(ProblemSource s) => problems.Single(p => p.Source.Equals(s));

        public ProblemShape Describe(ProblemSource source) => Of(source).Loader.Describe(source);

        public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute)
        {
            Loads.Add((source.ToString(), rows.Start, rows.Count));
            return Of(source).Loader.Load(source, rows, compute);
        }
    }
}
