namespace DistSoftmax.Core.Statistics;

/// <summary>
/// Which z-Hessian B the shards use: the exact second derivative of the loss, or its positive-semidefinite
/// Gauss–Newton part Jᵀ J (J = ∂c/∂z), the fallback for indefinite problems.
/// </summary>
public enum HessianKind : byte { Exact = 0, GaussNewton = 1 }

/// <summary>
/// What a solver asks of the shards. Every request names the point x (d values) so that a shard that has
/// never seen x (a reassigned one) can answer; a shard caches z = A x for the last x it saw.
/// Phase-2 requests also carry the global scalars of the objective at x (the merged answer of
/// <see cref="ScalarsRequest"/>), which make every per-row term local. Arrays are never mutated after sending.
/// </summary>
public abstract record ShardRequest(double[] X);

/// <summary>
/// Phase 1: local z = A x and the family's partial sums (loss, normalisers), plus Σ w_i² z_i².
/// <paramref name="Reference"/> is optional: the globals of a nearby point (the current iterate, during a line
/// search). Families use its normaliser to sum the residual directly, Σ(v − ρb)², instead of expanding ½‖c‖²
/// into a difference of large terms, so losses near a minimiser keep their relative accuracy.
/// </summary>
public sealed record ScalarsRequest(double[] X, double[]? Reference = null) : ShardRequest(X);

/// <summary>
/// Phase 2: the gradient part Aᵀ(g + w²∘z); with <paramref name="WithLowRank"/> also the d-vectors Aᵀq_j of the
/// Hessian's low-rank part; with <paramref name="SketchRows"/> &gt; 0 also a CountSketch (SketchRows×d) of
/// diag(√|D + w²|) A, rows hashed by global index with <paramref name="SketchSeed"/>.
/// </summary>
public sealed record GradientRequest(double[] X, double[] Globals, HessianKind Kind, bool WithLowRank,
    int SketchRows = 0, ulong SketchSeed = 0) : ShardRequest(X);

/// <summary>Phase 2: the exact Gram block Aᵀ diag(D + w²) A as a packed upper triangle.</summary>
public sealed record GramRequest(double[] X, double[] Globals, HessianKind Kind) : ShardRequest(X);

/// <summary>
/// Phase 2, one pass: approximate leverage scores τ_i = |D_i + w_i²| · ‖a_iᵀ Y‖² for Y = R⁻¹G given transposed
/// (<paramref name="ProjectionT"/>, k×d row-major); row i is kept with probability
/// q_i = min(1, SampleSize·τ_i / TotalLeverage) (the uniform-key draw of global row i under
/// <paramref name="SampleSeed"/>) and contributes (D_i + w_i²)/q_i · a_i a_iᵀ to the packed Gram.
/// TotalLeverage is the coordinator's estimate of Σ τ_i (‖G‖²_F, exact when the sketch is an exact embedding).
/// With <paramref name="Uniform"/> the scores are all 1 (uniform sampling, for comparison).
/// </summary>
public sealed record SampledGramRequest(double[] X, double[] Globals, HessianKind Kind, double[] ProjectionT, int K,
    double TotalLeverage, double SampleSize, ulong SampleSeed, bool Uniform = false) : ShardRequest(X);

/// <summary>Phase 2: for a direction v, y = A v; returns Aᵀ((D + w²)∘y) and the dots ⟨q_j, y⟩.</summary>
public sealed record HessianVectorRequest(double[] X, double[] Globals, HessianKind Kind, double[] V) : ShardRequest(X);

/// <summary>A shard's answer. Replies of one request merge associatively; a driver merges them in shard order.</summary>
public abstract record ShardReply
{
    public abstract ShardReply Merge(ShardReply other);

    protected static double[] Add(double[] a, double[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"cannot merge statistics of lengths {a.Length} and {b.Length}");
        var r = new double[a.Length];
        System.Numerics.Tensors.TensorPrimitives.Add(a, b, r);
        return r;
    }

    protected T Cast<T>(ShardReply other) where T : ShardReply =>
        other as T ?? throw new ArgumentException($"cannot merge {GetType().Name} with {other.GetType().Name}");
}

/// <param name="Family">The family's shifted partial sums.</param>
/// <param name="RegularizerSum">Σ w_i² z_i² over the shard's rows.</param>
/// <param name="Rows">Rows that contributed.</param>
public sealed record ScalarsReply(ScalarSums Family, double RegularizerSum, long Rows) : ShardReply
{
    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<ScalarsReply>(other);
        return new ScalarsReply(Family.Merge(o.Family), RegularizerSum + o.RegularizerSum, Rows + o.Rows);
    }
}

/// <param name="Gradient">Aᵀ(g + w²∘z), length d.</param>
/// <param name="LowRank">Aᵀq_j for j = 0..k−1, k×d row-major (empty when not asked).</param>
/// <param name="Sketch">CountSketch rows×d row-major (empty when not asked).</param>
public sealed record GradientReply(double[] Gradient, double[] LowRank, double[] Sketch) : ShardReply
{
    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<GradientReply>(other);
        return new GradientReply(Add(Gradient, o.Gradient), Add(LowRank, o.LowRank), Add(Sketch, o.Sketch));
    }
}

/// <param name="PackedUpper">Upper triangle of a symmetric d×d matrix, row by row: (0,0..d−1), (1,1..d−1), …</param>
/// <param name="RowsUsed">Rows that contributed (all rows for an exact Gram, the sampled ones otherwise).</param>
public sealed record GramReply(double[] PackedUpper, long RowsUsed) : ShardReply
{
    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<GramReply>(other);
        return new GramReply(Add(PackedUpper, o.PackedUpper), RowsUsed + o.RowsUsed);
    }
}

/// <param name="Product">Aᵀ((D + w²)∘A v), length d.</param>
/// <param name="LowRankDots">⟨q_j, A v⟩ for j = 0..k−1.</param>
public sealed record HessianVectorReply(double[] Product, double[] LowRankDots) : ShardReply
{
    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<HessianVectorReply>(other);
        return new HessianVectorReply(Add(Product, o.Product), Add(LowRankDots, o.LowRankDots));
    }
}
