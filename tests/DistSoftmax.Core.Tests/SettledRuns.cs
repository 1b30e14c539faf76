using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// For the tests of what a solve keeps once it has settled: a run driven request by request, noting the iteration at
/// which each request of a kind was sent, and the settled rule (<see cref="SampledGramCurvature.SettledSteps"/>)
/// restated from a finished trace.
/// </summary>
public static class SettledRuns
{
    /// <summary>Runs <paramref name="run"/> to its end on <paramref name="driver"/>; the iterations at which a
    /// <typeparamref name="TRequest"/> was sent.</summary>
    public static List<int> IterationsOf<TRequest>(SolveRun run, IShardEvaluator driver) where TRequest : ShardRequest
    {
        var sentAt = new List<int>();
        var request = run.Start();
        while (request is not null)
        {
            if (request is TRequest) sentAt.Add(run.Trace.Count - 1);
            request = run.Submit(driver.Evaluate(request));
        }
        return sentAt;
    }

    /// <summary>Whether the solve had settled at <paramref name="iteration"/>: its step and the one before were full and
    /// the loss changed by at most the rule's share of it (or of the loss at x0).</summary>
    public static bool Settled(IReadOnlyList<TraceEntry> trace, int iteration)
    {
        if (iteration < 2) return false;
        double before = trace[iteration - 1].Loss, now = trace[iteration].Loss, change = Math.Abs(before - now);
        return trace[iteration].StepLength == 1 && trace[iteration - 1].StepLength == 1
            && (change <= SampledGramCurvature.KeepTriangleBelowLossChange * Math.Abs(now)
                || change <= SampledGramCurvature.KeepTriangleBelowInitialLossChange * Math.Abs(trace[0].Loss));
    }
}
