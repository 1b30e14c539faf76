using DistSoftmax.Core;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Kernels;

/// <summary>Small dense d×d algebra on row-major arrays for the coordinator side of a solver.</summary>
public static class DenseAlgebra
{
    /// <summary>
    /// In-place Cholesky H = L Lᵀ of a symmetric d×d row-major matrix (L left in the lower triangle; H read from its
    /// lower triangle). Returns false, leaving h partly overwritten, when H is not numerically positive definite. From
    /// <see cref="NativeCholeskyMinDimension"/> on by OpenBLAS's dpotrf where present (the trust region factors
    /// H + λI several times an iteration with it: this loop took 31 ms at d = 1000 against dpotrf's 13 ms).
    /// </summary>
    public static bool TryCholesky(Span<double> h, int d)
    {
        if (d >= NativeCholeskyMinDimension && NativeBlas.CholeskyLower(h, d) is bool native) return native;
        for (int j = 0; j < d; j++)
        {
            var rowJ = h.Slice(j * d, j);
            double s = h[j * d + j] - SpanMath.Dot(rowJ, rowJ);
            if (!(s > 0) || double.IsNaN(s)) return false;
            double ljj = Math.Sqrt(s);
            h[j * d + j] = ljj;
            for (int i = j + 1; i < d; i++)
            {
                double t = h[i * d + j] - SpanMath.Dot(h.Slice(i * d, j), rowJ);
                h[i * d + j] = t / ljj;
            }
        }
        return true;
    }

    /// <summary>The order from which <see cref="TryCholesky"/> calls OpenBLAS (below, the loop costs microseconds).</summary>
    public const int NativeCholeskyMinDimension = 64;

    /// <summary>Solves L Lᵀ x = b given the Cholesky factor from <see cref="TryCholesky"/>.</summary>
    public static double[] CholeskySolve(ReadOnlySpan<double> l, int d, ReadOnlySpan<double> b)
    {
        var y = b.ToArray();
        for (int i = 0; i < d; i++)
            y[i] = (y[i] - SpanMath.Dot(l.Slice(i * d, i), y.AsSpan(0, i))) / l[i * d + i];
        // Lᵀx = y by rows of L: x_k = y_k / L_kk, then y_{0…k−1} −= L_k,{0…k−1} x_k (contiguous, not down columns).
        for (int k = d - 1; k >= 0; k--)
        {
            double xk = y[k] /= l[k * d + k];
            if (xk != 0 && k > 0) SpanMath.MultiplyAdd(l.Slice(k * d, k), -xk, y.AsSpan(0, k), y.AsSpan(0, k));
        }
        return y;
    }

    /// <summary>Relative damping of <see cref="DampedCholesky"/>: tiny, so a well-posed system is unchanged.</summary>
    private const double GramRelativeDamping = 1e-12;

    /// <summary>Attempts of <see cref="DampedCholesky"/> with growing damping.</summary>
    private const int GramFactorAttempts = 8;

    /// <summary>Factor by which <see cref="TryDampedCholesky"/>'s damping grows while the matrix does not factor.</summary>
    public const double DampingGrowth = 100;

    /// <summary>tr(H)/d of a d×d row-major matrix.</summary>
    public static double MeanDiagonal(ReadOnlySpan<double> h, int d)
    {
        double trace = 0;
        for (int i = 0; i < d; i++) trace += h[i * d + i];
        return trace / d;
    }

    /// <summary>
    /// The Cholesky factor (lower, row-major) of H + δI for the symmetric d×d <paramref name="h"/>, with δ the first of
    /// <paramref name="initialDamping"/>, ×<see cref="DampingGrowth"/>, … (<paramref name="attempts"/> tries) for which
    /// it factors; null when none does.
    /// </summary>
    public static double[]? TryDampedCholesky(ReadOnlySpan<double> h, int d, double initialDamping, int attempts)
    {
        double damping = initialDamping;
        for (int attempt = 0; attempt < attempts; attempt++, damping *= DampingGrowth)
        {
            var factor = h.ToArray();
            for (int i = 0; i < d; i++) factor[i * d + i] += damping;
            if (TryCholesky(factor, d)) return factor;
        }
        return null;
    }

    /// <summary>
    /// The Cholesky factor (lower, row-major) of the symmetric positive semi-definite d×d <paramref name="gram"/>
    /// damped by 1e-12·mean(diag), and by 100 times more until it factors (a rank-deficient Gram).
    /// </summary>
    public static double[] DampedCholesky(ReadOnlySpan<double> gram, int d)
    {
        double mean = MeanDiagonal(gram, d);
        return TryDampedCholesky(gram, d, GramRelativeDamping * (mean > 0 ? mean : 1.0), GramFactorAttempts)
               ?? throw new InvalidOperationException("a Gram matrix does not factor even with damping (non-finite data?)");
    }

