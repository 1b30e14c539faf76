namespace DistSoftmax.Core.Statistics;

/// <summary>The sums of a <see cref="LogLinearStartRequest"/> over a shard's usable rows; they merge by addition.</summary>
/// <param name="Gram">Σ_j a1_j a1_jᵀ over the usable rows (d×d, row-major).</param>
/// <param name="Projected">Σ_j a1_j (ℓ_jᵀ A2) (Ã2ᵀÃ2)⁻¹ over the usable rows (d×d, row-major): ℓ_j = log B_j minus its
/// mean, Ã2 = A2 with its column means removed (every shard holds all of A2, so each applies the same inverse).</param>
/// <param name="GradientAtZero">Σ over all the shard's rows of their part of ∇L(0) = −(1/n) A1ᵀ (B − rowmeans·1ᵀ) A2
/// (d×d, row-major): the scale a solve from zeros would measure its relative tolerance against — only its norm is
/// used, and a shard with single-precision products forms it by sgemm (within ≈ 1e-7 of the norm).</param>
/// <param name="UsableRows">Rows whose entries of B are all positive (the others have no logarithm and take no part).</param>
/// <param name="Rows">Rows of the shard.</param>
public sealed record LogLinearStartReply(double[] Gram, double[] Projected, double[] GradientAtZero, long UsableRows, long Rows) : ShardReply
{
    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<LogLinearStartReply>(other);
        return new LogLinearStartReply(Add(Gram, o.Gram), Add(Projected, o.Projected), Add(GradientAtZero, o.GradientAtZero),
            UsableRows + o.UsableRows, Rows + o.Rows);
    }
}
