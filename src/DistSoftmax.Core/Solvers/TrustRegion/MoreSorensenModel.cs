using DistSoftmax.Core;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers.TrustRegion;

/// <summary>
/// The trust-region subproblem min_p gᵀp + ½pᵀHp, ‖p‖ ≤ Δ, on an explicit symmetric d×d H, solved nearly exactly
/// in the way of Moré and Sorensen (1983; Nocedal &amp; Wright, Algorithm 4.3). The solution is p(λ) = −(H + λI)⁻¹g
/// for the λ ≥ max(0, −λ_min(H)) with λ(‖p(λ)‖ − Δ) = 0:
///   • if H is positive definite and the Newton step −H⁻¹g lies inside the ball, it is the answer (one Cholesky);
///   • otherwise λ is found by safeguarded Newton iterations on φ(λ) = 1/‖p(λ)‖ − 1/Δ, each one Cholesky of H + λI:
///     λ ← λ + (‖p‖/‖q‖)²(‖p‖ − Δ)/Δ with L q = p, kept inside a bracket [λ_L, λ_U] that starts from Gershgorin bounds
///     and tightens with every iterate (a failed Cholesky raises λ_L);
///   • the "hard case" (g nearly orthogonal to the eigenvectors of λ_min, where ‖p(λ)‖ &lt; Δ for every admissible λ),
///     or a bracket that closes without convergence, falls back to the eigen-decomposition H = QΛQᵀ, which solves
///     the secular equation Σ_i (q_iᵀg)²/(λ_i + λ)² = Δ² exactly and adds τ·q_min to reach the boundary.
/// The Newton step and the eigen-decomposition are cached, so re-solving for a smaller radius after a rejected step
/// costs at most a few Cholesky factorisations.
/// </summary>
public sealed class MoreSorensenModel : ITrustRegionModel
{
    /// <summary>A boundary step is accepted when |‖p‖ − Δ| ≤ this·Δ.</summary>
    public const double BoundaryTolerance = 0.05;
    /// <summary>Cholesky-based λ iterations before the eigen-decomposition takes over.</summary>
    public const int MaxLambdaIterations = 30;
    /// <summary>Safeguard: a λ outside the bracket is replaced by max(√(λ_L λ_U), λ_L + this·(λ_U − λ_L)).</summary>
    public const double BracketFraction = 0.01;
    /// <summary>Relative width at which the bracket counts as closed.</summary>
    public const double BracketClosed = 1e-12;

    private readonly double[] _h;
    private readonly double[] _g;
    private readonly int _d;
    private readonly double _gNorm;
    private readonly double[]? _newtonStep;
    private readonly double _newtonNorm;
    private (double[] Values, SymmetricEigen Vectors, double[] GInBasis)? _eigen;

    /// <summary>Any radius: the subproblem is solved afresh for each.</summary>
    public double Radius => double.PositiveInfinity;

    /// <param name="hessian">Symmetric d×d, row-major (not modified).</param>
    /// <param name="gradient">d values.</param>
    /// <param name="rowsSampled">Rows sampled to build the Hessian (reported, not used).</param>
    public MoreSorensenModel(double[] hessian, double[] gradient, long rowsSampled = 0)
    {
        _d = gradient.Length;
        if (hessian.Length != _d * _d) throw new ArgumentException($"the Hessian has {hessian.Length} entries, not {_d}×{_d}");
        foreach (var v in hessian)
            if (!double.IsFinite(v)) throw new ArgumentException("the Hessian has non-finite entries");
        _h = hessian;
        _g = gradient;
        _gNorm = SpanMath.Norm(gradient);
        RowsSampled = rowsSampled;
        var factor = (double[])hessian.Clone();
        if (DenseAlgebra.TryCholesky(factor, _d))
        {
            _newtonStep = DenseAlgebra.CholeskySolve(factor, _d, Negate(gradient));
            _newtonNorm = SpanMath.Norm(_newtonStep);
        }
    }

    public long RowsSampled { get; }

    public TrustRegionStep Solve(double radius)
    {
        if (!(radius > 0)) throw new ArgumentOutOfRangeException(nameof(radius), "the trust radius must be > 0");
        if (_gNorm == 0 && _newtonStep is not null) return Step(new double[_d], false, 0);
        if (_newtonStep is not null && _newtonNorm <= radius) return Step((double[])_newtonStep, false, 0);
        return SolveByCholesky(radius) ?? SolveByEigen(radius);
    }

