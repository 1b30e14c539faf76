using System.Numerics.Tensors;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Sensitivity;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Tests;

/// <summary>The worst case's top eigenpair of J Jᵀ = H⁻¹KH⁻¹ from the pencil K w = θ H² w, without Hessian solves.</summary>
public sealed class PencilDavidsonTests
{
    /// <summary>A random symmetric matrix with the given eigenvalues (row-major).</summary>
    private static double[] WithEigenvalues(double[] values, ulong seed)
    {
        int n = values.Length;
        var a = new double[n * n];
        Rng.ForStream(seed).FillNormal(a);
        var q = Matrix<double>.Build.DenseOfRowMajor(n, n, a).QR().Q;
        return (q * Matrix<double>.Build.DenseOfDiagonalArray(values) * q.Transpose()).ToRowMajorArray();
    }

    /// <param name="spread">The preconditioner M is H with its eigenvalues scaled by 1 ± spread·sin(i): M = H at 0, κ(M⁻¹H) = 9 at
    /// 0.8, 39 at 0.95. (Steps against Lanczos with exact solves' 17: at most 34 for 0 and 0.3, 48–49 for 0.8 and 0.95.)</param>
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.3)]
    [InlineData(0.8)]
    [InlineData(0.95)]
    public void The_pencil_s_top_eigenpair_is_the_top_eigenpair_of_the_solved_operator(double spread)
    {
        const int n = 60;
        var hValues = Enumerable.Range(0, n).Select(i => Math.Pow(10, -2.0 * i / (n - 1))).ToArray(); // κ(H) = 100
        var h = WithEigenvalues(hValues, 31);
        // K positive definite with a slowly decaying spectrum, as the mixed Gram's.
        var k = WithEigenvalues(Enumerable.Range(0, n).Select(i => 1.0 / (1 + 0.2 * i)).ToArray(), 32);
        int hessianProducts = 0, gramProducts = 0;
        double[] H(double[] v) { hessianProducts++; return DenseAlgebra.Multiply(h, n, v); }
        double[] K(double[] v) { gramProducts++; return DenseAlgebra.Multiply(k, n, v); }
        var dense = new DenseHessianSolve(h, n);
        int solves = 0;
        double[] Solve(double[] r) { solves++; return dense.Solve(r); }
        // The reference: Lanczos on H⁻¹KH⁻¹ with exact solves.
        var (expected, y, _) = OperatorNorm.LargestEigenpair(u => dense.Solve(DenseAlgebra.Multiply(k, n, dense.Solve(u))), n, 3);
        var m = new DenseHessianSolve(WithEigenvalues(hValues.Select((v, i) => v * (1 + spread * Math.Sin(i))).ToArray(), 31), n);

        var (value, solved, steps, converged) = PencilDavidson.Largest(K, H, r => m.Solve(r), Solve, n, seed: 5);

        Assert.True(converged, $"{steps} steps");
        Assert.Equal(expected, value, 1e-10 * expected);
        // w = H⁻¹y with ‖Hw‖ = 1: H w is ±y.
        var hw = DenseAlgebra.Multiply(h, n, solved);
        Assert.Equal(1.0, TensorPrimitives.Norm<double>(hw), 1e-12);
        Assert.Equal(1.0, Math.Abs(TensorPrimitives.Dot<double>(hw, y)), 1e-8);
        // Each step: one K product and two H products, and a solve only to confirm the stopping test.
        Assert.Equal(steps + 1, gramProducts);
        Assert.Equal(2 * (steps + 1), hessianProducts);
        Assert.InRange(solves, 1, 3);
    }

    [Fact]
    public void A_step_limit_gives_a_lower_bound_flagged_as_not_converged()
    {
        const int n = 30;
        var h = WithEigenvalues(Enumerable.Range(0, n).Select(i => 1.0 + i).ToArray(), 41);
        var k = WithEigenvalues(Enumerable.Range(0, n).Select(i => 1.0 + 0.01 * i).ToArray(), 42);
        var dense = new DenseHessianSolve(h, n);
        var (expected, _, _) = OperatorNorm.LargestEigenpair(u => dense.Solve(DenseAlgebra.Multiply(k, n, dense.Solve(u))), n, 3);
        var (value, _, steps, converged) = PencilDavidson.Largest(v => DenseAlgebra.Multiply(k, n, v), v => DenseAlgebra.Multiply(h, n, v),
            r => (double[])r.Clone(), r => dense.Solve(r), n, seed: 5, maxSteps: 2);
        Assert.False(converged);
        Assert.Equal(2, steps);
        Assert.True(value <= expected * (1 + 1e-12), $"{value} above λ_max {expected}");
    }
}
