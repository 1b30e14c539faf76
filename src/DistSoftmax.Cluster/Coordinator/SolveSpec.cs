using DistSoftmax.Core;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// Everything a coordinator needs for one solve. It stays on the coordinator's node (the solver object is never
/// sent anywhere); workers only ever see <see cref="Source"/> and their row ranges.
/// </summary>
/// <param name="Shape">The problem's objective and row count, from <see cref="IShardLoader.Describe"/>.</param>
/// <param name="Shards">Number of row shards (ShardLayout.Split); fixed for the whole solve, whatever the workers.</param>
/// <param name="MinWorkers">Workers that must have registered before the first assignment.</param>
public sealed record SolveSpec(string SolveId, ProblemSource Source, ProblemShape Shape, Solver Solver, double[] X0,
    SolverOptions Options, int Shards, int MinWorkers, CancellationToken Cancellation = default)
{
    public static string NewSolveId() => $"solve-{Guid.NewGuid():N}"[..18];

    /// <summary>
    /// The source's content identity as the workers' shard caches key it (<see cref="Worker.SourceIdentity"/>), or
    /// null: shards then go to workers without regard to what they hold. Computed by the caller (it reads the files'
    /// metadata; the coordinator actor never touches the file system) with <see cref="WithCacheIdentity"/>.
    /// </summary>
    public string? CacheIdentity { get; init; }

    /// <summary>
    /// What runs on the same shards once the solver has finished, before the result is reported: given the result, a
    /// program of further requests (the post-solve analysis at x*, <see cref="Core.Drivers.RequestProgram{T}"/>), or
    /// null for none. The coordinator steps it as it steps the solver, so a cluster's rows are never loaded again
    /// elsewhere for it; what it computes stays with its creator. A failure while it runs (a lost worker with no
    /// replacement, a cancellation) abandons it and still reports the solver's result.
    /// </summary>
    public Func<SolverResult, Core.Drivers.IRequestProgram?>? AfterSolve { get; init; }

    /// <summary>This spec with <see cref="CacheIdentity"/> from the source's files (call it off any actor thread).</summary>
    public SolveSpec WithCacheIdentity() =>
        this with { CacheIdentity = Worker.SourceIdentity.Of(Source, Worker.WorkerSettings.DefaultCacheableKinds) };

    public SolveSpec Validate()
    {
        if (string.IsNullOrWhiteSpace(SolveId)) throw new ArgumentException("a solve needs an id");
        if (Shards < 1) throw new ParameterException(nameof(Shards), Shards, "must be at least 1");
        if (MinWorkers < 1) throw new ParameterException(nameof(MinWorkers), MinWorkers, "must be at least 1");
        if (Shape.Rows < 1) throw new ArgumentException($"problem {Source} has no rows");
        if (X0.Length != Shape.Objective.Dimension)
            throw new ArgumentException($"x0 has {X0.Length} entries but the problem has {Shape.Objective.Dimension} unknowns");
        Options.Validate();
        return this;
    }
}
