using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// Single-precision Hessian-vector products and Kronecker factors (HessianVectorRequest.SinglePrecision,
/// KroneckerFactorsRequest.SinglePrecision, SolverOptions.SingleCgProducts): close to the double ones where a matrix
/// shard has them, the double ones themselves where it has not, and solves that reach the same answer either way.
/// </summary>
public class SingleCgProductsTests
{
    [Theory]
    [InlineData(false, true, HessianKind.GaussNewton)]
    [InlineData(true, true, HessianKind.GaussNewton)]
    [InlineData(false, false, HessianKind.GaussNewton)]
    [InlineData(true, false, HessianKind.GaussNewton)]
    [InlineData(false, true, HessianKind.Exact)]
    [InlineData(true, true, HessianKind.Exact)]
    [InlineData(false, false, HessianKind.Exact)]
    [InlineData(true, false, HessianKind.Exact)]
    public void A_product_in_single_precision_is_within_1e_6_of_the_double_one(bool weighted, bool cached, HessianKind kind)
    {
        // Without the cache the single-precision product also forms M in single precision.
        const int n = 300, d = 8;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, weighted, 920);
        var x = MatrixTestProblems.RandomX(d, 921, 2.0);
        var v = MatrixTestProblems.RandomX(d, 922);
        var shard = new MatrixShard(NormalizedSoftmax.Instance, p.A1, p.A2, p.B, p.W, 0, ShardComputeOptions.Sequential,
            maxCachedEntries: cached ? MatrixShard.MaxCachedEntries : 0);
        double[] globals = { 0 };
        var inDouble = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x, globals, kind, v))).Product;
        var single = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x, globals, kind, v, SinglePrecision: true))).Product;
        double error = Assertions.RelativeError(single, inDouble);
        if (NativeBlas.SingleGemmAvailable)
            Assert.True(error is > 0 and < 1e-6, $"single-precision {kind} product rel err {error:E2} (0 would mean the double path ran)");
        else
            Assert.Equal(inDouble, single);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void Kronecker_factors_projected_in_single_precision_are_within_1e_6_of_the_double_ones(bool weighted, bool cached)
    {
        // Two chunks and a part (ChunkRows = 32): the single-precision scratch serves chunks of every length. Without
        // the cache M is formed by sgemm too.
        const int n = 75, d = 8;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, weighted, 950);
        var x = MatrixTestProblems.RandomX(d, 951, 2.0);
        var shard = new MatrixShard(NormalizedSoftmax.Instance, p.A1, p.A2, p.B, p.W, 0, ShardComputeOptions.Sequential,
            maxCachedEntries: cached ? MatrixShard.MaxCachedEntries : 0);
        var inDouble = (KroneckerFactorsReply)shard.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton));
        var single = (KroneckerFactorsReply)shard.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton, SinglePrecision: true));
        double left = Assertions.RelativeError(single.LeftPacked, inDouble.LeftPacked);
        double right = Assertions.RelativeError(single.RightPacked, inDouble.RightPacked);
        double weight = Math.Abs(single.WeightSum - inDouble.WeightSum) / inDouble.WeightSum;
        if (NativeBlas.SingleGemmAvailable)
        {
            // The diagonal part of G and of τ stays in double; the low-rank part carries sgemm's rounding.
            Assert.True(right is > 0 and < 1e-6, $"G rel err {right:E2} (0 would mean the double path ran)");
            Assert.True(left < 1e-6 && weight < 1e-6, $"F rel err {left:E2}, Σ τ rel err {weight:E2}");
        }
        else
        {
            Assert.Equal(inDouble.LeftPacked, single.LeftPacked);
            Assert.Equal(inDouble.RightPacked, single.RightPacked);
        }
        Assert.Equal(inDouble.Rows, single.Rows);
    }

    [Fact]
    public void Families_without_fused_operators_answer_in_double()
    {
        const int n = 200, d = 5;
        var x = MatrixTestProblems.RandomX(d, 931, 1.5);
        var v = MatrixTestProblems.RandomX(d, 932);
        double[] globals = { 0 };
        var rescaled = MatrixTestProblems.Random("multiple-rescaled", n, d, false, 933);
        foreach (var kind in new[] { HessianKind.GaussNewton, HessianKind.Exact })
        {
            var shard = rescaled.Shard(new RowRange(0, n), ShardComputeOptions.Sequential);
            var inDouble = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x, globals, kind, v))).Product;
            var asked = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x, globals, kind, v, SinglePrecision: true))).Product;
            Assert.Equal(inDouble, asked);
        }
        // A family without fused operators keeps no single-precision A2: its factors are the double ones.
        var rescaledShard = rescaled.Shard(new RowRange(0, n), ShardComputeOptions.Sequential);
        var factors = (KroneckerFactorsReply)rescaledShard.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton));
        var factorsAsked = (KroneckerFactorsReply)rescaledShard.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton, SinglePrecision: true));
        Assert.Equal(factors.RightPacked, factorsAsked.RightPacked);
        Assert.Equal(factors.LeftPacked, factorsAsked.LeftPacked);
    }

    [Theory]
    [InlineData(HessianMode.GaussNewton)]
    [InlineData(HessianMode.Auto)]
    public void Approximate_Newton_reaches_the_same_answer_with_single_and_double_CG_products(HessianMode hessian)
    {
        // Noisy targets (no exact fit), so the answer is a genuine minimiser of a large-residual problem; Auto's
        // products turn exact after the first whole step.
        const int n = 400, d = 8;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, false, 940);
        SolverResult Solve(bool single)
        {
            var options = new SolverOptions { RelativeTolerance = 1e-9, Hessian = hessian, SingleCgProducts = single };
            return new InProcessDriver(p.Shards(2)).Solve(SolverCatalog.Create("approx-newton", options), p.Objective, new double[d * d], options);
        }
        var withSingle = Solve(true);
        var withDouble = Solve(false);
        Assert.True(withSingle.Converged, withSingle.Message);
        Assert.True(withDouble.Converged, withDouble.Message);
        double difference = Assertions.RelativeError(withSingle.X, withDouble.X);
        Assert.True(difference < 1e-7, $"x differs by {difference:E2} (relative)");
        Assert.True(Math.Abs(withSingle.Iterations - withDouble.Iterations) <= 1,
            $"{withSingle.Iterations} iterations with single products against {withDouble.Iterations}");
    }
}
