using DistSoftmax.Core.Shards;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// Solves H y = v with H the exact Hessian of L at x* (dim×dim, dim = d for a vector problem, d² for a matrix one),
/// and reports the extreme eigenvalues of H. The implicit-function derivative J = dx*/dθ = −H⁻¹ (∂∇L/∂θ) needs H⁻¹
/// itself (not a modified H), so a singular H (|λ| ≤ <see cref="SingularRatio"/>·max|λ|) is refused: x*(θ) is then not
/// locally unique. <see cref="Create"/> picks the method by size:
/// <list type="bullet">
/// <item>dim ≤ the dense threshold (<see cref="DenseMaxDimension"/> by default): <see cref="DenseHessianSolve"/>, the
/// dense dim×dim Hessian (8·dim² bytes) factorised once — exact, and it handles an indefinite H;</item>
/// <item>above it: <see cref="ConjugateGradientHessianSolve"/>, preconditioned conjugate gradients on Hessian-vector
/// products at x* (no dim×dim matrix; for matrix problems preconditioned by the Kronecker-factored curvature), with
/// the extreme eigenvalues by Lanczos on the same products.</item>
/// </list>
/// </summary>
public abstract class HessianSolve
{
    /// <summary>Eigenvalues with |λ| at most this times max|λ| make H singular.</summary>
    public const double SingularRatio = 1e-13;

    /// <summary>
    /// Largest dimension solved densely by default: the dense Hessian is 8·dim² bytes (8 MiB here) and its symmetric
    /// eigen-decomposition O(dim³); the exact Newton solver's own limit (1024 unknowns, a 32×32 matrix problem) too.
    /// </summary>
    public const int DenseMaxDimension = 1024;

    /// <summary>Smallest and largest eigenvalue of H (for the iterative method: the extreme Lanczos Ritz values).</summary>
    public abstract double Min { get; }
    public abstract double Max { get; }

    /// <summary>Whether H is positive definite (x* a strict local minimiser).</summary>
    public abstract bool PositiveDefinite { get; }

    /// <summary>How H was handled, for logs and the report (e.g. "dense Cholesky", "conjugate gradients …").</summary>
    public abstract string Method { get; }

    /// <summary>H⁻¹ v (dim values).</summary>
    public abstract double[] Solve(ReadOnlySpan<double> v);

    /// <summary>
    /// The solve for the Hessian of <paramref name="problem"/> at <paramref name="x"/>: dense when the dimension is at
    /// most <paramref name="denseMaxDimension"/> (0 forces the iterative method, int.MaxValue the dense one).
    /// </summary>
    public static HessianSolve Create(ISensitivityProblem problem, double[] x, int shards, int denseMaxDimension = DenseMaxDimension, ulong seed = 1)
    {
        if (denseMaxDimension < 0) throw new ParameterException(nameof(denseMaxDimension), denseMaxDimension, "must be ≥ 0");
        int dim = problem.Dimension;
        if (dim <= denseMaxDimension) return new DenseHessianSolve(SensitivityAnalysis.Hessian(problem, x, shards), dim);
        return new ConjugateGradientHessianSolve(new HessianVectorProducts(problem, x, shards, ShardComputeOptions.Default), seed);
    }

    /// <summary>The one-line refusal of a singular H (shared by both methods).</summary>
    internal static ArgumentException Singular(double min, double max) => new(FormattableString.Invariant(
        $"the Hessian at x* is singular (eigenvalues in [{min:0.000e+00}, {max:0.000e+00}]): x*(A) is not locally unique, so dx*/dA is undefined; add a regulariser (--w-scalar)"));
}
