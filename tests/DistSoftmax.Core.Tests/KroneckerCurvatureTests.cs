using System.Numerics.Tensors;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>The Kronecker-factored curvature F ⊗ G of multiple softmax regression against the exact Hessian.</summary>
public class KroneckerCurvatureTests
{
    private static (KroneckerFactorsReply Factors, double[] Hessian) At(MatrixProblem p, double[] x, int shards)
    {
        var driver = new InProcessDriver(p.Shards(shards, ShardComputeOptions.Sequential));
        var factors = (KroneckerFactorsReply)driver.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton));
        var globals = p.Objective.Evaluate(x, (ScalarsReply)driver.Evaluate(new ScalarsRequest(x))).Globals;
        var gram = (GramReply)driver.Evaluate(new GramRequest(x, globals, HessianKind.GaussNewton));
        int dd = x.Length;
        return (factors, Packed.ToSymmetric(gram.PackedUpper, dd));
    }

    private static double MaxRelativeDifference(double[] a, double[] b)
    {
        double scale = b.Max(Math.Abs), worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]) / scale);
        return worst;
    }

    [Theory]
    [InlineData("multiple-normalized")]
    [InlineData("multiple-rescaled")]
    public void With_one_row_the_factorisation_is_exact(string problem)
    {
        // H = (a1 a1ᵀ) ⊗ S for a single row, and F ⊗ G = (τ a1 a1ᵀ) ⊗ (S/τ).
        int n = 9, d = 3;
        var a1 = TestProblem.Gaussian(1, d, 5);
        var a2 = TestProblem.Gaussian(n, d, 6);
        var b = new DenseMatrix(1, n, new Rng(7).NextDirichlet(n));
        var p = MatrixProblem.Create(problem, a1, a2, b);
        var (factors, hessian) = At(p, MatrixTestProblems.RandomX(d, 8), 1);
        Assert.True(MaxRelativeDifference(KroneckerPreconditioner.Dense(factors), hessian) < 1e-12);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void When_every_row_has_the_same_curvature_the_factorisation_is_exact_whatever_the_shards(int shards)
    {
        // X = 0 makes every z_j = 0; with identical rows of B every S_j is the same matrix.
        int m = 7, n = 8, d = 3;
        var a1 = TestProblem.Gaussian(m, d, 11);
        var a2 = TestProblem.Gaussian(n, d, 12);
        var row = new Rng(13).NextDirichlet(n);
        var b = new DenseMatrix(m, n);
        for (int j = 0; j < m; j++) row.CopyTo(b.RowMutable(j));
        var p = MatrixProblem.Create("multiple-normalized", a1, a2, b);
        var (factors, hessian) = At(p, new double[d * d], shards);
        Assert.Equal(m, factors.Rows);
        Assert.True(MaxRelativeDifference(KroneckerPreconditioner.Dense(factors), hessian) < 1e-12);
    }

    [Fact]
    public void Applying_the_preconditioner_inverts_F_kron_G()
    {
        var p = MatrixTestProblems.Random("multiple-normalized", 12, 3, false, 21);
        var x = MatrixTestProblems.RandomX(3, 22, 0.5);
        var (factors, _) = At(p, x, 2);
        var m = KroneckerPreconditioner.Dense(factors);
        var v = TestProblem.Vector(9, 23);
        var mv = DenseAlgebra.Multiply(m, 9, v);
        var back = KroneckerPreconditioner.FromReply(factors).Apply(mv);
        Assert.True(Assertions.RelativeError(back, v) < 1e-6, $"error {Assertions.RelativeError(back, v):E2}");
    }

    [Fact]
    public void On_a_random_instance_the_preconditioned_spectrum_is_tighter_than_the_Hessians()
    {
        int d = 4;
        var p = MatrixTestProblems.Random("multiple-normalized", 40, d, false, 31);
        var x = MatrixTestProblems.RandomX(d, 32, 2.0);
        var (factors, hessian) = At(p, x, 2);
        var preconditioner = KroneckerPreconditioner.FromReply(factors);
        int dd = d * d;
        // M⁻¹H column by column; its eigenvalues are those of the symmetric M^{-1/2} H M^{-1/2}.
        var mh = new double[dd * dd];
        for (int c = 0; c < dd; c++)
        {
            var column = new double[dd];
            for (int i = 0; i < dd; i++) column[i] = hessian[i * dd + c];
            var solved = preconditioner.Apply(column);
            for (int i = 0; i < dd; i++) mh[i * dd + c] = solved[i];
        }
        var evd = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(dd, dd, (i, j) => mh[i * dd + j]).Evd();
        var eig = evd.EigenValues.Select(e => e.Real).Where(e => e > 1e-9).ToArray();
        var (lo, hi) = DenseAlgebra.EigenvalueRange(hessian, dd);
        double preconditioned = eig.Max() / eig.Min(), plain = hi / Math.Max(lo, 1e-300);
        Assert.True(preconditioned < plain / 3, $"κ(M⁻¹H) = {preconditioned:E2}, κ(H) = {plain:E2}");
    }

    // multiple-rescaled is left out: from X = 0 both methods drift towards its trivial zero at u = exp(z) → 0.
    [Theory]
    [InlineData("multiple-normalized")]
    public void Approximate_Newton_recovers_a_planted_X_with_fewer_CG_iterations_than_Newton_CG(string problem)
    {
        const int n = 40, d = 5;
        var p = MatrixTestProblems.Planted(problem, n, d, 41, out var xTrue);
        var options = new SolverOptions { RelativeTolerance = 1e-10, MaxIterations = 100, Hessian = HessianMode.GaussNewton };
        var approx = new InProcessDriver(p.Shards(3)).Solve(SolverCatalog.Create("approx-newton", options), p.Objective, new double[d * d], options);
        var plain = new InProcessDriver(p.Shards(3)).Solve(SolverCatalog.Create("newton-cg", options), p.Objective, new double[d * d], options);
        Assert.True(approx.Converged, approx.Message);
        Assert.Equal("approx-newton", approx.Solver);
        var fitted = MatrixTestProblems.RowSoftmax(p.A1, p.A2, approx.X);
        for (int c = 0; c < fitted.Length; c++) Assert.True(Math.Abs(fitted[c] - p.B.Data[c]) < 1e-8, $"softmax entry {c}");
        int approxCg = approx.Trace.Sum(t => t.CgIterations), plainCg = plain.Trace.Sum(t => t.CgIterations);
        Assert.True(approxCg > 0 && approxCg < plainCg, $"CG iterations: preconditioned {approxCg}, plain {plainCg}");
    }
    [Fact]
    public void On_columns_of_unequal_scale_the_preconditioner_saves_most_CG_iterations()
    {
        // Columns of A1 and A2 scaled by 0.1 … 10: H inherits κ(A1)²κ(A2)², which F ⊗ G captures exactly.
        const int d = 6;
        var p = MatrixTestProblems.UnequalColumnScales(120, d);
        var options = new SolverOptions { RelativeTolerance = 1e-8, MaxIterations = 60, Hessian = HessianMode.GaussNewton };
        var approx = new InProcessDriver(p.Shards(2)).Solve(SolverCatalog.Create("approx-newton", options), p.Objective, new double[d * d], options);
        var plain = new InProcessDriver(p.Shards(2)).Solve(SolverCatalog.Create("newton-cg", options), p.Objective, new double[d * d], options);
        Assert.True(approx.Converged, approx.Message);
        int approxCg = approx.Trace.Sum(t => t.CgIterations), plainCg = plain.Trace.Sum(t => t.CgIterations);
        Assert.True(3 * approxCg < plainCg, $"CG iterations: preconditioned {approxCg}, plain {plainCg} ({plain.Exit})");
    }
}

