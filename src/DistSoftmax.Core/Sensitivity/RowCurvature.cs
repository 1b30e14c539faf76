using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The z-space derivatives of one whole row's loss ℓ(z; b) + ½‖w∘z‖² at fixed (z, b) (docs/MATH.md, "Sensitivity:
/// derivatives in the data"); n = the row's length. A vector problem is one row (z = Ax, all n rows of A); a matrix
/// problem has one per row j of M = A1 X A2ᵀ.
/// <list type="bullet">
/// <item><see cref="Residual"/> r = g + w²∘z = ∂L/∂z (n);</item>
/// <item><see cref="Curvature"/> K δz with K = ∇²_z ℓ + diag(w²) = diag(D + w²) + Σ_ab C_ab q_a q_bᵀ (exact kind, n×n, never formed);</item>
/// <item><see cref="OutputJacobian"/>: J_f δz for the model output f(z) (normalized: softmax, J_f = diag(f) − f fᵀ;
/// rescaled: u/U, J_f = (diag(u') − f u'ᵀ)/U; hyperbolic: u, J_f = diag(u'));</item>
/// <item><see cref="TargetDerivative"/>: (∂r/∂b) δb and its transpose (normalized: −(diag(f) − f fᵀ), symmetric;
/// rescaled: −U diag(u') + u'(U b − c)ᵀ; hyperbolic: −diag(u'));</item>
/// <item><see cref="TargetGradient"/>: ∂ℓ/∂b (normalized −c, rescaled −U c, hyperbolic −c).</item>
/// </list>
/// </summary>
public sealed class RowCurvature
{
    private readonly IVectorFamily _family;
    private readonly int _n, _k;
    private readonly double[] _diagonal, _q, _c, _b;
    /// <summary>Normalized: f; rescaled, hyperbolic: u(z) (n).</summary>
    private readonly double[] _value;
    /// <summary>Rescaled, hyperbolic: u'(z) (n); normalized: null.</summary>
    private readonly double[]? _slope;
    /// <summary>The residual c whose ½‖c‖² is ℓ (n).</summary>
    private readonly double[] _c0;
    /// <summary>Rescaled: U = ⟨u, 1⟩; otherwise 1.</summary>
    private readonly double _sum;

    /// <param name="squaredWeights">w² per entry of the row (n), or null for no regulariser.</param>
    public RowCurvature(IVectorFamily family, ReadOnlySpan<double> z, ReadOnlySpan<double> b, ReadOnlySpan<double> squaredWeights)
    {
        _family = family;
        _n = z.Length;
        _k = family.LowRankCount;
        _b = b.ToArray();
        var globals = family.Globals(family.LocalScalars(z, b, null), null);
        var g = new double[_n];
        _diagonal = new double[_n];
        _q = new double[_k * _n];
        family.RowTerms(z, b, globals, HessianKind.Exact, g, _diagonal, _q);
        _c = family.LowRankCoefficients(globals, HessianKind.Exact);
        Residual = g;
        if (!squaredWeights.IsEmpty)
        {
            // r = g + w²∘z,  K = diag(D + w²) + …
            for (int i = 0; i < _n; i++) { Residual[i] += squaredWeights[i] * z[i]; _diagonal[i] += squaredWeights[i]; }
        }
        _value = new double[_n];
        _c0 = new double[_n];
        _sum = 1;
        switch (family)
        {
            case NormalizedSoftmax:
                z.CopyTo(_value);
                SensitivityAnalysis.SoftmaxInPlace(_value);
                SpanMath.Subtract(_value, b, _c0);
                break;
            case RescaledRegression r:
                _slope = Slopes(r.Unit, z, _value);
                _sum = SpanMath.Sum(_value);
                SpanMath.MultiplyAdd(b, -_sum, _value, _c0); // c = u − U b
                break;
            case HyperbolicRegression h:
                _slope = Slopes(h.Unit, z, _value);
                SpanMath.Subtract(_value, b, _c0);
                break;
            default:
                throw new NotSupportedException($"no data derivatives are defined for family {family.Name}");
        }
    }

    /// <summary>r = ∂L/∂z = g + w²∘z (n).</summary>
    public double[] Residual { get; }

    /// <summary>The row's length n.</summary>
    public int Length => _n;