    /// <summary>G⁻¹ S for the Cholesky factor L of G (G = L Lᵀ) and S (d×d row-major), a column at a time.</summary>
    public static double[] CholeskyLeftSolve(ReadOnlySpan<double> factor, int d, ReadOnlySpan<double> s)
    {
        var x = new double[d * d];
        var column = new double[d];
        for (int c = 0; c < d; c++)
        {
            for (int r = 0; r < d; r++) column[r] = s[r * d + c];
            var solved = CholeskySolve(factor, d, column);
            for (int r = 0; r < d; r++) x[r * d + c] = solved[r];
        }
        return x;
    }

    /// <summary>S G⁻¹ for the Cholesky factor L of the symmetric G and S (d×d row-major): row r of S G⁻¹ is G⁻¹ S_rᵀ.</summary>
    public static double[] CholeskyRightSolve(ReadOnlySpan<double> factor, int d, ReadOnlySpan<double> s)
    {
        var x = new double[d * d];
        for (int r = 0; r < d; r++) CholeskySolve(factor, d, s.Slice(r * d, d)).CopyTo(x.AsSpan(r * d, d));
        return x;
    }

    /// <summary>Smallest and largest eigenvalue of a symmetric d×d row-major matrix.</summary>
    public static (double Min, double Max) EigenvalueRange(ReadOnlySpan<double> h, int d)
    {
        var values = SymmetricEigenvalues(h, d);
        return (values[0], values[^1]);
    }

    /// <summary>
    /// The eigenvalues of a symmetric d×d row-major matrix, ascending: OpenBLAS's dsyevd when Debian's libopenblas is
    /// present (<see cref="NativeBlas.SymmetricEigenvalues"/>), else MathNet's managed decomposition.
    /// </summary>
    public static double[] SymmetricEigenvalues(ReadOnlySpan<double> h, int d)
    {
        if (NativeBlas.SymmetricEigenvalues(h, d) is { } native) return native;
        var copy = h.ToArray();
        var m = Matrix<double>.Build.Dense(d, d, (i, j) => copy[i * d + j]);
        var values = m.Evd(Symmetricity.Symmetric).EigenValues.Select(e => e.Real).ToArray();
        Array.Sort(values);
        return values;
    }

    /// <summary>
    /// Solves H p = r for a symmetric H that may be indefinite or singular. A positive-definite H is solved by
    /// Cholesky (<see cref="TryCholesky"/>: OpenBLAS's dpotrf where present, else managed, blocked and multi-threaded
    /// from <see cref="BlockedCholesky.MinBlockedDimension"/> on); only when that (or its solve) fails is the
    /// eigen-decomposition computed. Otherwise H is replaced by |H| = V |Λ| Vᵀ with eigenvalues floored at 1e-10·max|λ|
    /// ("saddle-free" Newton): the step keeps Newton's scaling along every eigenvector but never climbs along
    /// negative curvature. Returns the solution and the most negative eigenvalue that was modified (0 when none).
    /// </summary>
    public static (double[] Solution, double Modification) SolveModified(ReadOnlySpan<double> h, int d, ReadOnlySpan<double> r)
    {
        // In the kept d×d scratch (SquareScratch): a new array each iteration cost more in page faults than the factorisation.
        var work = SquareScratch.Rent(d);
        try
        {
            h[..(d * d)].CopyTo(work);
            // TryCholesky is OpenBLAS's dpotrf from NativeCholeskyMinDimension on (0.9 ms at d = 400 against the managed
            // blocked factorisation's 2.2 ms); without the library the blocked one takes the large orders.
            bool positiveDefinite = !NativeBlas.CholeskyAvailable && d >= BlockedCholesky.MinBlockedDimension
                ? BlockedCholesky.Factor(work, d, Environment.ProcessorCount)
                : TryCholesky(work, d);
            if (positiveDefinite && CholeskySolve(work, d, r) is var p && p.All(double.IsFinite)) return (p, 0.0);
        }
        finally
        {
            SquareScratch.Return(work);
        }
        return SaddleFree(h, d, r);
    }

    /// <summary>The saddle-free step V |Λ|⁻¹ Vᵀ r (eigenvalues floored at 1e-10·max|λ|) and the most negative eigenvalue (0 if none).</summary>
    private static (double[] Solution, double Modification) SaddleFree(ReadOnlySpan<double> h, int d, ReadOnlySpan<double> r)
    {
        foreach (var v in h)
            if (!double.IsFinite(v)) throw new ArgumentException("the Hessian has non-finite entries");
        var eigen = SymmetricEigen.Of(h, d);
        var vals = eigen.Values;
        double max = Math.Max(Math.Abs(vals[0]), Math.Abs(vals[^1])), floor = Math.Max(1e-10 * max, NumericLimits.Tiny);
        var coords = eigen.Coordinates(r);
        for (int i = 0; i < d; i++) coords[i] /= Math.Max(Math.Abs(vals[i]), floor);
        return (eigen.Combine(coords), Math.Min(vals[0], 0.0));
    }

