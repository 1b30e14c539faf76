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
    /// <summary>What a shard keeps between requests at the same x.</summary>
    public enum Kept { M, SingleValues, Nothing }

    /// <summary>A shard of <paramref name="p"/>'s rows keeping <paramref name="kept"/>: the M cache (the default at
    /// these sizes), single-precision row values without it, or neither (single-precision products form M by sgemm).</summary>
    private static MatrixShard ShardKeeping(MatrixProblem p, Kept kept, long? singleValuesEntries = null) =>
        new(NormalizedSoftmax.Instance, p.A1, p.A2, p.B, p.W, 0, ShardComputeOptions.Sequential,
            maxCachedEntries: kept == Kept.M ? MatrixShard.MaxCachedEntries : 0,
            maxSingleValuesEntries: singleValuesEntries ?? (kept == Kept.SingleValues ? MatrixShard.MaxSingleValuesEntries : 0));

    /// <summary>An n×n instance with d = 8 (seed), a point x and another (seed + 1, + 2) and a direction V (seed + 3).</summary>
    private static (MatrixProblem P, double[] X, double[] Elsewhere, double[] V) TwoPointsAndADirection(int n, bool weighted, ulong seed)
    {
        const int d = 8;
        return (MatrixTestProblems.Random("multiple-normalized", n, d, weighted, seed), MatrixTestProblems.RandomX(d, seed + 1, 2.0),
            MatrixTestProblems.RandomX(d, seed + 2, 2.0), MatrixTestProblems.RandomX(d, seed + 3));
    }

    [Theory]
    [InlineData(false, Kept.M, HessianKind.GaussNewton)]
    [InlineData(true, Kept.M, HessianKind.GaussNewton)]
    [InlineData(false, Kept.SingleValues, HessianKind.GaussNewton)]
    [InlineData(true, Kept.SingleValues, HessianKind.GaussNewton)]
    [InlineData(false, Kept.Nothing, HessianKind.GaussNewton)]
    [InlineData(true, Kept.Nothing, HessianKind.GaussNewton)]
    [InlineData(false, Kept.M, HessianKind.Exact)]
    [InlineData(true, Kept.M, HessianKind.Exact)]
    [InlineData(false, Kept.SingleValues, HessianKind.Exact)]
    [InlineData(true, Kept.SingleValues, HessianKind.Exact)]
    [InlineData(false, Kept.Nothing, HessianKind.Exact)]
    [InlineData(true, Kept.Nothing, HessianKind.Exact)]
    public void A_product_in_single_precision_is_within_1e_6_of_the_double_one(bool weighted, Kept kept, HessianKind kind)
    {
        // Keeping nothing, the single-precision product also forms M in single precision; keeping single-precision
        // values, it reads those the double product stored.
        const int n = 300, d = 8;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, weighted, 920);
        var x = MatrixTestProblems.RandomX(d, 921, 2.0);
        var v = MatrixTestProblems.RandomX(d, 922);
        var shard = ShardKeeping(p, kept);
        // Kept values and A1, A2's copies within half of B's bytes (SingleValuesShareOfB: 187 of 300 rows at d = 8), in
        // whole groups of ProductRows: the first group of 128.
        Assert.Equal(kept == Kept.SingleValues && MatrixProducts.SingleAvailable ? MatrixShard.ProductRows : 0, shard.SingleValuesRows);
        double[] globals = { 0 };
        var inDouble = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x, globals, kind, v))).Product;
        var single = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x, globals, kind, v, SinglePrecision: true))).Product;
        double error = Assertions.RelativeError(single, inDouble);
        if (MatrixProducts.SingleAvailable)
            Assert.True(error is > 0 and < 1e-6, $"single-precision {kind} product rel err {error:E2} (0 would mean the double path ran)");
        else
            Assert.Equal(inDouble, single);
    }

    [Theory]
    [InlineData(false, Kept.M)]
    [InlineData(true, Kept.M)]
    [InlineData(false, Kept.SingleValues)]
    [InlineData(true, Kept.SingleValues)]
    [InlineData(false, Kept.Nothing)]
    [InlineData(true, Kept.Nothing)]
    public void Kronecker_factors_projected_in_single_precision_are_within_1e_6_of_the_double_ones(bool weighted, Kept kept)
    {
        // Two chunks and a part (ChunkRows = 32): the single-precision scratch serves chunks of every length. Keeping
        // nothing, M is formed by sgemm too.
        const int n = 75, d = 8;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, weighted, 950);
        var x = MatrixTestProblems.RandomX(d, 951, 2.0);
        var shard = ShardKeeping(p, kept);
        var inDouble = (KroneckerFactorsReply)shard.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton));
        var single = (KroneckerFactorsReply)shard.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton, SinglePrecision: true));
        double left = Assertions.RelativeError(single.LeftPacked, inDouble.LeftPacked);
        double right = Assertions.RelativeError(single.RightPacked, inDouble.RightPacked);
        double weight = Math.Abs(single.WeightSum - inDouble.WeightSum) / inDouble.WeightSum;
        if (MatrixProducts.SingleAvailable)
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

    [Theory]
    [InlineData(4, true)]     // A1, A2's copies ≈ 0.1 MB of B's 2 MB: three of four 128-row groups fit in half of B
    [InlineData(64, false)]   // their copies alone (≈ 1.3 MB) exceed half of B: nothing kept
    public void A_shard_keeps_single_values_while_they_and_its_copies_of_A1_and_A2_fit_in_half_of_Bs_bytes(int d, bool keepsSome)
    {
        if (!MatrixProducts.SingleAvailable) return;
        const int n = 512;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, false, 970);
        var shard = ShardKeeping(p, Kept.SingleValues);
        long bBytes = sizeof(double) * (long)n * n;
        long share = (long)(MatrixShard.SingleValuesShareOfB * bBytes);
        long keptAndCopies = shard.Bytes - bBytes;      // no cache, no W: the rest of Bytes is the kept values and the copies
        Assert.True(keptAndCopies <= share || shard.SingleValuesRows == 0,
            $"kept values and copies {keptAndCopies} B past half of B's {bBytes} B");
        Assert.Equal(keepsSome, shard.SingleValuesRows > 0);
        Assert.True(shard.SingleValuesRows < n, "every row kept: the share did not bind");
        int nextGroup = shard.SingleValuesRows > 0 ? MatrixShard.ProductRows : MatrixShard.BlocksFor(n, n, d)[0].End;
        Assert.True(keptAndCopies + sizeof(float) * (long)nextGroup * n > share,
            $"{shard.SingleValuesRows} rows kept, but one more group of {nextGroup} would still fit");
    }

    [Theory]
    [InlineData(HessianKind.GaussNewton)]
    [InlineData(HessianKind.Exact)]
    public void Kept_single_values_give_the_same_products_whether_an_earlier_pass_stored_them_or_not(HessianKind kind)
    {
        // 300 rows form groups of 128, 128 and 44 (ProductRows); half of B's bytes (SingleValuesShareOfB) keeps the first
        // group only, whose product reads the stored values while the others form M by sgemm. The bits must not depend
        // on whether a loss pass at x stored the values first (as in a solve) or the product stores them itself (a
        // resumed solve's fresh shards), nor on a pass at another x in between.
        if (!MatrixProducts.SingleAvailable) return;
        const int n = 300;
        var (p, x, elsewhere, v) = TwoPointsAndADirection(n, true, 960);
        double[] globals = { 0 };
        var partial = ShardKeeping(p, Kept.SingleValues);
        Assert.Equal(MatrixShard.ProductRows, partial.SingleValuesRows);
        Assert.Equal(0, ShardKeeping(p, Kept.SingleValues, 127L * n).SingleValuesRows);   // room for less than a group
        var request = new HessianVectorRequest(x, globals, kind, v, SinglePrecision: true);
        var factorsRequest = new KroneckerFactorsRequest(x, kind, SinglePrecision: true);
        double[] Product(MatrixShard shard) => ((HessianVectorReply)shard.Evaluate(request)).Product;
        double[] Factors(MatrixShard shard) => ((KroneckerFactorsReply)shard.Evaluate(factorsRequest)).RightPacked;

        var storedByItself = Product(partial);
        var factorsStoredByItself = Factors(ShardKeeping(p, Kept.SingleValues));
        var afterLoss = ShardKeeping(p, Kept.SingleValues);
        afterLoss.Evaluate(new ScalarsRequest(x, globals, WithGradient: true));
        Assert.Equal(storedByItself, Product(afterLoss));
        Assert.Equal(factorsStoredByItself, Factors(afterLoss));
        Assert.Equal(storedByItself, Product(afterLoss));   // read again
        afterLoss.Evaluate(new ScalarsRequest(elsewhere, globals));
        Assert.Equal(storedByItself, Product(afterLoss));   // stored again at x

        // Keeping a group or none: the same product to single precision, not bit for bit (M by sgemm moves the values
        // by ≈ 6e-8·|z|).
        var inDouble = ((HessianVectorReply)ShardKeeping(p, Kept.M).Evaluate(new HessianVectorRequest(x, globals, kind, v))).Product;
        foreach (var shard in new[] { partial, ShardKeeping(p, Kept.Nothing) })
        {
            double error = Assertions.RelativeError(Product(shard), inDouble);
            Assert.True(error is > 0 and < 1e-6, $"{shard.SingleValuesRows} rows kept: rel err {error:E2}");
        }
    }

    [Theory]
    [InlineData(HessianKind.GaussNewton)]
    [InlineData(HessianKind.Exact)]
    public void Single_precision_row_terms_give_the_same_products_whoever_wrote_them_and_double_requests_never_read_them(HessianKind kind)
    {
        // A shard with the M cache keeps each row's single-precision terms (f, (2f − b)∘f and two sums) from the pass
        // that computed its values at x. The product's bits must not depend on which pass wrote them — a loss pass (as
        // in a solve), the product itself (a resumed solve's fresh shard), or a pass after the cache was overwritten at
        // another x or by M itself (the post-solve analysis's rows) — and double requests must not read them.
        if (!MatrixProducts.SingleAvailable || !NormalizedSoftmax.Instance.SingleRowTermsAvailable) return;
        const int n = 300;
        var (p, x, elsewhere, v) = TwoPointsAndADirection(n, false, 965);
        double[] globals = { 0 };
        var request = new HessianVectorRequest(x, globals, kind, v, SinglePrecision: true);
        var doubleRequest = new HessianVectorRequest(x, globals, kind, v);
        double[] Product(MatrixShard shard, HessianVectorRequest r) => ((HessianVectorReply)shard.Evaluate(r)).Product;

        var byItself = Product(ShardKeeping(p, Kept.M), request);
        var shard = ShardKeeping(p, Kept.M);
        shard.Evaluate(new ScalarsRequest(x, globals, WithGradient: true));
        Assert.Equal(byItself, Product(shard, request));
        Assert.Equal(byItself, Product(shard, request));   // read again
        shard.Evaluate(new ScalarsRequest(elsewhere, globals));
        Assert.Equal(byItself, Product(shard, request));   // written again at x
        shard.Products(elsewhere, new double[(long)n * n]);   // the cache holds M at another x; the terms are x's
        Assert.Equal(byItself, Product(shard, request));
        Assert.Equal(Product(ShardKeeping(p, Kept.M), doubleRequest), Product(shard, doubleRequest));

        // Against the double product: single precision, not its bits.
        double error = Assertions.RelativeError(byItself, Product(shard, doubleRequest));
        Assert.True(error is > 0 and < 1e-6, $"rel err {error:E2}");
    }

    [Fact]
    public void Double_requests_never_read_the_kept_single_values()
    {
        // A loss and gradient in double at the x whose values are kept must equal those of a shard keeping nothing.
        if (!MatrixProducts.SingleAvailable) return;
        const int n = 300, d = 8;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, false, 970);
        var x = MatrixTestProblems.RandomX(d, 971, 2.0);
        var v = MatrixTestProblems.RandomX(d, 972);
        double[] globals = { 0 };
        var keeping = ShardKeeping(p, Kept.SingleValues);
        var nothing = ShardKeeping(p, Kept.Nothing);
        keeping.Evaluate(new HessianVectorRequest(x, globals, HessianKind.Exact, v, SinglePrecision: true));
        var loss = (ScalarsReply)keeping.Evaluate(new ScalarsRequest(x, globals, WithGradient: true));
        var lossNothing = (ScalarsReply)nothing.Evaluate(new ScalarsRequest(x, globals, WithGradient: true));
        Assert.Equal(lossNothing.Family.Sums[0], loss.Family.Sums[0]);
        Assert.Equal(lossNothing.RegularizerSum, loss.RegularizerSum);
        Assert.Equal(lossNothing.GradientBasis, loss.GradientBasis);
        var product = ((HessianVectorReply)keeping.Evaluate(new HessianVectorRequest(x, globals, HessianKind.Exact, v))).Product;
        var productNothing = ((HessianVectorReply)nothing.Evaluate(new HessianVectorRequest(x, globals, HessianKind.Exact, v))).Product;
        Assert.Equal(productNothing, product);
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
