using DistSoftmax.Core.Random;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// The Lanczos process with full reorthogonalisation, one step at a time, for a symmetric operator on R^dim known only
/// through products: from a seeded N(0, 1) unit q₁ (stream (seed, <paramref name="startStream"/>)), step k adds q_k
/// to the orthonormal basis Q_k, forms w = Op q_k, α_k = ⟨w, q_k⟩, and removes from w its components along every basis
/// vector twice ("twice is enough"); β_k = ‖w‖ and q_{k+1} = w/β_k. T_k = Q_kᵀ Op Q_k is the tridiagonal of
/// <see cref="Alpha"/> (diagonal) and <see cref="Beta"/> (off-diagonal). The callers decide convergence from T_k's
/// Ritz pairs: <see cref="ExtremeEigenvalues"/> (both extremes) and <c>Sensitivity.OperatorNorm</c> (the largest pair).
/// Memory: the basis, steps × dim values.
/// </summary>
internal sealed class LanczosBasis(int dim, ulong seed, ulong startStream)
{
    private double[] _next = UnitStart(dim, seed, startStream);
    private double[]? _w;

    /// <summary>Q_k, one unit vector per step taken.</summary>
    public List<double[]> Vectors { get; } = new();
    /// <summary>α₁ … α_k.</summary>
    public List<double> Alpha { get; } = new();
    /// <summary>β₁ … β_{k−1} (β_k joins when <see cref="Advance"/> moves to the next vector).</summary>
    public List<double> Beta { get; } = new();

    /// <summary>
    /// One step: adds the current vector to the basis and returns β = ‖w‖ of the reorthogonalised product, with
    /// ‖Op q_k‖ (before the reorthogonalisation, the scale against which a vanishing β means an invariant space).
    /// </summary>
    public (double Beta, double ProductNorm) Step(Func<double[], double[]> op)
    {
        var q = _next;
        Vectors.Add(q);
        var w = op(q);
        Alpha.Add(SpanMath.Dot(w, q));
        double productNorm = SpanMath.Norm(w);
        for (int pass = 0; pass < 2; pass++)
            foreach (var v in Vectors) SpanMath.MultiplyAdd(v, -SpanMath.Dot(w, v), w, w);
        _w = w;
        return (SpanMath.Norm(w), productNorm);
    }

    /// <summary>Records β of the last <see cref="Step"/> and makes q_{k+1} = w/β the next vector.</summary>
    public void Advance(double beta)
    {
        var w = _w ?? throw new InvalidOperationException("Advance needs a Step first");
        Beta.Add(beta);
        SpanMath.Multiply(w, 1.0 / beta, w);
        _next = w;
        _w = null;
    }

    /// <summary>A seeded N(0, 1) vector on R^dim, normalised.</summary>
    public static double[] UnitStart(int dim, ulong seed, ulong startStream)
    {
        var q = new double[dim];
        Rng.ForStream(seed, startStream).FillNormal(q);
        SpanMath.Multiply(q, 1.0 / SpanMath.Norm(q), q);
        return q;
    }
}