    /// <summary>
    /// R factor (d×d, row-major upper) of a thin QR of an m×d row-major matrix (m ≥ d), by Householder
    /// reflections on a column-major copy (contiguous columns, vectorised dots and updates); Q is never formed.
    /// Reflection k maps column k below the diagonal onto α e_k with α = −sign(x₀)‖x‖, so R_kk = α (signs of the
    /// diagonal may differ from other QR codes; RᵀR = AᵀA either way).
    /// </summary>
    public static double[] QrR(ReadOnlySpan<double> a, int m, int d)
    {
        if (m < d) throw new ArgumentException($"QR needs at least as many rows as columns ({m} < {d})");
        var cols = new double[(long)m * d <= int.MaxValue ? m * d : throw new ArgumentException("matrix too large for QR")];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < d; j++) cols[j * m + i] = a[i * d + j];
        var r = new double[d * d];
        for (int k = 0; k < d; k++)
        {
            var v = cols.AsSpan(k * m + k, m - k);
            double norm = SpanMath.Norm(v);
            if (norm == 0)
            {
                for (int j = k + 1; j < d; j++) r[k * d + j] = cols[j * m + k];
                continue;
            }
            double alpha = v[0] > 0 ? -norm : norm;
            v[0] -= alpha;                                          // v = x − α e₁, ‖v‖² = 2‖x‖(‖x‖ + |x₀|)
            double vv = SpanMath.Dot(v, v);
            r[k * d + k] = alpha;
            for (int j = k + 1; j < d; j++)
            {
                var c = cols.AsSpan(j * m + k, m - k);
                double scale = -2 * SpanMath.Dot(v, c) / vv;
                SpanMath.MultiplyAdd(v, scale, c, c);       // c −= 2 v (vᵀc)/‖v‖²
                r[k * d + j] = c[0];
            }
        }
        return r;
    }

    /// <summary>
    /// L⁻ᵀ, upper triangular (d×d, row-major), for the lower Cholesky factor L of <see cref="TryCholesky"/> (only its
    /// lower triangle is read): A·L⁻ᵀ has orthonormal columns when AᵀA = L Lᵀ, and L⁻ᵀ (L⁻ᵀ)ᵀ = (L Lᵀ)⁻¹. O(d³) once.
    /// </summary>
    public static double[] InverseTransposedFactor(ReadOnlySpan<double> lower, int d)
    {
        var upper = new double[d * d];   // R = Lᵀ
        var identity = new double[d * d];
        for (int i = 0; i < d; i++)
        {
            identity[i * d + i] = 1;
            for (int j = i; j < d; j++) upper[i * d + j] = lower[j * d + i];
        }
        return UpperTriangularSolve(upper, d, identity, d);
    }

    /// <summary>
    /// (L Lᵀ)⁻¹ as a dense symmetric d×d matrix for the lower Cholesky factor L: L⁻ᵀ (L⁻ᵀ)ᵀ by one product, so that
    /// applying the inverse to many right-hand sides is a matrix product instead of two triangular solves each.
    /// </summary>
    public static double[] InverseFromFactor(ReadOnlySpan<double> lower, int d)
    {
        var inverseT = InverseTransposedFactor(lower, d);
        var inverse = new double[d * d];
        MatrixProducts.Gemm(d, d, d, inverseT, d, MatrixProducts.Transpose(inverseT, d, d), d, inverse, d, false);
        return inverse;
    }

    /// <summary>Solves R X = B for upper-triangular R (d×d) and B (d×k), both row-major.</summary>
    public static double[] UpperTriangularSolve(ReadOnlySpan<double> r, int d, ReadOnlySpan<double> b, int k)
    {
        var x = b.ToArray();
        for (int i = d - 1; i >= 0; i--)
        {
            for (int c = 0; c < k; c++)
            {
                double s = x[i * k + c];
                for (int j = i + 1; j < d; j++) s -= r[i * d + j] * x[j * k + c];
                x[i * k + c] = s / r[i * d + i];
            }
        }
        return x;
    }

    /// <summary>y = H v for a symmetric d×d row-major H.</summary>
    public static double[] Multiply(ReadOnlySpan<double> h, int d, ReadOnlySpan<double> v)
    {
        var y = new double[d];
        for (int i = 0; i < d; i++) y[i] = SpanMath.Dot(h.Slice(i * d, d), v);
        return y;
    }
}