    private static double[] Slopes(Unit unit, ReadOnlySpan<double> z, double[] value)
    {
        var slope = new double[z.Length];
        for (int i = 0; i < z.Length; i++) (value[i], slope[i], _) = UnitCatalog.Evaluate(unit, z[i]);
        return slope;
    }

    /// <summary>result = K δz = (D + w²)∘δz + Σ_ab C_ab q_a ⟨q_b, δz⟩.</summary>
    public void Curvature(ReadOnlySpan<double> dz, Span<double> result)
    {
        SpanMath.Multiply(_diagonal, dz, result);
        Span<double> dots = stackalloc double[Math.Max(_k, 1)];
        for (int b = 0; b < _k; b++) dots[b] = SpanMath.Dot(_q.AsSpan(b * _n, _n), dz);
        for (int a = 0; a < _k; a++)
        {
            double s = 0;
            for (int b = 0; b < _k; b++) s += _c[a * _k + b] * dots[b];
            if (s != 0) SpanMath.MultiplyAdd(_q.AsSpan(a * _n, _n), s, result, result);
        }
    }

    /// <summary>result = J_f δz (transpose: J_fᵀ δz), J_f = ∂f/∂z of the model output.</summary>
    public void OutputJacobian(ReadOnlySpan<double> dz, Span<double> result, bool transpose = false)
    {
        switch (_family)
        {
            case NormalizedSoftmax:
                // (diag(f) − f fᵀ) δz, symmetric.
                SpanMath.Multiply(_value, dz, result);
                SpanMath.MultiplyAdd(_value, -SpanMath.Dot(_value, dz), result, result);
                break;
            case RescaledRegression:
            {
                // J = (diag(u') − f u'ᵀ)/U with f = u/U;  Jᵀ = (diag(u') − u' fᵀ)/U.
                SpanMath.Multiply(_slope!, dz, result);
                if (!transpose) SpanMath.MultiplyAdd(_value, -SpanMath.Dot(_slope!, dz) / _sum, result, result);
                else SpanMath.MultiplyAdd(_slope!, -SpanMath.Dot(_value, dz) / _sum, result, result);
                SpanMath.Multiply(result, 1.0 / _sum, result);
                break;
            }
            default:
                SpanMath.Multiply(_slope!, dz, result);
                break;
        }
    }

    /// <summary>result = (∂r/∂b) δb (transpose: (∂r/∂b)ᵀ δb); r does not depend on b through the regulariser.</summary>
    public void TargetDerivative(ReadOnlySpan<double> db, Span<double> result, bool transpose = false)
    {
        switch (_family)
        {
            case NormalizedSoftmax:
                // g = f∘c − ⟨f,c⟩f with c = f − b  ⇒  δg = −(f∘δb − ⟨f,δb⟩ f), symmetric.
                SpanMath.Multiply(_value, db, result);
                SpanMath.MultiplyAdd(_value, -SpanMath.Dot(_value, db), result, result);
                SpanMath.Negate(result, result);
                break;
            case RescaledRegression:
            {
                // g = u'∘(c − ⟨b,c⟩1), c = u − U b  ⇒  δg = −U u'∘δb + u' ⟨U b − c, δb⟩;
                // transpose: −U u'∘v + (U b − c) ⟨u', v⟩.
                SpanMath.Multiply(_slope!, db, result);
                SpanMath.Multiply(result, -_sum, result);
                if (!transpose)
                {
                    double s = 0;
                    for (int i = 0; i < _n; i++) s += (_sum * _b[i] - _c0[i]) * db[i];
                    SpanMath.MultiplyAdd(_slope!, s, result, result);
                }
                else
                {
                    double s = SpanMath.Dot(_slope!, db);
                    for (int i = 0; i < _n; i++) result[i] += s * (_sum * _b[i] - _c0[i]);
                }
                break;
            }
            default:
                // g = u'∘(u − b)  ⇒  δg = −u'∘δb.
                SpanMath.Multiply(_slope!, db, result);
                SpanMath.Negate(result, result);
                break;
        }
    }

    /// <summary>∂ℓ/∂b at fixed z: −c (normalized, hyperbolic) or −U c (rescaled, c = u − U b).</summary>
    public double[] TargetGradient()
    {
        var result = new double[_n];
        SpanMath.Multiply(_c0, -_sum, result);
        return result;
    }
}
