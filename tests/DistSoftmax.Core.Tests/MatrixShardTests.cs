using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The matrix shard against the vectorised (Kronecker) form, finite differences, and itself split 1, 2, 3 ways.
/// </summary>
public class MatrixShardTests
{
    public static IEnumerable<object[]> Problems()
    {
        foreach (var name in MatrixProblem.Names)
            foreach (var weighted in new[] { false, true })
                yield return new object[] { name, weighted };
    }

    public static IEnumerable<object[]> ProblemsAndKinds()
    {
        foreach (var p in Problems())
            foreach (var kind in new[] { HessianKind.Exact, HessianKind.GaussNewton })
                yield return new[] { p[0], p[1], kind };
    }

    [Theory]
    [MemberData(nameof(ProblemsAndKinds))]
    public void Loss_gradient_Hessian_and_Hessian_vector_product_match_the_explicit_Kronecker_form(string name, bool weighted, HessianKind kind)
    {
        const int n = 5, d = 3;
        var p = MatrixTestProblems.Random(name, n, d, weighted, 100);
        var x = MatrixTestProblems.RandomX(d, 101, 1.5);
        var reference = MatrixTestProblems.KroneckerReference(p, x, kind);
        var driver = MatrixTestProblems.Driver(p, 2);
        var obj = p.Objective;
        var actual = Evaluation.At(driver, obj, x, kind);

        Assert.True(Math.Abs(actual.Loss - reference.Loss) <= 1e-12 * Math.Abs(reference.Loss), $"loss {actual.Loss} vs {reference.Loss}");
        double ge = Assertions.RelativeError(actual.Gradient, reference.Gradient);
        Assert.True(ge < 1e-12, $"gradient rel err {ge:E2}");
        double he = Assertions.RelativeError(actual.Hessian, reference.Hessian);
        Assert.True(he < 1e-12, $"Hessian (Gram with per-row low rank) rel err {he:E2}");

        var v = MatrixTestProblems.RandomX(d, 102);
        var hv = MatrixTestProblems.HessianVector(driver, obj, x, v, kind);
        var expected = DenseAlgebra.Multiply(reference.Hessian, d * d, v);
        double ve = Assertions.RelativeError(hv, expected);
        Assert.True(ve < 1e-12, $"H·V rel err {ve:E2}");
    }

