using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// The Kronecker-factored curvature of multiple softmax regression (docs/MATH.md, "Kronecker-factored curvature"),
/// used as the preconditioner of Newton-CG. The Hessian in row-major vec(X) is H = Σ_j (a1_j a1_jᵀ) ⊗ S_j with
/// S_j = A2ᵀ B(z_j) A2; it is approximated by
///   H ≈ F ⊗ G,   F = Σ_j τ_j a1_j a1_jᵀ,   G = Σ_j S_j / Σ_j τ_j,   τ_j = tr S_j,
/// which is exact when every S_j is a multiple τ_j·Ŝ of one matrix (rows differ only in the scale of their
/// curvature). Both factors are d×d and positive semidefinite (built from the Gauss–Newton row terms), so
/// (F ⊗ G)⁻¹ costs two d×d Cholesky factorisations and inverses per build and, per CG iteration,
/// M⁻¹ vec(R) = vec(F⁻¹ R G⁻¹): two d×d×d products, O(d³), against O(m·n·d) for one Hessian-vector product.
/// Each factor is damped by <see cref="RelativeDamping"/>·tr(factor)/d on its diagonal (raised ×100 until it factors).
/// </summary>
public sealed class KroneckerPreconditioner
{
    /// <summary>Diagonal damping of each factor, relative to its mean eigenvalue tr/d.</summary>
    public const double RelativeDamping = 1e-8;
    /// <summary>Damping increases before the factors are declared unusable.</summary>
    public const int MaxDampingIncreases = 8;

    private readonly double[] _leftInverse, _rightInverse;   // F⁻¹ and G⁻¹ of the damped factors (d×d, symmetric)
    private readonly int _d;

    private KroneckerPreconditioner(double[] leftInverse, double[] rightInverse, int d)
    {
        _leftInverse = leftInverse; _rightInverse = rightInverse; _d = d;
    }

    /// <summary>Asks the shards for the factors at the iterate (Gauss–Newton row terms) and factorises them; the
    /// result also carries the merged factors, from which <see cref="FromReply"/> rebuilds the same preconditioner.</summary>
    public static IEnumerable<ShardRequest> Build(SolveRun run, Iterate current, Out<(KroneckerPreconditioner, KroneckerFactorsReply)> result)
    {
        var options = run.Options;
        yield return new KroneckerFactorsRequest(current.Point.X, HessianKind.GaussNewton, options.SingleCgProducts,
            RowShare(options.KroneckerRowsPerColumn, run.Objective.Dimension, run.Objective.Rows),
            Rng.StreamSeed(options.Seed, current.Iteration, SamplePurpose), current.SinglePass);
        var reply = run.Reply<KroneckerFactorsReply>();
        result.Value = (FromReply(reply), reply);
    }

    /// <summary>Purpose of the factors' row sample in <see cref="Rng.StreamSeed"/>.</summary>
    private const int SamplePurpose = 21;

    /// <summary>
    /// The share of the rows the factors are summed over: min(1, factor·d / rows) for X of d² = <paramref name="unknowns"/>
    /// (1, every row, for a factor of 0).
    /// </summary>
    public static double RowShare(int rowsPerColumn, int unknowns, long rows)
    {
        if (rowsPerColumn <= 0 || rows <= 0) return 1.0;
        double side = Math.Round(Math.Sqrt(unknowns));
        return Math.Min(1.0, rowsPerColumn * side / rows);
    }

    /// <summary>F = left, G = right / Σ τ, each damped, Cholesky-factorised and inverted.</summary>
    public static KroneckerPreconditioner FromReply(KroneckerFactorsReply reply)
    {
        int d = Packed.Dimension(reply.LeftPacked.Length);
        var left = Packed.ToSymmetric(reply.LeftPacked, d);
        var right = Packed.ToSymmetric(reply.RightPacked, d);
        double scale = reply.WeightSum > 0 ? 1.0 / reply.WeightSum : 1.0;
        SpanMath.Multiply(right, scale, right);
        return new KroneckerPreconditioner(Inverse(left, d), Inverse(right, d), d);
    }

    /// <summary>The dense d²×d² matrix F ⊗ G (row-major vec), for tests on small d.</summary>
    public static double[] Dense(KroneckerFactorsReply reply)
    {
        int d = Packed.Dimension(reply.LeftPacked.Length), dd = d * d;
        var f = Packed.ToSymmetric(reply.LeftPacked, d);
        var g = Packed.ToSymmetric(reply.RightPacked, d);
        double scale = reply.WeightSum > 0 ? 1.0 / reply.WeightSum : 1.0;
        var h = new double[dd * dd];
        for (int k = 0; k < d; k++)
            for (int l = 0; l < d; l++)
                for (int k2 = 0; k2 < d; k2++)
                    for (int l2 = 0; l2 < d; l2++)
                        h[(k * d + l) * dd + k2 * d + l2] = f[k * d + k2] * g[l * d + l2] * scale;
        return h;
    }

    /// <summary>
    /// M⁻¹ r for r = vec(R) (d² values, row-major): vec(F⁻¹ R G⁻¹), two d×d×d products with the factors' inverses
    /// (formed once from their Cholesky factors). Two triangular solves per column took 2.0 ms at d = 128, on the
    /// coordinator between every two CG products while the workers wait.
    /// </summary>
    public double[] Apply(ReadOnlySpan<double> r)
    {
        int d = _d;
        var leftSolved = new double[d * d];
        MatrixProducts.Gemm(d, d, d, _leftInverse, d, r, d, leftSolved, d, false);
        var z = new double[d * d];
        MatrixProducts.Gemm(d, d, d, leftSolved, d, _rightInverse, d, z, d, false);
        return z;
    }

    /// <summary>The damped factor's inverse (dense, symmetric) from its Cholesky factor.</summary>
    private static double[] Inverse(double[] matrix, int d) =>
        DenseAlgebra.InverseFromFactor(
            DenseAlgebra.TryDampedCholesky(matrix, d, RelativeDamping * Extremes.Max(DenseAlgebra.MeanDiagonal(matrix, d), double.Epsilon),
                MaxDampingIncreases + 1)
            ?? throw new InvalidOperationException("the Kronecker factors of the curvature are not positive definite even after damping"), d);
}
