using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// The eigen-decomposition of a Lanczos process's k×k tridiagonal T_k = Q_kᵀ H Q_k (α on the diagonal, β off it), for
/// Ritz values and vectors (<see cref="ExtremeEigenvalues"/>, <see cref="Sensitivity.OperatorNorm"/>).
/// </summary>
internal static class SymmetricTridiagonal
{
    /// <summary>Eigenvalues θ_i and unit eigenvectors s_i (column i of <c>Vectors</c>, k×k) of T from α (k values) and β (k − 1 used).</summary>
    public static (double[] Values, Matrix<double> Vectors) Decompose(IReadOnlyList<double> alpha, IReadOnlyList<double> beta)
    {
        int k = alpha.Count;
        var t = Matrix<double>.Build.Dense(k, k);
        for (int i = 0; i < k; i++)
        {
            t[i, i] = alpha[i];
            if (i + 1 < k) { t[i, i + 1] = beta[i]; t[i + 1, i] = beta[i]; }
        }
        var evd = t.Evd(Symmetricity.Symmetric);
        return (evd.EigenValues.Select(e => e.Real).ToArray(), evd.EigenVectors);
    }
}
