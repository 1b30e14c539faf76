namespace DistSoftmax.Core.Statistics;

/// <param name="TargetL1">Σ|b_i| over the rows (a matrix problem: over every entry of its rows of B).</param>
/// <param name="MinSquaredWeight">min_i w_i² over the rows of a vector problem (0 without a regulariser); +∞ for a matrix
/// problem, whose weights the analysis does not use.</param>
/// <param name="Rows">Rows that contributed.</param>
public sealed record TargetSummaryReply(double TargetL1, double MinSquaredWeight, long Rows) : ShardReply
{
    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<TargetSummaryReply>(other);
        return new TargetSummaryReply(TargetL1 + o.TargetL1, Math.Min(MinSquaredWeight, o.MinSquaredWeight), Rows + o.Rows);
    }
}
