using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// H y = v without the dense Hessian: preconditioned conjugate gradients on Hessian-vector products at x*
/// (<see cref="HessianVectorProducts"/>; for a matrix problem M = F ⊗ G, the Kronecker-factored curvature, so
/// M⁻¹ vec(R) = vec(F⁻¹ R G⁻¹)). From y₀ = 0, r₀ = v, z = M⁻¹r, p = z, each step
///   α = ⟨r, z⟩ / ⟨p, H p⟩,  y += α p,  r −= α H p,  z = M⁻¹ r,  p = z + (⟨r, z⟩_new / ⟨r, z⟩_old) p,
/// until ‖r‖ ≤ <see cref="RelativeTolerance"/>·‖v‖; then the true residual v − H y is computed (one product) and must
/// be within <see cref="TrueResidualSlack"/> times that (else CG restarts from it). One product per step; memory a few
/// dim-vectors. CG needs H positive definite: the extreme eigenvalues (<see cref="ExtremeEigenvalues"/>, Lanczos on
/// the same products) are computed first and an indefinite or singular H is refused with a one-line error (the dense
/// solve, <see cref="DenseHessianSolve"/>, handles an indefinite H at small sizes). CG that does not reach the
/// tolerance in <see cref="MaxIterations"/> steps (counting the true-residual products' restarts) throws
/// <see cref="HessianSolveNotConvergedException"/>, and CG that meets non-positive curvature an ArgumentException: no inaccurate
/// solution is returned.
/// </summary>
public sealed class ConjugateGradientHessianSolve : HessianSolve
{
    /// <summary>Relative residual ‖v − H y‖/‖v‖ at which CG stops.</summary>
    public const double RelativeTolerance = 1e-10;

    /// <summary>The true residual may exceed the recursive one's tolerance by this factor (rounding in the recurrence).</summary>
    public const double TrueResidualSlack = 10;

    private readonly Func<double[], double[]> _multiply;
    private readonly Func<double[], double[]>? _precondition;
    private readonly int _dim;
    private readonly string _operator;

    /// <summary>The solve on the Hessian-vector products at x*, preconditioned by the Kronecker factors for a matrix problem.</summary>
    public ConjugateGradientHessianSolve(HessianVectorProducts products, ulong seed = 1)
        : this(products.Multiply, products.Dimension, products.KroneckerPreconditioner() is { } m ? r => m.Apply(r) : null, seed,
            products.IsMatrix ? "Kronecker-factored preconditioner" : "no preconditioner")
    {
    }

    /// <param name="multiply">v ↦ H v (dim values; must not modify v).</param>
    /// <param name="precondition">r ↦ M⁻¹ r for a symmetric positive definite M ≈ H, or null for none.</param>
    /// <param name="maxIterations">Most CG steps per solve; null: <see cref="DefaultMaxIterations"/>.</param>
    public ConjugateGradientHessianSolve(Func<double[], double[]> multiply, int dim, Func<double[], double[]>? precondition, ulong seed = 1,
        string preconditioner = "no preconditioner", int? maxIterations = null)
    {
        if (dim < 1) throw new ArgumentException("the Hessian needs at least one dimension");
        if (maxIterations < 1) throw new ParameterException(nameof(maxIterations), maxIterations, "must be at least 1");
        MaxIterations = maxIterations ?? DefaultMaxIterations(dim);
        _multiply = multiply;
        _precondition = precondition;
        _dim = dim;
        _operator = preconditioner;
        (Min, Max, LanczosSteps, LanczosConverged) = ExtremeEigenvalues.Compute(multiply, dim, seed);
        double scale = Math.Max(Math.Abs(Min), Math.Abs(Max));
        if (Math.Abs(Min) <= SingularRatio * scale) throw Singular(Min, Max);
        if (Min < 0)
            throw new ArgumentException(FormattableString.Invariant(
                $"the Hessian at x* is indefinite (eigenvalues in [{Min:0.000e+00}, {Max:0.000e+00}]): conjugate gradients need it positive definite; use the dense solve (--hessian-solve dense) at this size or add a regulariser (--w-scalar)"));
    }

