using DistSoftmax.Core.Kernels;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// Solves H y = v for the exact Hessian H (d×d, row-major) at x*: by Cholesky when H is positive definite, else by
/// the eigen-decomposition H = V Λ Vᵀ with the true (signed) eigenvalues, y = V Λ⁻¹ Vᵀ v — the implicit-function
/// derivative needs H⁻¹ itself, not a modified H. A singular H (|λ| ≤ <see cref="SingularRatio"/>·max|λ|) has no
/// inverse: x*(A) is then not locally unique and dx*/dA is undefined.
/// </summary>
public sealed class HessianSolve
{
    /// <summary>Eigenvalues with |λ| at most this times max|λ| make H singular.</summary>
    public const double SingularRatio = 1e-13;

    private readonly int _d;
    private readonly double[]? _cholesky;
    private readonly Matrix<double>? _vectors;
    private readonly double[]? _values;

    public HessianSolve(double[] hessian, int d)
    {
        _d = d;
        (Min, Max) = DenseAlgebra.EigenvalueRange(hessian, d);
        var factor = (double[])hessian.Clone();
        if (DenseAlgebra.TryCholesky(factor, d)) { _cholesky = factor; return; }
        var m = Matrix<double>.Build.Dense(d, d, (i, j) => hessian[i * d + j]);
        var evd = m.Evd(Symmetricity.Symmetric);
        _vectors = evd.EigenVectors;
        _values = evd.EigenValues.Select(e => e.Real).ToArray();
        double scale = _values.Max(Math.Abs);
        if (!(_values.Min(Math.Abs) > SingularRatio * scale))
            throw new ArgumentException(FormattableString.Invariant(
                $"the Hessian at x* is singular (eigenvalues in [{Min:0.000e+00}, {Max:0.000e+00}]): x*(A) is not locally unique, so dx*/dA is undefined; add a regulariser (--w-scalar)"));
    }

    /// <summary>Smallest and largest eigenvalue of H.</summary>
    public double Min { get; }
    public double Max { get; }

    /// <summary>Whether H is positive definite (x* a strict local minimiser).</summary>
    public bool PositiveDefinite => _cholesky is not null;

    /// <summary>H⁻¹ v.</summary>
    public double[] Solve(ReadOnlySpan<double> v)
    {
        if (_cholesky is not null) return DenseAlgebra.CholeskySolve(_cholesky, _d, v);
        var coords = _vectors!.TransposeThisAndMultiply(Vector<double>.Build.Dense(v.ToArray()));
        for (int i = 0; i < _d; i++) coords[i] /= _values![i];
        return (_vectors * coords).ToArray();
    }
}
