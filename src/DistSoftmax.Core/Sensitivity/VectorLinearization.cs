using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The data derivatives of a vector problem L(x; A) = ℓ(Ax) + ½‖diag(w)Ax‖² in A (n×d, Δ dense n×d row-major) at
/// fixed x, with z = Ax, r = g + w²∘z and K = ∇²_z ℓ + diag(w²) from <see cref="RowCurvature"/>:
///   ∇L = Aᵀ r                          ⇒  (∂∇L/∂A)[Δ]   = Δᵀ r + Aᵀ K (Δ x)           (d)
///                                          (∂∇L/∂A)ᵀ v  = r vᵀ + (K A v) xᵀ            (n×d)
///   f = f(z)                           ⇒  (∂f/∂A)[Δ]    = J_f (Δ x),   adjoint (J_fᵀ u) xᵀ
///   L                                  ⇒  ∂L/∂A         = r xᵀ
/// Each product costs one or two passes over A (O(nnz + n·d)).
/// </summary>
public sealed class VectorLinearization : DataLinearization
{
    private readonly RowAccess _rows;
    private readonly double[] _x;
    private readonly RowCurvature _row;
    private readonly int _n, _d;

    public VectorLinearization(IVectorFamily family, IRowMatrix a, ReadOnlySpan<double> b, Regularizer regularizer, ReadOnlySpan<double> x)
    {
        _rows = RowAccess.For(a);
        _n = a.Rows;
        _d = a.Cols;
        _x = x.ToArray();
        var z = new double[_n];
        _rows.MultiplyRows(0, _n, _x, z);
        double[]? w2 = null;
        if (!regularizer.IsNone)
        {
            w2 = new double[_n];
            for (int i = 0; i < _n; i++) w2[i] = regularizer.SquaredWeight(i);
        }
        _row = new RowCurvature(family, z, b, w2);
    }

    public override int ParameterCount => checked(_n * _d);
    public override int Dimension => _d;
    public override int OutputCount => _n;
    public override IReadOnlyList<(int Rows, int Cols)> PartShapes => new[] { (_n, _d) };

    /// <summary>Δ x for a dense n×d row-major Δ.</summary>
    private double[] DeltaTimesX(ReadOnlySpan<double> delta)
    {
        var y = new double[_n];
        for (int i = 0; i < _n; i++) y[i] = SpanMath.Dot(delta.Slice(i * _d, _d), _x);
        return y;
    }

    /// <summary>The outer product u xᵀ (n×d row-major) for u ∈ R^n.</summary>
    private double[] OuterWithX(ReadOnlySpan<double> u)
    {
        var result = new double[ParameterCount];
        for (int i = 0; i < _n; i++) SpanMath.Multiply(_x, u[i], result.AsSpan(i * _d, _d));
        return result;
    }

    public override double[] Mixed(ReadOnlySpan<double> delta)
    {
        var t = new double[_n];
        _row.Curvature(DeltaTimesX(delta), t);
        var result = new double[_d];
        _rows.MultiplyTransposedRows(0, _n, t, result);                       // Aᵀ K (Δ x)
        var r = _row.Residual;
        for (int i = 0; i < _n; i++)
            if (r[i] != 0) SpanMath.MultiplyAdd(delta.Slice(i * _d, _d), r[i], result, result); // + Δᵀ r
        return result;
    }

    public override double[] MixedAdjoint(ReadOnlySpan<double> v)
    {
        var av = new double[_n];
        _rows.MultiplyRows(0, _n, v, av);
        var s = new double[_n];
        _row.Curvature(av, s);
        var result = OuterWithX(s);                                            // (K A v) xᵀ
        var r = _row.Residual;
        for (int i = 0; i < _n; i++) SpanMath.MultiplyAdd(v, r[i], result.AsSpan(i * _d, _d), result.AsSpan(i * _d, _d)); // + r vᵀ
        return result;
    }

    public override double[] Output(ReadOnlySpan<double> delta)
    {
        var result = new double[_n];
        _row.OutputJacobian(DeltaTimesX(delta), result);
        return result;
    }

    public override double[] OutputAdjoint(ReadOnlySpan<double> u)
    {
        var t = new double[_n];
        _row.OutputJacobian(u, t, transpose: true);
        return OuterWithX(t);
    }

    public override double[] LossGradient() => OuterWithX(_row.Residual);
}
