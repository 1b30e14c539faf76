using DistSoftmax.Core.Kernels;
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
/// With <paramref name="WithGradient"/> (and a reference) the same pass over A also returns the products
/// Aᵀβ_j of the family's gradient basis (see <see cref="Problems.IVectorFamily.GradientBasisCount"/>), from which
/// the solver assembles ∇L without a second pass: one pass for loss and gradient. Families whose low-rank vectors
/// q_j are combinations of the basis (see <see cref="Problems.IVectorFamily.LowRankFromBasis"/>) thereby also give
/// the Aᵀq_j of a Newton step. A matrix shard (whose rows carry their own normalisers) returns its part of ∇L itself
/// instead, with or without a reference (<see cref="Problems.MatrixObjective.FusedGradient"/>).
/// With <paramref name="SketchRows"/> &gt; 0 (and a reference) the pass also returns a CountSketch (SketchRows×d) of
/// diag(√|D̃ + w²|) A, where D̃ are the row curvatures of <paramref name="SketchKind"/> computed with the reference's
/// globals standing in for the point's own (not known before the merge): the sketch from which an approximate Newton
/// step at an accepted trial point takes its leverage scores, rows hashed by global index with
/// <paramref name="SketchSeed"/> exactly as in <see cref="GradientRequest"/>, returned in <paramref name="SketchForm"/>.
/// With <paramref name="SinglePrecision"/> a matrix shard that has single-precision products forms M = A1 X A2ᵀ and
/// projects its gradient back by sgemm (the rows' values, the loss and the sums in double from that M): an early
/// iterate's loss and gradient to about 1e-7 of ‖∇L(x0)‖ at two thirds of the time, while the gradient is far above
/// the stopping target (<see cref="Solvers.Solver.SinglePassGradientRatio"/>). Other shards answer in double.
/// With <paramref name="Anchored"/> (a trial in double precision near the solution,
/// <see cref="Solvers.Solver.AnchoredPassErrorRatio"/>) a multiple normalized softmax shard that holds its rows' values
/// in double precision at an earlier x with its part of ∇L there (the last such pass) answers from them and the change
/// of x, whose products run in single precision (docs/MATH.md, "Anchored passes"); other shards answer in full.
/// </summary>
public sealed record ScalarsRequest(double[] X, double[]? Reference = null, bool WithGradient = false,
    int SketchRows = 0, ulong SketchSeed = 0, HessianKind SketchKind = HessianKind.GaussNewton,
    SketchForm SketchForm = SketchForm.Rows, bool SinglePrecision = false, bool Anchored = false) : ShardRequest(X);

/// <summary>
/// Phase 2: the gradient part Aᵀ(g + w²∘z); with <paramref name="WithLowRank"/> also the d-vectors Aᵀq_j of the
/// Hessian's low-rank part; with <paramref name="SketchRows"/> &gt; 0 also a CountSketch (SketchRows×d) of
/// diag(√|D + w²|) A, rows hashed by global index with <paramref name="SketchSeed"/>, returned in <paramref name="SketchForm"/>.
/// </summary>
public sealed record GradientRequest(double[] X, double[] Globals, HessianKind Kind, bool WithLowRank,
    int SketchRows = 0, ulong SketchSeed = 0, SketchForm SketchForm = SketchForm.Rows) : ShardRequest(X);

/// <summary>Phase 2: the exact Gram block Aᵀ diag(D + w²) A as a packed upper triangle.</summary>
public sealed record GramRequest(double[] X, double[] Globals, HessianKind Kind) : ShardRequest(X);

