namespace DistSoftmax.Core.Kernels;

/// <summary>
/// λ_min and λ_max of a symmetric operator H on R^dim known only through products H q, from one Lanczos run with full
/// reorthogonalisation (<see cref="LanczosBasis"/>): from a seeded N(0, 1) unit q₁, k steps build an orthonormal Q_k and the tridiagonal
/// T_k = Q_kᵀ H Q_k (α on the diagonal, β off it). Its extreme eigenvalues θ_min ≥ λ_min and θ_max ≤ λ_max (Cauchy
/// interlacing) converge first; the Ritz pair (θ, Q_k s) has residual ‖H y − θ y‖ = β_k |s_k|, and |θ − λ| is at
/// most that residual (and about residual²/gap). Stops when both extreme residuals are at most
/// <see cref="RelativeTolerance"/>·max(|θ_min|, |θ_max|), when the Krylov space is invariant (β ≈ 0), or after
/// <see cref="MaxSteps"/> steps or the caller's limit (then <c>Converged</c> is false and the values are bounds: θ_min
/// above λ_min, θ_max below λ_max). Used by the sensitivity's Hessian solves and the post-solve analysis above its
/// exact-Hessian limit. Memory: the basis, steps × dim values (300 × 16384 doubles = 39 MB at d = 128).
/// </summary>
public static class ExtremeEigenvalues
{
    /// <summary>Ritz residual of both extreme pairs at which Lanczos stops, relative to the largest |θ|.</summary>
    public const double RelativeTolerance = 1e-8;

    /// <summary>Most Lanczos steps (products).</summary>
    public const int MaxSteps = 300;

    /// <summary>Random stream purpose of the start vector (next to sensitivity's 6 and <see cref="Sensitivity.OperatorNorm"/>'s 7).</summary>
    private const ulong StartStream = 8;

    /// <summary>Convergence is checked every step up to this Krylov dimension, then every <see cref="CheckInterval"/> steps.</summary>
    private const int EveryStepUpTo = 40, CheckInterval = 4;

    /// <param name="multiply">v ↦ H·v (v is not modified; returns a new vector).</param>
    /// <param name="dim">Size of H.</param>
    /// <param name="seed">Seed of the start vector.</param>
    /// <param name="maxSteps">Most steps (products); at most <see cref="MaxSteps"/> and dim.</param>
    public static (double Min, double Max, int Steps, bool Converged) Compute(Func<double[], double[]> multiply, int dim, ulong seed = 1,
        int maxSteps = MaxSteps)
    {
        if (dim < 1) throw new ArgumentException("the operator needs at least one dimension");
        if (maxSteps < 1) throw new ArgumentOutOfRangeException(nameof(maxSteps), "at least one step is needed");
        var lanczos = new LanczosBasis(dim, seed, StartStream);
        int limit = Math.Min(dim, Math.Min(maxSteps, MaxSteps));
        double lo = 0, hi = 0;
        for (int k = 0; k < limit; k++)
        {
            var (b, scale) = lanczos.Step(multiply);
            bool invariant = b <= 1e-12 * Math.Max(scale, NumericLimits.Tiny);
            bool last = k + 1 == limit;
            if (invariant || last || k < EveryStepUpTo || k % CheckInterval == 0)
            {
                var (values, lastRow) = Ritz(lanczos.Alpha, lanczos.Beta);
                int iMin = 0, iMax = 0;
                for (int i = 1; i < values.Length; i++)
                {
                    if (values[i] < values[iMin]) iMin = i;
                    if (values[i] > values[iMax]) iMax = i;
                }
                (lo, hi) = (values[iMin], values[iMax]);
                double tol = RelativeTolerance * Math.Max(Math.Max(Math.Abs(lo), Math.Abs(hi)), NumericLimits.Tiny);
                bool converged = invariant || k + 1 == dim
                                 || (b * Math.Abs(lastRow[iMin]) <= tol && b * Math.Abs(lastRow[iMax]) <= tol);
                if (converged) return (lo, hi, k + 1, true);
                if (last) return (lo, hi, k + 1, false);
            }
            lanczos.Advance(b);
        }
        return (lo, hi, lanczos.Vectors.Count, false);
    }

    /// <summary>The eigenvalues of T_k and the last component of each unit eigenvector.</summary>
    private static (double[] Values, double[] LastRow) Ritz(List<double> alpha, List<double> beta)
    {
        var (values, vectors) = SymmetricTridiagonal.Decompose(alpha, beta);
        int k = values.Length;
        var lastRow = new double[k];
        for (int i = 0; i < k; i++) lastRow[i] = vectors[k - 1, i];
        return (values, lastRow);
    }
}
