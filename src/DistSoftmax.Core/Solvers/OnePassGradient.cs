using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// ∇L, and the low-rank vectors when the solver needs them, assembled from an accepted trial's one-pass reply
/// (ScalarsRequest.WithGradient, answered against the previous iterate's globals as reference).
/// </summary>
internal static class OnePassGradient
{
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
