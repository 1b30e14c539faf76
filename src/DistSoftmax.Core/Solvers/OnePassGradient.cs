using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// ∇L, and the low-rank vectors when the solver needs them, assembled from an accepted trial's one-pass reply
/// (ScalarsRequest.WithGradient, answered against the previous iterate's globals as reference).
/// </summary>
internal static class OnePassGradient
{
    /// <summary>
    /// The gradient reply at an accepted iterate: from the accepted trial's one pass when it carries everything the
    /// curvature needs, else through a gradient request (with the curvature's additions, e.g. a sketch); the curvature
    /// then sees it (<see cref="CurvatureSource.OnGradient"/>). Both globalisation templates start an iteration here.
    /// </summary>
    public static IEnumerable<ShardRequest> Fetch(SolveRun run, PointEvaluation point, (ScalarsReply Reply, double[] Reference)? accepted,
        int iteration, HessianKind kind, CurvatureSource? curvature, Out<GradientReply> result)
    {
        var fused = accepted is { } a ? From(run, point, a.Reply, a.Reference, kind, curvature is not null) : null;
        if (fused is not null && Solver.AllFinite(fused.Gradient) && (curvature?.IsComplete(run, fused) ?? true))
            result.Value = fused;
        else
        {
            yield return curvature?.GradientRequest(run, point, iteration, kind) ?? new GradientRequest(point.X, point.Globals, kind, false);
            result.Value = run.Reply<GradientReply>();
        }
        curvature?.OnGradient(run, result.Value);
    }

    /// <summary>The gradient reply the trial's pass gives, or null when it does not carry it (then ask for a gradient pass).</summary>
    public static GradientReply? From(SolveRun run, PointEvaluation point, ScalarsReply reply, double[] reference, HessianKind kind, bool withLowRank)
    {
        var gradient = run.Objective.FusedGradient(point, reply, reference);
        if (gradient is null) return null;
        double[] lowRank = Array.Empty<double>();
        if (withLowRank && run.Objective.LowRankCount > 0)
        {
            lowRank = run.Objective.FusedLowRank(point, reply, reference, kind)!;
            if (lowRank is null) return null;
        }
        return new GradientReply(gradient, lowRank, reply.Sketch);
    }
}
