namespace DistSoftmax.Core.Statistics;

/// <summary>The sums of a <see cref="KroneckerFactorsRequest"/>; they merge by addition.</summary>
/// <param name="LeftPacked">Σ_j τ_j a1_j a1_jᵀ, packed upper triangle of a d×d matrix.</param>
/// <param name="RightPacked">Σ_j A2ᵀ B(z_j) A2, packed upper triangle of a d×d matrix.</param>
/// <param name="WeightSum">Σ_j τ_j.</param>
/// <param name="Rows">Rows that contributed.</param>
public sealed record KroneckerFactorsReply(double[] LeftPacked, double[] RightPacked, double WeightSum, long Rows) : ShardReply
{
    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<KroneckerFactorsReply>(other);
        return new KroneckerFactorsReply(Add(LeftPacked, o.LeftPacked), Add(RightPacked, o.RightPacked), WeightSum + o.WeightSum, Rows + o.Rows);
    }
}
