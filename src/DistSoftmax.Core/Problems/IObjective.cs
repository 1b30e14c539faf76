using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// What a solver needs to know of a problem besides the shards' statistics: the dimension of x, how many rows
/// there are, how to finish merged phase-1 sums into a loss and globals, and the low-rank coefficients C of the
/// Hessian (H = Aᵀ diag(D + w²) A + Σ_jk C_jk (Aᵀq_j)(Aᵀq_k)ᵀ).
/// </summary>
public interface IObjective
{
    string Name { get; }
    int Dimension { get; }
    long Rows { get; }
    /// <summary>Stored entries of the data matrix (non-zeros of a sparse A; n·d when dense), for cost models.</summary>
    long StoredEntries => Rows * Dimension;
    int LowRankCount { get; }
    /// <summary>Whether the shards can answer leverage and sampled-Gram requests.</summary>
    bool SupportsRowSampling { get; }
    /// <summary>Loss and globals at x from the merged phase-1 reply to a ScalarsRequest with the given reference.</summary>
    PointEvaluation Evaluate(double[] x, ScalarsReply merged, double[]? reference = null);
    double[] LowRankCoefficients(double[] globals, HessianKind kind);

    /// <summary>
    /// ∇L assembled from a ScalarsRequest answered with its gradient basis (one pass for loss and gradient), or
    /// null when the reply carries none (the objective does not support it, or it was not asked for).
    /// </summary>
    double[]? FusedGradient(PointEvaluation point, ScalarsReply merged, double[] reference) => null;

    /// <summary>
    /// The low-rank vectors Aᵀq_j (LowRankCount × d) from the same one-pass reply, or null when they cannot be
    /// assembled from it.
    /// </summary>
    double[]? FusedLowRank(PointEvaluation point, ScalarsReply merged, double[] reference, HessianKind kind) => null;

    /// <summary>Whether the shards answer ScalarsRequest.WithGradient (and its sketch) at all.</summary>
    bool SupportsFusedPass => false;

    /// <summary>
    /// Whether the one pass gives ∇L without a reference point's globals (so x0's first request can carry it): true
    /// where every row's normaliser is its own (a matrix problem); a vector problem's gradient basis is combined with
    /// coefficients relative to a reference.
    /// </summary>
    bool OnePassWithoutReference => false;
}
