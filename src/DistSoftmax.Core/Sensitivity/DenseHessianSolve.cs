using DistSoftmax.Core.Kernels;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// H y = v for the dense exact Hessian H (dim×dim, row-major) at x*: by Cholesky when H is positive definite, else by
/// the eigen-decomposition H = V Λ Vᵀ with the true (signed) eigenvalues, y = V Λ⁻¹ Vᵀ v. The extreme eigenvalues come
/// from the full symmetric eigen-decomposition. Memory 8·dim² bytes (twice while factorising); for small dim only
/// (<see cref="HessianSolve.DenseMaxDimension"/>).
/// </summary>
public sealed class DenseHessianSolve : HessianSolve
{
    private readonly int _d;
    private readonly double[]? _cholesky;
    private readonly Matrix<double>? _vectors;
    private readonly double[]? _values;

    public DenseHessianSolve(double[] hessian, int d)
    {
        if (hessian.Length != (long)d * d) throw new ArgumentException($"a {d}×{d} Hessian has {(long)d * d} entries, got {hessian.Length}");
        _d = d;
        (Min, Max) = DenseAlgebra.EigenvalueRange(hessian, d);
        var factor = (double[])hessian.Clone();
        if (DenseAlgebra.TryCholesky(factor, d)) { _cholesky = factor; return; }
        var m = Matrix<double>.Build.Dense(d, d, (i, j) => hessian[i * d + j]);
        var evd = m.Evd(Symmetricity.Symmetric);
        _vectors = evd.EigenVectors;
        _values = evd.EigenValues.Select(e => e.Real).ToArray();
        double scale = _values.Max(Math.Abs);
        if (!(_values.Min(Math.Abs) > SingularRatio * scale)) throw Singular(Min, Max);
    }

    public override double Min { get; }
    public override double Max { get; }
    public override bool PositiveDefinite => _cholesky is not null;
    public override string Method => PositiveDefinite ? "dense Hessian, Cholesky" : "dense Hessian, eigen-decomposition (indefinite)";

    public override double[] Solve(ReadOnlySpan<double> v)
    {
        if (v.Length != _d) throw new ArgumentException($"the right-hand side has {v.Length} entries, the Hessian is {_d}×{_d}");
        if (_cholesky is not null) return DenseAlgebra.CholeskySolve(_cholesky, _d, v);
        var coords = _vectors!.TransposeThisAndMultiply(Vector<double>.Build.Dense(v.ToArray()));
        for (int i = 0; i < _d; i++) coords[i] /= _values![i];
        return (_vectors * coords).ToArray();
    }
}
