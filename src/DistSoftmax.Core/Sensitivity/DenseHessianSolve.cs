using DistSoftmax.Core.Kernels;

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
    private readonly SymmetricEigen? _eigen;

    public DenseHessianSolve(double[] hessian, int d)
    {
        if (hessian.Length != (long)d * d) throw new ArgumentException($"a {d}×{d} Hessian has {(long)d * d} entries, got {hessian.Length}");
        _d = d;
        (Min, Max) = DenseAlgebra.EigenvalueRange(hessian, d);
        var factor = (double[])hessian.Clone();
        if (DenseAlgebra.TryCholesky(factor, d)) { _cholesky = factor; return; }
        _eigen = SymmetricEigen.Of(hessian, d);
        double scale = _eigen.Values.Max(Math.Abs);
        if (!(_eigen.Values.Min(Math.Abs) > SingularRatio * scale)) throw Singular(Min, Max);
    }

    public override double Min { get; }
    public override double Max { get; }
    public override bool PositiveDefinite => _cholesky is not null;
    public override string Method => PositiveDefinite ? "dense Hessian, Cholesky" : "dense Hessian, eigen-decomposition (indefinite)";

    public override double[] Solve(ReadOnlySpan<double> v)
    {
        if (v.Length != _d) throw new ArgumentException($"the right-hand side has {v.Length} entries, the Hessian is {_d}×{_d}");
        if (_cholesky is not null) return DenseAlgebra.CholeskySolve(_cholesky, _d, v);
        var coords = _eigen!.Coordinates(v);
        for (int i = 0; i < _d; i++) coords[i] /= _eigen.Values[i];
        return _eigen.Combine(coords);
    }
}
