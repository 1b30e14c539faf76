namespace DistSoftmax.Core.Shards;

/// <summary>
/// The regulariser ½‖diag(w) A x‖²: per-row weights w_i, one weight for every row, or none.
/// Shards use w_i² (added to the z-gradient as w²∘z and to the diagonal D).
/// </summary>
public sealed record Regularizer
{
    public double[]? Weights { get; }
    public double Scalar { get; }

    private Regularizer(double[]? weights, double scalar) { Weights = weights; Scalar = scalar; }

    public static readonly Regularizer None = new(null, 0.0);
    public static Regularizer Uniform(double w) => new(null, w);
    public static Regularizer PerRow(double[] w) => new(w, 0.0);

    public bool IsNone => Weights is null && Scalar == 0;

    /// <summary>The same regulariser restricted to rows [start, start+count).</summary>
    public Regularizer Slice(int start, int count) =>
        Weights is null ? this : new Regularizer(Weights.AsSpan(start, count).ToArray(), 0.0);

    /// <summary>w_i² for local row i.</summary>
    public double SquaredWeight(int i) => Weights is null ? Scalar * Scalar : Weights[i] * Weights[i];
}
