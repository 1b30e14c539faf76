using System.Numerics.Tensors;
using DistSoftmax.Core.Random;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Analysis;

/// <summary>
/// Extreme eigenvalues of a symmetric operator H (dim×dim, known only through products H·v) by the Lanczos process
/// with full re-orthogonalisation: from a random unit q₁, k steps build an orthonormal Q_k and the tridiagonal
/// T_k = Q_kᵀ H Q_k (α on the diagonal, β off it); the eigenvalues of T_k (Ritz values) satisfy
///   λ_min(H) ≤ θ_min(T_k),   θ_max(T_k) ≤ λ_max(H)      (Cauchy interlacing: Q_kᵀHQ_k is a compression of H),
/// and reach them as k → dim (exactly at k = dim in exact arithmetic). So θ_min is an upper bound on λ_min and θ_max
/// a lower bound on λ_max; the extremes converge first. Each step costs one product (one pass over the shards).
/// </summary>
public static class Lanczos
{
    /// <summary>A β below this times ‖H q‖ ends the process: the Krylov space is invariant and T_k is exact there.</summary>
    private const double BreakdownTolerance = 1e-12;

    /// <summary>The smallest and largest Ritz value after at most <paramref name="steps"/> products (fewer when dim is smaller).</summary>
    /// <param name="dim">Size of H.</param>
    /// <param name="multiply">v ↦ H·v (v is not modified; returns a new vector).</param>
    /// <param name="steps">Most Lanczos steps (products).</param>
    /// <param name="seed">Seed of the random start vector (stream (seed, 0, 7)).</param>
    public static (double Min, double Max, int Steps) Extremes(int dim, Func<double[], double[]> multiply, int steps, ulong seed)
    {
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), "the operator must have at least one row");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), "at least one step is needed");
        int k = Math.Min(steps, dim);
        var rng = Rng.ForStream(seed, 0, StartStream);
        var q = new double[dim];
        for (int i = 0; i < dim; i++) q[i] = rng.NextNormal();
        TensorPrimitives.Divide(q, TensorPrimitives.Norm<double>(q), q);
        var basis = new List<double[]>(k);
        var alpha = new List<double>(k);
        var beta = new List<double>(k);
        for (int j = 0; j < k; j++)
        {
            basis.Add(q);
            var w = multiply(q);
            double a = TensorPrimitives.Dot<double>(w, q);
            alpha.Add(a);
            double scale = TensorPrimitives.Norm<double>(w);
            // Full re-orthogonalisation (twice: "twice is enough") against every basis vector; this also removes
            // α_j q_j and β_{j−1} q_{j−1}, the three-term recurrence's own terms.
            for (int pass = 0; pass < 2; pass++)
                foreach (var v in basis)
                    TensorPrimitives.MultiplyAdd(v, -TensorPrimitives.Dot<double>(w, v), w, w);
            double b = TensorPrimitives.Norm<double>(w);
            if (j == k - 1 || b <= BreakdownTolerance * Math.Max(scale, NumericLimits.Tiny)) break;
            beta.Add(b);
            q = new double[dim];
            TensorPrimitives.Divide(w, b, q);
        }
        int m = alpha.Count;
        var t = Matrix<double>.Build.Dense(m, m);
        for (int i = 0; i < m; i++)
        {
            t[i, i] = alpha[i];
            if (i + 1 < m) { t[i, i + 1] = beta[i]; t[i + 1, i] = beta[i]; }
        }
        var ritz = t.Evd(Symmetricity.Symmetric).EigenValues.Select(e => e.Real).ToArray();
        return (ritz.Min(), ritz.Max(), m);
    }

    /// <summary>Stream of the start vector's draws (purpose number, next to the solver's 1–3 and sensitivity's 6).</summary>
    public const ulong StartStream = 7;
}