/// <summary>The matrix shard streams its rows in chunks; with or without its M cache it answers bit for bit alike.</summary>
public class MatrixShardStreamingTests
{
    [Theory]
    [InlineData("multiple-normalized", false)]
    [InlineData("multiple-rescaled", true)]
    public void A_shard_without_its_M_cache_answers_every_request_exactly_as_with_it(string problem, bool weighted)
    {
        int m = 2 * MatrixShard.ChunkRows + 7, n = 11, d = 3;
        var p = MatrixTestProblems.Random(problem, n, d, weighted, 51);
        var a1 = TestProblem.Gaussian(m, d, 52);
        var b = new DenseMatrix(m, n);
        var rng = new Rng(53);
        for (int j = 0; j < m; j++) rng.NextDirichlet(n).CopyTo(b.RowMutable(j));
        DenseMatrix? w = null;
        if (weighted) { w = new DenseMatrix(m, n); new Rng(54).FillNormal(w.Data, 0.3); }
        var family = MatrixProblem.RowFamilyOf(problem);
        var cached = new MatrixShard(family, a1, p.A2, b, w, 0, ShardComputeOptions.Default);
        var streaming = new MatrixShard(family, a1, p.A2, b, w, 0, ShardComputeOptions.Default, maxCachedEntries: 0);
        var x = MatrixTestProblems.RandomX(d, 55, 0.7);
        var v = MatrixTestProblems.RandomX(d, 56);
        var globals = Array.Empty<double>();
        ShardRequest[] requests =
        [
            new ScalarsRequest(x), new GradientRequest(x, globals, HessianKind.Exact, false),
            new HessianVectorRequest(x, globals, HessianKind.Exact, v), new HessianVectorRequest(x, globals, HessianKind.GaussNewton, v),
            new KroneckerFactorsRequest(x, HessianKind.GaussNewton), new GramRequest(x, globals, HessianKind.Exact),
            new KroneckerFactorsRequest(x, HessianKind.GaussNewton, RowShare: 0.4, SampleSeed: 57),   // M of the kept rows gathered
        ];
        foreach (var request in requests.Concat(requests))   // twice: the second round meets a warm cache
        {
            var expected = cached.Evaluate(request);
            var actual = streaming.Evaluate(request);
            switch (expected)
            {
                case ScalarsReply e:
                    var a = (ScalarsReply)actual;
                    Assert.Equal(e.Family.Sums, a.Family.Sums);
                    Assert.Equal(e.RegularizerSum, a.RegularizerSum);
                    break;
                case GradientReply e: Assert.Equal(e.Gradient, ((GradientReply)actual).Gradient); break;
                case HessianVectorReply e: Assert.Equal(e.Product, ((HessianVectorReply)actual).Product); break;
                case KroneckerFactorsReply e:
                    var f = (KroneckerFactorsReply)actual;
                    Assert.Equal(e.LeftPacked, f.LeftPacked);
                    Assert.Equal(e.RightPacked, f.RightPacked);
                    Assert.Equal(e.WeightSum, f.WeightSum);
                    Assert.Equal(e.Rows, f.Rows);
                    break;
                case GramReply e: Assert.Equal(e.PackedUpper, ((GramReply)actual).PackedUpper); break;
            }
        }
    }
}