/// <summary>
/// Phase 2, one pass: approximate leverage scores τ_i = |D_i + w_i²| · ‖a_iᵀ Y‖² for Y = R⁻¹G given transposed
/// (<paramref name="ProjectionT"/>, k×d row-major); row i is kept with probability
/// q_i = min(1, SampleSize·τ_i / TotalLeverage) (the uniform-key draw of global row i under
/// <paramref name="SampleSeed"/>) and contributes (D_i + w_i²)/q_i · a_i a_iᵀ to the packed Gram.
/// TotalLeverage is the coordinator's estimate of Σ τ_i (‖G‖²_F, exact when the sketch is an exact embedding).
/// With <paramref name="Uniform"/> the scores are all 1 (uniform sampling, for comparison).
/// With <paramref name="SinglePrecision"/> the kept rows' products are summed in single precision where the shard can
/// (dense rows with OpenBLAS's ssyrk, <see cref="Kernels.RowAccess.SingleGram"/>), for a preconditioner; elsewhere in double.
/// </summary>
public sealed record SampledGramRequest(double[] X, double[] Globals, HessianKind Kind, double[] ProjectionT, int K,
    double TotalLeverage, double SampleSize, ulong SampleSeed, bool Uniform = false, bool SinglePrecision = false) : ShardRequest(X);

/// <summary>
/// Phase 2: for a direction v, y = A v; returns Aᵀ((D + w²)∘y) and the dots ⟨q_j, y⟩.
/// With <paramref name="SinglePrecision"/> a shard may form the product's dense products in single precision (a matrix
/// shard's products, exact or Gauss–Newton, in single precision (the AVX-512 kernel or OpenBLAS's sgemm): relative error about 1e-6), for an inner CG solve
/// whose tolerance is far looser; shards without such a path answer in double.
/// <paramref name="SinglePassIterate"/>: x is an iterate whose loss-and-gradient pass ran in single precision
/// (<see cref="ScalarsRequest.SinglePrecision"/>); a single-precision request then reads (or forms again) the rows'
/// values from M formed in single precision, as that pass did, so its bits do not depend on whether this shard ran it.
/// </summary>
public sealed record HessianVectorRequest(double[] X, double[] Globals, HessianKind Kind, double[] V, bool SinglePrecision = false,
    bool SinglePassIterate = false) : ShardRequest(X);

/// <summary>
/// Phase 2 for a row-separable loss (the two-layer networks of Networks/): the gradient part over the rows of one
/// mini-batch only, answered with a <see cref="GradientReply"/> (Gradient = Σ over the batch's rows, LowRank and
/// Sketch empty). Epoch <paramref name="Epoch"/> partitions the global rows at random into
/// ⌈1/<paramref name="BatchFraction"/>⌉ batches: global row i draws u_i = UniformFromKey(Hash(Seed ^ Hash(Epoch)), i)
/// and belongs to batch ⌊u_i / BatchFraction⌋, so every row is used once per epoch and the batch never depends on
/// the shard layout. Batch b holds each row with probability <see cref="FractionOf"/>(b).
/// </summary>
public sealed record MiniBatchGradientRequest(double[] X, ulong Seed, int Epoch, int Batch, double BatchFraction) : ShardRequest(X)
{
    /// <summary>Batches per epoch, ⌈1/f⌉ (a fraction within 1e-12 of 1/B counts as exactly 1/B).</summary>
    public static int BatchesPerEpoch(double batchFraction)
    {
        if (!(batchFraction > 0 && batchFraction <= 1)) throw new ParameterException(nameof(BatchFraction), batchFraction, "must be in (0, 1]");
        return (int)Math.Ceiling(1.0 / batchFraction - 1e-12);
    }

    /// <summary>The probability that a row is in batch b: f, except for the last batch, which holds what is left.</summary>
    public static double FractionOf(int batch, double batchFraction) =>
        Math.Min(1.0, (batch + 1) * batchFraction) - Math.Min(1.0, batch * batchFraction);

    /// <summary>The key of this epoch's uniform draws.</summary>
    public ulong EpochKey => Random.Rng.Hash(Seed ^ Random.Rng.Hash((ulong)(uint)Epoch));

    /// <summary>Whether global row <paramref name="row"/> belongs to this batch.</summary>
    public bool Selects(long row) => BatchOf(EpochKey, row, BatchFraction, BatchesPerEpoch(BatchFraction)) == Batch;

    /// <summary>The batch of global row <paramref name="row"/> in the epoch with key <paramref name="epochKey"/>.</summary>
    public static int BatchOf(ulong epochKey, long row, double batchFraction, int batches) =>
        Math.Min((int)(Random.Rng.UniformFromKey(epochKey, (ulong)row) / batchFraction), batches - 1);
}

