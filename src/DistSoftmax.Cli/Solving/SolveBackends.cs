using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Cli.Solving;

/// <summary>One solve to run: where the rows come from (only the description travels), the solver and its start.</summary>
/// <param name="Workers">Row shards, one per worker.</param>
internal sealed record SolveJob(IShardLoader Loader, ProblemSource Source, ProblemShape Shape, string Solver,
    SolverOptions Options, double[] X0, int Workers);

/// <summary>
/// Runs a solve somewhere. The solve command is written once against this interface; backends differ only in
/// who evaluates the shards' statistics (a loop in this process, worker actors, or cluster nodes).
/// </summary>
internal interface ISolveBackend
{
    /// <summary>Name for the report: "inprocess", "local" or "cluster".</summary>
    string Name { get; }

    /// <summary>
    /// Solves the job; <paramref name="progress"/> is called once per iteration (from any thread).
    /// Cancellation ends the solve at the next iteration boundary with exit condition Cancelled.
    /// </summary>
    Task<SolverResult> SolveAsync(SolveJob job, Action<TraceEntry> progress, CancellationToken cancellation);
}

/// <summary>
/// The plain in-process driver: every shard is loaded here (through the same loader the workers use) and the
/// solver's requests are answered by a loop over them, shards in parallel.
/// </summary>
internal sealed class InProcessBackend : ISolveBackend
{
    public string Name => "inprocess";

    public Task<SolverResult> SolveAsync(SolveJob job, Action<TraceEntry> progress, CancellationToken cancellation) =>
        Task.Run(() =>
        {
            var ranges = ShardLayout.Split(job.Shape.Rows, job.Workers);
            var compute = new ShardComputeOptions(Math.Max(1, Environment.ProcessorCount / ranges.Length));
            var shards = ranges.Select(r => job.Loader.Load(job.Source, r, compute)).ToArray();
            var driver = new InProcessDriver(shards, parallelShards: shards.Length > 1);
            return driver.Solve(SolverCatalog.Create(job.Solver), job.Shape.Objective, job.X0, job.Options, progress, cancellation);
        }, CancellationToken.None);
}

internal static class SolveBackends
{
    public static ISolveBackend For(BackendPlan plan) => plan.Kind switch
    {
        "inprocess" => new InProcessBackend(),
        _ => throw new CliInputException("--backend", $"the '{plan.Kind}' backend is not available in this build (the Akka.NET cluster project has not landed); use --backend inprocess"),
    };
}
