using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Drivers;

/// <summary>
/// Answers a solver's requests by evaluating in-process shards (in parallel when asked) and merging the replies
/// in shard order, so the merged statistics — and hence the iterates — do not depend on thread timing.
/// </summary>
public sealed class InProcessDriver : IShardEvaluator
{
    private readonly IReadOnlyList<IShard> _shards;
    private readonly bool _parallelShards;

    public InProcessDriver(IReadOnlyList<IShard> shards, bool parallelShards = false)
    {
        if (shards.Count == 0) throw new ArgumentException("at least one shard is needed");
        _shards = shards;
        _parallelShards = parallelShards;
    }

    public ShardReply Evaluate(ShardRequest request)
    {
        var replies = new ShardReply[_shards.Count];
        if (_parallelShards) Parallel.For(0, _shards.Count, k => replies[k] = _shards[k].Evaluate(request));
        else for (int k = 0; k < _shards.Count; k++) replies[k] = _shards[k].Evaluate(request);
        var merged = replies[0];
        for (int k = 1; k < replies.Length; k++) merged = merged.Merge(replies[k]);
        return merged;
    }

    public SolverResult Run(SolveRun run)
    {
        var request = run.Start();
        while (request is not null) request = run.Submit(Evaluate(request));
        return run.Result!;
    }

    /// <summary>Convenience: solve with a named solver from x0.</summary>
    public SolverResult Solve(Solver solver, IObjective objective, double[] x0, SolverOptions options,
        Action<TraceEntry>? progress = null, CancellationToken cancellation = default)
    {
        var run = solver.Start(objective, x0, options, cancellation);
        if (progress is not null) run.Progress += progress;
        return Run(run);
    }
}
