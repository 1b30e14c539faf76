namespace DistSoftmax.Core.Statistics;

/// <summary>
/// A shard's part of φ(t) = L(t·X) and its derivatives at the <see cref="StartScaleRequest"/>'s t (sums over its rows,
/// the regulariser's ½‖W∘(t·M)‖² included); they merge by addition.
/// </summary>
/// <param name="Loss">φ(t): Σ_j ½‖f(t·m_j) − b_j‖² + ½ t² Σ_j ‖w_j∘m_j‖².</param>
/// <param name="Slope">φ′(t).</param>
/// <param name="Curvature">φ″(t) (the exact second derivative; it may be negative).</param>
/// <param name="GaussNewtonCurvature">φ″'s Gauss–Newton part Σ_j ‖∂f_j/∂t‖² (+ ‖W∘M‖²), never negative.</param>
/// <param name="Rows">Rows of the shard.</param>
public sealed record StartScaleReply(double Loss, double Slope, double Curvature, double GaussNewtonCurvature, long Rows) : ShardReply
{
    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<StartScaleReply>(other);
        return new StartScaleReply(Loss + o.Loss, Slope + o.Slope, Curvature + o.Curvature,
            GaussNewtonCurvature + o.GaussNewtonCurvature, Rows + o.Rows);
    }
}