    /// <summary>Safeguarded Newton iterations on λ; null when they do not settle (the hard case) or the bracket closes.</summary>
    private TrustRegionStep? SolveByCholesky(double radius)
    {
        double minDiagonal = double.PositiveInfinity, norm1 = 0;
        for (int i = 0; i < _d; i++)
        {
            minDiagonal = Math.Min(minDiagonal, _h[i * _d + i]);
            double row = 0;
            for (int j = 0; j < _d; j++) row += Math.Abs(_h[i * _d + j]);
            norm1 = Math.Max(norm1, row);
        }
        // Every eigenvalue lies in [−‖H‖₁, ‖H‖₁] and λ_min ≤ min_i H_ii, so λ* ≥ −min_i H_ii; ‖p(λ)‖ ≤ ‖g‖/(λ + λ_min).
        double lower = Math.Max(0, Math.Max(-minDiagonal, _gNorm / radius - norm1));
        double upper = _gNorm / radius + norm1;
        if (!(upper > lower)) upper = lower + Math.Max(1, lower);
        double lambda = _newtonStep is not null ? 0 : Safeguard(lower, upper);
        var shifted = new double[_d * _d];
        for (int iteration = 0; iteration < MaxLambdaIterations; iteration++)
        {
            Array.Copy(_h, shifted, shifted.Length);
            for (int i = 0; i < _d; i++) shifted[i * _d + i] += lambda;
            if (!DenseAlgebra.TryCholesky(shifted, _d))
            {
                lower = Math.Max(lower, lambda);
                lambda = Safeguard(lower, upper);
                if (upper - lower <= BracketClosed * upper) return null;
                continue;
            }
            var p = DenseAlgebra.CholeskySolve(shifted, _d, Negate(_g));
            double pNorm = SpanMath.Norm(p);
            if (Math.Abs(pNorm - radius) <= BoundaryTolerance * radius) return Step(p, true, 0);
            if (pNorm < radius) upper = lambda; else lower = lambda;
            // Newton's step on φ(λ) = 1/‖p‖ − 1/Δ: φ'(λ) = −‖q‖²/‖p‖³ with L q = p.
            var q = ForwardSolve(shifted, p);
            double qNorm = SpanMath.Norm(q);
            double next = lambda + (pNorm / qNorm) * (pNorm / qNorm) * (pNorm - radius) / radius;
            lambda = next > lower && next < upper ? next : Safeguard(lower, upper);
            if (upper - lower <= BracketClosed * upper) return null;
        }
        return null;
    }

    private static double Safeguard(double lower, double upper) =>
        Math.Max(Math.Sqrt(lower * upper), lower + BracketFraction * (upper - lower));

    /// <summary>The exact solution from H = QΛQᵀ, including the hard case.</summary>
    private TrustRegionStep SolveByEigen(double radius)
    {
        var (values, vectors, c) = _eigen ??= Decompose();
        int minIndex = 0;
        for (int i = 1; i < _d; i++) if (values[i] < values[minIndex]) minIndex = i;
        double lambdaMin = values[minIndex];
        double negative = Math.Min(lambdaMin, 0);
        double scale = Math.Max(values.Max(Math.Abs), NumericLimits.Tiny);
        double floor = Math.Max(-lambdaMin, 0);
        // Coefficients of the eigenvectors whose eigenvalue equals λ_min (to rounding) are the hard-case ones.
        double degenerate = 1e-12 * scale;
        double NormAt(double lambda)
        {
            double s = 0;
            for (int i = 0; i < _d; i++)
            {
                double den = values[i] + lambda;
                if (Math.Abs(values[i] - lambdaMin) <= degenerate && Math.Abs(c[i]) <= 1e-14 * _gNorm) continue;
                s += c[i] * c[i] / (den * den);
            }
            return Math.Sqrt(s);
        }
        double lo = floor, hi = floor + _gNorm / radius + scale;
        bool hard = true;
        for (int i = 0; i < _d; i++)
            if (Math.Abs(values[i] - lambdaMin) <= degenerate && Math.Abs(c[i]) > 1e-14 * _gNorm) hard = false;
        if (hard && NormAt(floor) <= radius)
        {
            // Hard case: p = −Σ_{λ_i > λ_min} c_i/(λ_i − λ_min) q_i + τ q_min with ‖p‖ = Δ.
            var coords = new double[_d];
            for (int i = 0; i < _d; i++)
                if (!(Math.Abs(values[i] - lambdaMin) <= degenerate)) coords[i] = -c[i] / (values[i] + floor);
            double inside = SpanMath.Norm(coords);
            coords[minIndex] += Math.Sqrt(Math.Max(radius * radius - inside * inside, 0));
            return Step(ToStandardBasis(vectors, coords), true, negative);
        }
        // ‖p(λ)‖ decreases from +∞ (at λ = −λ_min, or large at 0) to 0: bisection on log-scale with Newton acceleration.
        for (int iteration = 0; iteration < 200 && hi - lo > BracketClosed * hi; iteration++)
        {
            double mid = lo > 0 ? Math.Sqrt(lo * hi) : 0.5 * (lo + hi);
            if (NormAt(mid) > radius) lo = mid; else hi = mid;
        }
        double lambdaStar = hi;
        var p = new double[_d];
        for (int i = 0; i < _d; i++) p[i] = -c[i] / (values[i] + lambdaStar);
        return Step(ToStandardBasis(vectors, p), true, negative);
    }

    private (double[], SymmetricEigen, double[]) Decompose()
    {
        var eigen = SymmetricEigen.Of(_h, _d);
        return (eigen.Values, eigen, eigen.Coordinates(_g));
    }

    private static double[] ToStandardBasis(SymmetricEigen vectors, double[] coords) => vectors.Combine(coords);

    /// <summary>Solves L q = p for the Cholesky factor L in the lower triangle of <paramref name="l"/>.</summary>
    private double[] ForwardSolve(double[] l, double[] p)
    {
        var q = (double[])p.Clone();
        for (int i = 0; i < _d; i++)
            q[i] = (q[i] - SpanMath.Dot(l.AsSpan(i * _d, i), q.AsSpan(0, i))) / l[i * _d + i];
        return q;
    }

    /// <summary>The step with its predicted decrease −(gᵀp + ½pᵀHp).</summary>
    private TrustRegionStep Step(double[] p, bool onBoundary, double negativeCurvature)
    {
        var hp = DenseAlgebra.Multiply(_h, _d, p);
        double model = SpanMath.Dot(_g, p) + 0.5 * SpanMath.Dot(p, hp);
        return new TrustRegionStep(p, -model, onBoundary, negativeCurvature);
    }

    private static double[] Negate(double[] v)
    {
        var r = new double[v.Length];
        SpanMath.Negate(v, r);
        return r;
    }
}
