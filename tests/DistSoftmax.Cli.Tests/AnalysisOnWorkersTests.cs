using DistSoftmax.Cli.Commands;
using DistSoftmax.Cli.Solving;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// The solve command's analysis after a solve whose rows live elsewhere (a cluster backend): it runs as requests on the
/// workers' shards (<see cref="SolveJob.AfterSolve"/>), and only when those were cut short on the rows loaded again here.
/// </summary>
public sealed class AnalysisOnWorkersTests
{
    /// <summary>Counts the loads of the workers' shards.</summary>
    private sealed class CountingLoader(IShardLoader inner) : IShardLoader
    {
        public int Loads;
        public ProblemShape Describe(ProblemSource source) => inner.Describe(source);
        public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute)
        {
            Interlocked.Increment(ref Loads);
            return inner.Load(source, rows, compute);
        }
    }

    /// <summary>
    /// Worker actors as the local simulation runs them, seen by the solve command as a cluster (its rows are not kept
    /// here); <paramref name="cutShort"/> abandons the analysis after its first request, as a worker lost without a
    /// replacement would.
    /// </summary>
    private sealed class ElsewhereBackend(bool cutShort) : ISolveBackend
    {
        public int WorkerLoads => _loader?.Loads ?? 0;
        /// <summary>The analysis the solve command handed over, once the solver has finished.</summary>
        public IRequestProgram? Analysis { get; private set; }
        private CountingLoader? _loader;

        public string Name => "cluster";

        public Task<SolverResult> SolveAsync(SolveJob job, Action<TraceEntry> progress, Action<string> note, CancellationToken cancellation)
        {
            _loader = new CountingLoader(job.Loader);
            Assert.NotNull(job.AfterSolve);
            Func<SolverResult, IRequestProgram?> after = cutShort
                ? solved =>
                {
                    var program = Analysis = job.AfterSolve!(solved);
                    Assert.NotNull(program!.Start());
                    program.Abandon("worker w2 lost and no worker took its shard");
                    return null;
                }
                : solved => Analysis = job.AfterSolve!(solved);
            return LocalSimulation.SolveAsync(_loader, job.Source, job.Solver, job.X0, job.Options,
                new LocalSimulationOptions { Workers = job.Workers, AfterSolve = after }, cancellation);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_analysis_runs_where_the_rows_are_and_again_here_only_when_cut_short(bool cutShort)
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "normalized", "--n", "3000", "--d", "8", "--seed", "4", "--out-dir", "inst").Code);
        string[] problem = ["--A", "inst/A.npy", "--b", "inst/b.npy", "--workers", "2", "--save", "fitted,hessian"];
        Assert.Equal(0, Cli.Run(dir.Path, ["solve", .. problem, "--out-dir", "here"]).Code);

        var output = new StringWriter();
        var errors = new StringWriter();
        var ctx = new CliContext(output, errors, dir.Path);
        var backend = new ElsewhereBackend(cutShort);
        int code = await new SolveRunner(ctx, _ => backend).RunAsync(SolveCommand.ParseSettings([.. problem, "--out-dir", "elsewhere"], ctx));

        Assert.True(code == 0, output + "\n" + errors);
        Assert.Equal(2, backend.WorkerLoads);
        Assert.True(backend.Analysis is { Finished: true }, "the analysis was not handed over or did not finish");
        Assert.Equal(cutShort, errors.ToString().Contains(
            "the post-solve analysis on the workers stopped (worker w2 lost and no worker took its shard); running it here on the rows loaded again"));
        AnalysisAssert.Same(dir.File("here"), dir.File("elsewhere"), ["lambdaMin", "lambdaMax", "loss", "lossAtZero"], ["fitted.npy", "hessian.npy"]);
    }
}