    [Fact]
    public void Kronecker_rows_times_vec_X_are_the_rows_of_A1_X_A2_transposed()
    {
        // Pins the index convention the reference relies on: (A1 ⊗ A2) vec(X) = vec(A1 X A2ᵀ), row-major vec.
        const int n = 4, d = 3;
        var a1 = TestProblem.Gaussian(n, d, 1);
        var a2 = TestProblem.Gaussian(n, d, 2);
        var x = MatrixTestProblems.RandomX(d, 3);
        var kron = MatrixTestProblems.Kronecker(a1, a2);
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++)
            {
                double direct = 0;
                for (int k = 0; k < d; k++)
                    for (int l = 0; l < d; l++) direct += a1[j, k] * x[k * d + l] * a2[i, l];
                double viaKron = 0;
                for (int c = 0; c < d * d; c++) viaKron += kron[j * n + i, c] * x[c];
                Assert.Equal(direct, viaKron, 1e-14);
            }
    }

    [Theory]
    [MemberData(nameof(Problems))]
    public void Gradient_matches_central_finite_differences_of_the_loss(string name, bool weighted)
    {
        const int n = 7, d = 3;
        var p = MatrixTestProblems.Random(name, n, d, weighted, 200);
        var x = MatrixTestProblems.RandomX(d, 201, 1.5);
        var driver = MatrixTestProblems.Driver(p, 3);
        var obj = p.Objective;
        var grad = MatrixTestProblems.Gradient(driver, obj, x);
        const double h = 1e-5;
        var fd = new double[d * d];
        for (int c = 0; c < d * d; c++)
        {
            var xp = (double[])x.Clone(); xp[c] += h;
            var xm = (double[])x.Clone(); xm[c] -= h;
            fd[c] = (Evaluation.LossAt(driver, obj, xp) - Evaluation.LossAt(driver, obj, xm)) / (2 * h);
        }
        double err = Assertions.RelativeError(grad, fd);
        Assert.True(err < 1e-7, $"gradient rel err {err:E2}");
    }

    [Theory]
    [MemberData(nameof(Problems))]
    public void Hessian_vector_product_matches_central_finite_differences_of_the_gradient(string name, bool weighted)
    {
        const int n = 7, d = 3;
        var p = MatrixTestProblems.Random(name, n, d, weighted, 300);
        var x = MatrixTestProblems.RandomX(d, 301, 1.5);
        var v = MatrixTestProblems.RandomX(d, 302);
        var driver = MatrixTestProblems.Driver(p, 2);
        var obj = p.Objective;
        var hv = MatrixTestProblems.HessianVector(driver, obj, x, v);
        const double h = 1e-5;
        var xp = (double[])x.Clone();
        var xm = (double[])x.Clone();
        for (int c = 0; c < d * d; c++) { xp[c] += h * v[c]; xm[c] -= h * v[c]; }
        var gp = MatrixTestProblems.Gradient(driver, obj, xp);
        var gm = MatrixTestProblems.Gradient(driver, obj, xm);
        var fd = new double[d * d];
        for (int c = 0; c < d * d; c++) fd[c] = (gp[c] - gm[c]) / (2 * h);
        double err = Assertions.RelativeError(hv, fd);
        Assert.True(err < 1e-7, $"H·V rel err {err:E2}");
    }

    [Theory]
    [MemberData(nameof(Problems))]
    public void Gram_Hessian_times_V_equals_the_Hessian_vector_product(string name, bool weighted)
    {
        const int n = 9, d = 4;
        var p = MatrixTestProblems.Random(name, n, d, weighted, 400);
        var x = MatrixTestProblems.RandomX(d, 401);
        var v = MatrixTestProblems.RandomX(d, 402);
        var driver = MatrixTestProblems.Driver(p, 2);
        var at = Evaluation.At(driver, p.Objective, x);
        var hv = MatrixTestProblems.HessianVector(driver, p.Objective, x, v);
        double err = Assertions.RelativeError(hv, DenseAlgebra.Multiply(at.Hessian, d * d, v));
        Assert.True(err < 1e-12, $"rel err {err:E2}");
    }

    [Theory]
    [MemberData(nameof(Problems))]
    public void Gauss_Newton_Gram_is_positive_semidefinite(string name, bool weighted)
    {
        const int n = 8, d = 3;
        var p = MatrixTestProblems.Random(name, n, d, weighted, 450);
        var x = MatrixTestProblems.RandomX(d, 451, 2.0);
        var at = Evaluation.At(MatrixTestProblems.Driver(p, 2), p.Objective, x, HessianKind.GaussNewton);
        var (min, max) = DenseAlgebra.EigenvalueRange(at.Hessian, d * d);
        Assert.True(min >= -1e-12 * Math.Max(1, max), $"λmin = {min:E3}");
    }

    public static IEnumerable<object[]> ProblemsAndShardCounts()
    {
        foreach (var p in Problems())
            foreach (var k in new[] { 2, 3 })
                yield return new[] { p[0], p[1], k };
    }

    [Theory]
    [MemberData(nameof(ProblemsAndShardCounts))]
    public void Merged_replies_of_several_shards_equal_one_shard(string name, bool weighted, int shards)
    {
        const int n = 11, d = 4;
        var p = MatrixTestProblems.Random(name, n, d, weighted, 500);
        var x = MatrixTestProblems.RandomX(d, 501);
        var v = MatrixTestProblems.RandomX(d, 502);
        var one = MatrixTestProblems.Driver(p, 1);
        var many = MatrixTestProblems.Driver(p, shards);
        var a = Evaluation.At(one, p.Objective, x);
        var b = Evaluation.At(many, p.Objective, x);
        Assert.True(Math.Abs(a.Loss - b.Loss) <= 1e-14 * a.Loss, $"loss {a.Loss} vs {b.Loss}");
        Assert.True(Assertions.RelativeError(b.Gradient, a.Gradient) < 1e-13);
        Assert.True(Assertions.RelativeError(b.Hessian, a.Hessian) < 1e-13);
        var hvA = MatrixTestProblems.HessianVector(one, p.Objective, x, v);
        var hvB = MatrixTestProblems.HessianVector(many, p.Objective, x, v);
        Assert.True(Assertions.RelativeError(hvB, hvA) < 1e-13);
        var rows = ((ScalarsReply)many.Evaluate(new ScalarsRequest(x))).Rows;
        Assert.Equal((long)n, rows);
    }

    [Theory]
    [InlineData(HessianKind.Exact)]
    [InlineData(HessianKind.GaussNewton)]
    public void Rows_gathered_over_several_back_projections_give_the_explicit_gradient_and_product(HessianKind kind)
    {
        // 300 rows in one block: products on groups of 128, 128 and the last 44 rows, row terms in chunks of 32
        // (the last group's 32 + 12), one back-projection per group.
        const int n = 300, d = 3;
        Assert.Equal(1, MatrixShard.BlocksFor(n, n, d).BlockCount);
        Assert.True(n > 2 * MatrixShard.ProductRows && n % MatrixShard.ProductRows != 0);
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, true, 700);
        var x = MatrixTestProblems.RandomX(d, 701, 1.5);
        var v = MatrixTestProblems.RandomX(d, 702);
        var reference = MatrixTestProblems.KroneckerReference(p, x, kind);
        // One and three cached shards, and one shard that streams M (no cache: M lives in the group's own scratch).
        var streaming = new MatrixShard(MatrixProblem.RowFamilyOf("multiple-normalized"), p.A1, p.A2, p.B, p.W, 0,
            ShardComputeOptions.Sequential, maxCachedEntries: 0);
        foreach (var (shards, driver) in new[] { (1, MatrixTestProblems.Driver(p, 1)), (3, MatrixTestProblems.Driver(p, 3)),
                     (1, new InProcessDriver(new IShard[] { streaming })) })
        {
            var gradient = MatrixTestProblems.Gradient(driver, p.Objective, x);
            double ge = Assertions.RelativeError(gradient, reference.Gradient);
            Assert.True(ge < 1e-12, $"{shards} shard(s): gradient rel err {ge:E2}");
            var hv = MatrixTestProblems.HessianVector(driver, p.Objective, x, v, kind);
            double ve = Assertions.RelativeError(hv, DenseAlgebra.Multiply(reference.Hessian, d * d, v));
            Assert.True(ve < 1e-12, $"{shards} shard(s): H·V rel err {ve:E2}");
        }
    }

    [Fact]
    public void Replies_are_bit_identical_whatever_the_thread_count()
    {
        const int n = 600, d = 16;
        var blocks = MatrixShard.BlocksFor(n, n, d);
        Assert.True(blocks.BlockCount > 1, "the test needs several row blocks to mean anything");
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, true, 600);
        var x = MatrixTestProblems.RandomX(d, 601, 2.0);
        var v = MatrixTestProblems.RandomX(d, 602);
        var seq = new InProcessDriver(p.Shards(1, ShardComputeOptions.Sequential));
        var par = new InProcessDriver(p.Shards(1, new ShardComputeOptions(4)));
        var sa = (ScalarsReply)seq.Evaluate(new ScalarsRequest(x));
        var sb = (ScalarsReply)par.Evaluate(new ScalarsRequest(x));
        Assert.Equal(sa.Family.Sums[0], sb.Family.Sums[0]);
        Assert.Equal(sa.RegularizerSum, sb.RegularizerSum);
        var globals = p.Objective.Evaluate(x, sa).Globals;
        var ga = (GradientReply)seq.Evaluate(new GradientRequest(x, globals, HessianKind.Exact, true));
        var gb = (GradientReply)par.Evaluate(new GradientRequest(x, globals, HessianKind.Exact, true));
        Assert.Equal(ga.Gradient, gb.Gradient);
        var ha = (HessianVectorReply)seq.Evaluate(new HessianVectorRequest(x, globals, HessianKind.Exact, v));
        var hb = (HessianVectorReply)par.Evaluate(new HessianVectorRequest(x, globals, HessianKind.Exact, v));
        Assert.Equal(ha.Product, hb.Product);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Successive_products_on_one_shard_equal_a_fresh_shards_and_leave_earlier_replies_alone(bool singlePrecision)
    {
        // The shard reuses its per-block partial sums from one product to the next: each product must start them from
        // zero, and no reply may share storage with them.
        const int n = 600, d = 16;
        Assert.True(MatrixShard.BlocksFor(n, n, d).BlockCount > 1, "the test needs several row blocks to mean anything");
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, false, 710);
        var x = MatrixTestProblems.RandomX(d, 711, 2.0);
        var v1 = MatrixTestProblems.RandomX(d, 712);
        var v2 = MatrixTestProblems.RandomX(d, 713);
        double[] G = { 0 };
        HessianVectorReply Product(IShard shard, double[] v) =>
            (HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x, G, HessianKind.Exact, v, singlePrecision));
        var shard = p.Shard(new RowRange(0, n), ShardComputeOptions.Sequential);
        var first = Product(shard, v1);
        var firstCopy = (double[])first.Product.Clone();
        var second = Product(shard, v2);
        var third = Product(shard, v1);
        Assert.Equal(firstCopy, first.Product);
        Assert.Equal(Product(p.Shard(new RowRange(0, n), ShardComputeOptions.Sequential), v2).Product, second.Product);
        Assert.Equal(firstCopy, third.Product);
        Assert.NotEqual(first.Product, second.Product);
    }

    [Fact]
    public void Cached_rows_are_recomputed_when_x_or_the_Hessian_kind_changes()
    {
        const int n = 6, d = 3;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, false, 700);
        var shard = p.Shard(new RowRange(0, n), ShardComputeOptions.Sequential);
        var x1 = MatrixTestProblems.RandomX(d, 701);
        var x2 = MatrixTestProblems.RandomX(d, 702);
        var v = MatrixTestProblems.RandomX(d, 703);
        double[] G = { 0 };
        var exact1 = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x1, G, HessianKind.Exact, v))).Product;
        var gn1 = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x1, G, HessianKind.GaussNewton, v))).Product;
        var exact2 = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x2, G, HessianKind.Exact, v))).Product;
        var fresh = p.Shard(new RowRange(0, n), ShardComputeOptions.Sequential);
        Assert.Equal(((HessianVectorReply)fresh.Evaluate(new HessianVectorRequest(x2, G, HessianKind.Exact, v))).Product, exact2);
        Assert.NotEqual(exact1, gn1);
        Assert.NotEqual(exact1, exact2);
        Assert.Equal(exact1, ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x1, G, HessianKind.Exact, v))).Product);
    }

    [Fact]
    public void Gram_is_refused_with_a_clear_message_when_d_squared_exceeds_4096()
    {
        const int n = 3, d = 65;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, false, 800);
        var shard = p.Shard(new RowRange(0, n));
        var ex = Assert.Throws<NotSupportedException>(() => shard.Evaluate(new GramRequest(new double[d * d], new[] { 0.0 }, HessianKind.Exact)));
        Assert.Contains("4225", ex.Message);
        Assert.Contains("newton-cg", ex.Message);
        // The d²-sized requests still work at this size.
        var g = (GradientReply)shard.Evaluate(new GradientRequest(new double[d * d], new[] { 0.0 }, HessianKind.Exact, true));
        Assert.Equal(d * d, g.Gradient.Length);
    }

    [Fact]
    public void Row_sampling_requests_are_refused()
    {
        var p = MatrixTestProblems.Random("multiple-rescaled", 4, 2, false, 900);
        var shard = p.Shard(new RowRange(0, 4));
        var x = new double[4];
        double[] g = { 0 };
        Assert.Throws<NotSupportedException>(() => shard.Evaluate(new SampledGramRequest(x, g, HessianKind.Exact, new double[4], 2, 1, 1, 1)));
        Assert.Throws<NotSupportedException>(() => shard.Evaluate(new GradientRequest(x, g, HessianKind.Exact, true, SketchRows: 8)));
    }

    [Fact]
    public void Mismatched_shapes_are_rejected_naming_the_matrices()
    {
        var a1 = TestProblem.Gaussian(5, 3, 1);
        var a2 = TestProblem.Gaussian(5, 3, 2);
        Assert.Contains("B must be 5×5", Assert.Throws<ArgumentException>(() => MatrixProblem.Create("multiple-normalized", a1, a2, new DenseMatrix(5, 4))).Message);
        Assert.Contains("A2 has 2", Assert.Throws<ArgumentException>(() => MatrixProblem.Create("multiple-normalized", a1, TestProblem.Gaussian(5, 2, 3), new DenseMatrix(5, 5))).Message);
        Assert.Contains("W must", Assert.Throws<ArgumentException>(() => MatrixProblem.Create("multiple-normalized", a1, a2, new DenseMatrix(5, 5), new DenseMatrix(4, 5))).Message);
        Assert.Contains("allowed", Assert.Throws<ArgumentException>(() => MatrixProblem.Create("multiple-hyperbolic", a1, a2, new DenseMatrix(5, 5))).Message);
        var shard = MatrixProblem.Create("multiple-normalized", a1, a2, new DenseMatrix(5, 5)).Shard(new RowRange(0, 5));
        Assert.Throws<ArgumentException>(() => shard.Evaluate(new ScalarsRequest(new double[8])));
    }

    [Fact]
    public void In_memory_loader_serves_matrix_shards_for_any_row_range()
    {
        const int n = 10, d = 3;
        var p = MatrixTestProblems.Random("multiple-rescaled", n, d, true, 1000);
        var loader = new InMemoryShardLoader();
        var source = loader.RegisterMatrix("m", "multiple-rescaled", p.A1, p.A2, p.B, p.W);
        var shape = loader.Describe(source);
        Assert.Equal(d * d, shape.Objective.Dimension);
        Assert.Equal(n, shape.Rows);
        Assert.Equal(0, shape.Objective.LowRankCount);
        Assert.False(shape.Objective.SupportsRowSampling);
        var shards = ShardLayout.Split(n, 3).Select(r => loader.Load(source, r, ShardComputeOptions.Sequential)).ToArray();
        Assert.Equal(new long[] { 0, 4, 7 }, shards.Select(s => s.RowOffset));
        var x = MatrixTestProblems.RandomX(d, 1001);
        var loaded = Evaluation.At(new InProcessDriver(shards), shape.Objective, x);
        var direct = Evaluation.At(MatrixTestProblems.Driver(p, 1), p.Objective, x);
        Assert.True(Math.Abs(loaded.Loss - direct.Loss) <= 1e-14 * direct.Loss);
        Assert.True(Assertions.RelativeError(loaded.Gradient, direct.Gradient) < 1e-13);
    }
}
