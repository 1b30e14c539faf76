using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// A multiple softmax regression L(X) = Σ_j ℓ(z_j; B_j) + ½‖W∘M‖²_F over rows j of M = A1 X A2ᵀ (answered by
/// the shards' MatrixShard): d² unknowns x = row-major vec(X), m rows j (n in the seed).
///
/// Every row's normaliser is local to the shard that owns the row, so the merged phase-1 reply already holds the
/// finished loss Σ_j ℓ_j (one power-0 sum) and Σ w²M²; the objective only adds them. The per-row Hessian low-rank
/// parts are applied inside the shards, hence LowRankCount = 0, and there is no row sampling.
/// Globals = [Σ_j ℓ_j]: the shards do not need any global scalar.
/// </summary>
public sealed class MatrixObjective : IObjective
{
    /// <summary>
    /// Largest d² for which the exact Hessian (d²×d², a GramRequest) of a matrix problem is formed: d = 64, a 67 MB
    /// packed reply. Shards refuse a Gram request above it and the solver choice refuses exact Newton above it.
    /// </summary>
    public const int MaxGramUnknowns = 4096;

    public string Name { get; }
    /// <summary>The vector family applied to each row z_j.</summary>
    public IVectorFamily RowFamily { get; }
    /// <summary>Side d of X.</summary>
    public int Side { get; }
    public int Dimension { get; }
    public long Rows { get; }
    public int LowRankCount => 0;
    public bool SupportsRowSampling => false;

    public MatrixObjective(string name, IVectorFamily rowFamily, int side, long rows)
    {
        if (side < 1) throw new ArgumentOutOfRangeException(nameof(side), "X must be at least 1×1");
        if ((long)side * side > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(side), $"X {side}×{side} has too many unknowns");
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), "rows must be ≥ 0");
        Name = name; RowFamily = rowFamily; Side = side; Dimension = side * side; Rows = rows;
    }

    public PointEvaluation Evaluate(double[] x, ScalarsReply merged, double[]? reference = null)
    {
        var sums = merged.Family;
        if (sums.Sums.Length != 1 || sums.Powers[0] != 0)
            throw new ArgumentException($"{Name}: expected the one finished-loss sum of matrix shards, got {sums.Sums.Length} sums");
        double loss = sums.Sums[0];
        return new PointEvaluation(x, loss + 0.5 * merged.RegularizerSum, new[] { loss });
    }

    public double[] LowRankCoefficients(double[] globals, HessianKind kind) => Array.Empty<double>();

    /// <summary>
    /// ∇L from a one-pass trial (<see cref="ScalarsRequest.WithGradient"/>): every row's gradient needs only its own
    /// normaliser, so the shards' merged sums A1ᵀ G A2 (d² values, in the reply's gradient basis) are ∇L itself and no
    /// reference is involved; null when the shards answered the loss alone (a family without fused row operators).
    /// </summary>
    public double[]? FusedGradient(PointEvaluation point, ScalarsReply merged, double[] reference) =>
        merged.GradientBasis.Length == Dimension ? (double[])merged.GradientBasis.Clone() : null;

    /// <summary>Line-search and trust-region trials ask for the gradient in the same pass; shards that cannot add it
    /// answer the loss alone and the solver asks for the gradient as before.</summary>
    public bool SupportsFusedPass => true;

    /// <summary>x0's first request carries ∇L(x0) too: the merged sums need no reference.</summary>
    public bool OnePassWithoutReference => true;
}
