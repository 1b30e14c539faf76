using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Core.Shards;

/// <summary>
/// A Poisson sample of a shard's rows by leverage score, for sums over rows that may be estimated (the sampled
/// Kronecker factors, docs/MATH.md "Sampled Kronecker factors"). The leverage score of row j of A (rows×d) is
/// ℓ_j = a_jᵀ (AᵀA)⁻¹ a_j, with Σ_j ℓ_j = rank A ≤ d. Row j is kept with probability
///   p_j = min(1, s·(½ ℓ_j / Σℓ + ½ / rows)),   s = share·rows (the expected sample, before the cap at 1),
/// half by leverage and half uniformly, so that rows of small leverage whose other terms matter still have a chance;
/// it is kept when a uniform draw keyed by the seed and its global row index falls below p_j (the draw does not depend
/// on how the rows are split into blocks or threads), and weighted 1/p_j: Σ_kept X_j / p_j is an unbiased estimate of
/// Σ_j X_j for any row quantities X_j.
/// </summary>
public static class LeverageRowSample
{
    /// <summary>The share of p_j given by the leverage scores (the rest is uniform).</summary>
    public const double LeverageWeight = 0.5;

    /// <summary>
    /// ℓ_j for every row of A (rows×d, row-major, with its transpose aT, d×rows): the squared row norms of A R⁻¹, where
    /// AᵀA = RᵀR (Cholesky, damped where A is rank-deficient), whose columns are orthonormal — one d×d triangular
    /// inverse and one rows×d×d product.
    /// </summary>
    public static double[] Scores(ReadOnlySpan<double> a, ReadOnlySpan<double> aT, int rows, int d)
    {
        var gram = new double[d * d];
        MatrixProducts.Gemm(d, d, rows, aT, rows, a, d, gram, d, false);
        var inverse = DenseAlgebra.InverseTransposedFactor(DenseAlgebra.DampedCholesky(gram, d), d);   // R⁻¹ = L⁻ᵀ
        var orthonormal = new double[(long)rows * d];
        MatrixProducts.Gemm(rows, d, d, a, d, inverse, d, orthonormal, d, false);
        var scores = new double[rows];
        for (int j = 0; j < rows; j++)
        {
            var row = orthonormal.AsSpan(j * d, d);
            scores[j] = SpanMath.Dot(row, row);
        }
        return scores;
    }

    /// <summary>
    /// The rows kept (ascending) and their weights 1/p_j, for leverage <paramref name="scores"/> of rows whose first has
    /// global index <paramref name="rowOffset"/>, an expected share in (0, 1] and a stream seed
    /// (<see cref="Rng.StreamSeed"/>).
    /// </summary>
    public static (int[] Rows, double[] Weights) Draw(ReadOnlySpan<double> scores, double share, ulong seed, long rowOffset)
    {
        if (!(share > 0 && share <= 1)) throw new ArgumentOutOfRangeException(nameof(share), share, "a row share must be in (0, 1]");
        int rows = scores.Length;
        double total = 0;
        foreach (double s in scores) total += s;
        double expected = share * rows;
        var kept = new List<int>();
        var weights = new List<double>();
        for (int j = 0; j < rows; j++)
        {
            double leverage = total > 0 ? scores[j] / total : 1.0 / rows;
            double p = Math.Min(1.0, expected * (LeverageWeight * leverage + (1 - LeverageWeight) / rows));
            if (!(p > 0) || Rng.UniformForRow(seed, (ulong)(rowOffset + j)) >= p) continue;
            kept.Add(j);
            weights.Add(1.0 / p);
        }
        return (kept.ToArray(), weights.ToArray());
    }
}