    public override double Min { get; }
    public override double Max { get; }

    /// <summary>Lanczos steps of the eigenvalue range, and whether both extremes met <see cref="ExtremeEigenvalues.RelativeTolerance"/>.</summary>
    public int LanczosSteps { get; }
    public bool LanczosConverged { get; }

    /// <summary>CG iterations over all solves so far, and the number of solves.</summary>
    public long Iterations { get; private set; }
    public long Solves { get; private set; }

    /// <summary>Most CG steps per solve.</summary>
    public int MaxIterations { get; }

    /// <summary>The default step limit: twice the dimension (exact arithmetic needs at most dim), at least 100, at most 2000.</summary>
    public static int DefaultMaxIterations(int dim) => Math.Clamp(2 * dim, 100, 2000);

    public override bool PositiveDefinite => Min > 0;

    public override string Method => FormattableString.Invariant(
        $"conjugate gradients on Hessian-vector products ({_operator}, relative residual {RelativeTolerance:0e+00}); eigenvalues by Lanczos ({LanczosSteps} steps{(LanczosConverged ? "" : ", not converged: bounds")})");

    public override double[] Solve(ReadOnlySpan<double> v)
    {
        if (v.Length != _dim) throw new ArgumentException($"the right-hand side has {v.Length} entries, the Hessian is {_dim}×{_dim}");
        var b = v.ToArray();
        var y = new double[_dim];
        double bNorm = SpanMath.Norm(b);
        Solves++;
        if (bNorm == 0) return y;
        double target = RelativeTolerance * bNorm;
        var r = (double[])b.Clone();
        int steps = 0;
        double rNorm = bNorm;
        while (steps < MaxIterations)
        {
            // One CG run from the current residual r = v − H y.
            var z = Precondition(r);
            var p = (double[])z.Clone();
            double rz = SpanMath.Dot(r, z);
            while (steps < MaxIterations)
            {
                var hp = _multiply(p);
                steps++;
                double curvature = SpanMath.Dot(p, hp);
                if (!(curvature > 0))
                    throw new ArgumentException(FormattableString.Invariant(
                        $"conjugate gradients met non-positive curvature ⟨p, Hp⟩ = {curvature:0.000e+00} at step {steps}: the Hessian at x* is not positive definite; use the dense solve (--hessian-solve dense)"));
                double alpha = rz / curvature;
                SpanMath.MultiplyAdd(p, alpha, y, y);
                SpanMath.MultiplyAdd(hp, -alpha, r, r);
                rNorm = SpanMath.Norm(r);
                if (rNorm <= target) break;
                z = Precondition(r);
                double rzNew = SpanMath.Dot(r, z);
                SpanMath.MultiplyAdd(p, rzNew / rz, z, p);
                rz = rzNew;
            }
            // The recurrence's r drifts from v − H y by rounding: check the true residual.
            var hy = _multiply(y);
            SpanMath.Subtract(b, hy, r);
            rNorm = SpanMath.Norm(r);
            if (rNorm <= TrueResidualSlack * target)
            {
                Iterations += steps;
                return y;
            }
        }
        Iterations += steps;
        throw new HessianSolveNotConvergedException(FormattableString.Invariant(
            $"conjugate gradients on the Hessian at x* did not converge: relative residual {rNorm / bNorm:0.0e+00} after {steps} steps (tolerance {RelativeTolerance:0e+00}; eigenvalues in [{Min:0.000e+00}, {Max:0.000e+00}])"),
            rNorm / bNorm, steps);
    }

    private double[] Precondition(double[] r) => _precondition?.Invoke(r) ?? (double[])r.Clone();

    /// <summary>v ↦ H v, the product this solve runs on (counted in <see cref="Products"/>).</summary>
    public double[] Multiply(double[] v)
    {
        Products++;
        return _multiply(v);
    }

    /// <summary>Hessian-vector products asked through <see cref="Multiply"/> (the solves' own are in <see cref="Iterations"/>).</summary>
    public long Products { get; private set; }

    /// <summary>r ↦ M⁻¹r, the preconditioner of the solves, or null without one.</summary>
    public Func<double[], double[]>? Preconditioner => _precondition;
}