/// <summary>A shard's answer. Replies of one request merge associatively; a driver merges them in shard order.</summary>
public abstract record ShardReply
{
    public abstract ShardReply Merge(ShardReply other);

    protected static double[] Add(double[] a, double[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"cannot merge statistics of lengths {a.Length} and {b.Length}");
        var r = new double[a.Length];
        SpanMath.Add(a, b, r);
        return r;
    }

    /// <summary>
    /// Merges two sketches: rows add (one set of buckets); packed triangles (<paramref name="triangleColumns"/> = d &gt; 0)
    /// merge by the QR of the stacked pair (TSQR); an empty side (no sketch asked) gives the other.
    /// </summary>
    protected static double[] MergeSketches(double[] a, double[] b, int triangleColumns)
    {
        if (triangleColumns == 0) return Add(a, b);
        if (a.Length == 0) return b;
        if (b.Length == 0) return a;
        return Kernels.HouseholderQr.MergePacked(a, b, triangleColumns);
    }

    protected static int SameSketchColumns(int a, int b) =>
        a == b ? a : throw new ArgumentException($"cannot merge a sketch of form {a} with one of form {b} (columns of a triangle, 0 for rows)");

    protected T Cast<T>(ShardReply other) where T : ShardReply =>
        other as T ?? throw new ArgumentException($"cannot merge {GetType().Name} with {other.GetType().Name}");
}

/// <param name="Family">The family's shifted partial sums.</param>
/// <param name="RegularizerSum">Σ w_i² z_i² over the shard's rows.</param>
/// <param name="Rows">Rows that contributed.</param>
/// <param name="GradientBasis">
/// When asked (<see cref="ScalarsRequest.WithGradient"/>): Aᵀβ_j for the family's k gradient-basis vectors, then
/// Aᵀ(w²∘z), as (k+1)×d row-major; from a matrix shard, its part of ∇L (d² values); otherwise empty.
/// </param>
/// <param name="Sketch">The CountSketch when asked: SketchRows×d row-major, or a packed triangle (see <see cref="SketchForm"/>).</param>
/// <param name="SketchColumns">d when <paramref name="Sketch"/> is a packed triangle R (<see cref="SketchForm.Triangle"/>), 0 for rows.</param>
public sealed record ScalarsReply(ScalarSums Family, double RegularizerSum, long Rows, double[] GradientBasis, double[] Sketch,
    int SketchColumns = 0) : ShardReply
{
    public ScalarsReply(ScalarSums family, double regularizerSum, long rows) : this(family, regularizerSum, rows, Array.Empty<double>()) { }

    public ScalarsReply(ScalarSums family, double regularizerSum, long rows, double[] gradientBasis)
        : this(family, regularizerSum, rows, gradientBasis, Array.Empty<double>()) { }

    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<ScalarsReply>(other);
        return new ScalarsReply(Family.Merge(o.Family), RegularizerSum + o.RegularizerSum, Rows + o.Rows,
            Add(GradientBasis, o.GradientBasis), MergeSketches(Sketch, o.Sketch, SameSketchColumns(SketchColumns, o.SketchColumns)),
            SketchColumns);
    }
}

/// <param name="Gradient">Aᵀ(g + w²∘z), length d.</param>
/// <param name="LowRank">Aᵀq_j for j = 0..k−1, k×d row-major (empty when not asked).</param>
/// <param name="Sketch">CountSketch rows×d row-major, or its packed R (see <see cref="SketchForm"/>); empty when not asked.</param>
/// <param name="SketchColumns">d when <paramref name="Sketch"/> is a packed triangle R (<see cref="SketchForm.Triangle"/>), 0 for rows.</param>
public sealed record GradientReply(double[] Gradient, double[] LowRank, double[] Sketch, int SketchColumns = 0) : ShardReply
{
    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<GradientReply>(other);
        return new GradientReply(Add(Gradient, o.Gradient), Add(LowRank, o.LowRank),
            MergeSketches(Sketch, o.Sketch, SameSketchColumns(SketchColumns, o.SketchColumns)), SketchColumns);
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
