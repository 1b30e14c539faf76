using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The fused row operators of normalized softmax (gradient and Hessian product of one complete row, without forming
/// D, q and C) against the row terms they replace, and a matrix shard that uses them against one that cannot.
/// </summary>
public class OwnRowOperatorsTests
{
    public static IEnumerable<object[]> KindsAndRegularisers()
    {
        foreach (var kind in new[] { HessianKind.Exact, HessianKind.GaussNewton })
            foreach (var regularised in new[] { false, true })
                foreach (var shift in new[] { 0.0, 600.0 })
                    yield return new object[] { kind, regularised, shift };
    }

    /// <summary>
    /// One row of n = 203 by default (whole vectors of every width and a scalar tail): z with entries N(shift, 3²) — a
    /// shift of 600 would overflow exp(z) unshifted —, a target b on the simplex, w² (or none) and a direction y.
    /// </summary>
    private static (double[] Z, double[] B, double[] W2, double[] Y) RandomRow(ulong seed, double shift, bool regularised, int n = 203)
    {
        var rng = new Rng(seed);
        var z = new double[n];
        rng.FillNormal(z, 3.0);
        for (int i = 0; i < n; i++) z[i] += shift;
        var b = rng.NextDirichlet(n);
        var w2 = regularised ? Enumerable.Range(0, n).Select(_ => rng.NextDouble()).ToArray() : Array.Empty<double>();
        var y = new double[n];
        rng.FillNormal(y);
        return (z, b, w2, y);
    }

    [Theory]
    [MemberData(nameof(KindsAndRegularisers))]
    public void Fused_gradient_and_Hessian_product_equal_the_row_terms(HessianKind kind, bool regularised, double shift)
    {
        var (z, b, w2, y) = RandomRow(41, shift, regularised);
        int n = z.Length;
        var family = NormalizedSoftmax.Instance;
        int lr = family.LowRankCount;

        // The terms: g, D, q, C, then B y = D∘y + Σ_ab C_ab q_a ⟨q_b, y⟩ (+ w²∘z, w²∘y).
        var g = new double[n];
        var dTerm = new double[n];
        var q = new double[lr * n];
        var globals = family.OwnGlobalsAndRowTerms(z, b, kind, g, dTerm, q);
        var c = family.LowRankCoefficients(globals, kind);
        var expectedProduct = new double[n];
        for (int i = 0; i < n; i++) expectedProduct[i] = dTerm[i] * y[i] + (regularised ? w2[i] * y[i] : 0);
        for (int a = 0; a < lr; a++)
            for (int bb = 0; bb < lr; bb++)
            {
                double coefficient = c[a * lr + bb] * SpanMath.Dot(q.AsSpan(bb * n, n), y);
                for (int i = 0; i < n; i++) expectedProduct[i] += coefficient * q[a * n + i];
            }
        if (regularised) for (int i = 0; i < n; i++) g[i] += w2[i] * z[i];

        var values = new double[n];
        family.RowValues(z, values);
        var fusedGradient = new double[n];
        family.Gradient(values, b, fusedGradient);
        if (regularised) for (int i = 0; i < n; i++) fusedGradient[i] += w2[i] * z[i];
        var fusedProduct = (double[])y.Clone();
        family.HessianProduct(values, b, kind, w2, fusedProduct, new double[IOwnRowOperators.ScratchPerEntry * n]);
        double loss = 0;
        for (int i = 0; i < n; i++) loss += 0.5 * (values[i] - b[i]) * (values[i] - b[i]);
        Assert.Equal(loss, family.HalfSquaredResidual(values, b), 1e-15);
        var inPlace = (double[])z.Clone();
        family.RowValues(inPlace, inPlace);
        Assert.Equal(values, inPlace);

        double ge = Assertions.RelativeError(fusedGradient, g);
        Assert.True(ge < 1e-13, $"gradient rel err {ge:E2}");
        double he = Assertions.RelativeError(fusedProduct, expectedProduct);
        Assert.True(he < 1e-13, $"B·y rel err {he:E2}");
    }

    [Theory]
    [InlineData(HessianKind.GaussNewton, 1.0, 0.0)]
    [InlineData(HessianKind.GaussNewton, 0.37, 600.0)]
    [InlineData(HessianKind.Exact, 1.0, 600.0)]
    [InlineData(HessianKind.Exact, 2.5, 0.0)]
    public void The_factor_terms_in_single_precision_are_the_double_terms_narrowed(HessianKind kind, double weight, double shift)
    {
        var (z, b, _, _) = RandomRow(43, shift, false);
        int n = z.Length;
        var family = NormalizedSoftmax.Instance;
        int lr = family.LowRankCount;
        var values = new double[n];
        family.RowValues(z, values);
        var norms = Enumerable.Range(0, n).Select(i => 0.5 + (i % 7)).ToArray();

        // The double terms, q narrowed, D weighted onto a running diagonal sum, τ's diagonal part ⟨D, norms⟩.
        var d = new double[n];
        var q = new double[lr * n];
        var c = new double[lr * lr];
        family.TermsFromValues(values, b, kind, d, q, c);
        var expectedQ = new float[lr * n];
        SpanMath.Narrow(q, expectedQ);
        var start = Enumerable.Range(0, n).Select(i => 1.0 / (i + 1)).ToArray();
        var expectedDiagonal = start.Select((s, i) => s + weight * d[i]).ToArray();
        double expectedTrace = SpanMath.Dot(d, norms);

        var fusedQ = new float[lr * n];
        var fusedC = new double[lr * lr];
        var diagonal = (double[])start.Clone();
        double trace = family.FactorTermsSingle(values, b, kind, fusedQ, fusedC, diagonal, weight, norms);

        Assert.Equal(expectedQ, fusedQ);
        Assert.True(Assertions.RelativeError(fusedC, c) < 1e-15, "C (⟨f,f⟩ may be summed in another order)");
        Assert.True(Assertions.RelativeError(diagonal, expectedDiagonal) < 1e-15, "diagonal sums");
        Assert.Equal(expectedTrace, trace, 1e-14 * Math.Abs(expectedTrace));
    }

    [Theory]
    [InlineData(HessianKind.Exact, false)]
    [InlineData(HessianKind.GaussNewton, false)]
    [InlineData(HessianKind.GaussNewton, true)]
    public void A_shard_with_the_fused_operators_answers_as_one_through_the_row_terms(HessianKind kind, bool weighted)
    {
        // 300 rows: groups of 128, 128 and 44, chunks of 32 within them.
        const int n = 300, d = 4;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, weighted, 900);
        var x = MatrixTestProblems.RandomX(d, 901, 2.0);
        var v = MatrixTestProblems.RandomX(d, 902);
        var fused = new MatrixShard(NormalizedSoftmax.Instance, p.A1, p.A2, p.B, p.W, 0, ShardComputeOptions.Sequential);
        var terms = new MatrixShard(new TermsOnly(NormalizedSoftmax.Instance), p.A1, p.A2, p.B, p.W, 0, ShardComputeOptions.Sequential);
        double[] globals = { 0 };

        var gf = ((GradientReply)fused.Evaluate(new GradientRequest(x, globals, kind, false))).Gradient;
        var gt = ((GradientReply)terms.Evaluate(new GradientRequest(x, globals, kind, false))).Gradient;
        double ge = Assertions.RelativeError(gf, gt);
        Assert.True(ge < 1e-13, $"gradient rel err {ge:E2}");
        var hf = ((HessianVectorReply)fused.Evaluate(new HessianVectorRequest(x, globals, kind, v))).Product;
        var ht = ((HessianVectorReply)terms.Evaluate(new HessianVectorRequest(x, globals, kind, v))).Product;
        double he = Assertions.RelativeError(hf, ht);
        Assert.True(he < 1e-13, $"H·V rel err {he:E2}");
        var ff = (KroneckerFactorsReply)fused.Evaluate(new KroneckerFactorsRequest(x, kind));
        var ft = (KroneckerFactorsReply)terms.Evaluate(new KroneckerFactorsRequest(x, kind));
        double fe = Math.Max(Assertions.RelativeError(ff.LeftPacked, ft.LeftPacked), Assertions.RelativeError(ff.RightPacked, ft.RightPacked));
        Assert.True(fe < 1e-13, $"Kronecker factors rel err {fe:E2}");
        Assert.Equal(ft.WeightSum, ff.WeightSum, 1e-13 * Math.Abs(ft.WeightSum));
    }

    [Fact]
    public void Cached_row_values_answer_as_fresh_rows_and_give_way_to_M_when_a_request_needs_it()
    {
        // Every request at one x, in a solve's order and out of it, against a shard that keeps nothing between requests.
        const int n = 200, d = 4;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, false, 910);
        var x = MatrixTestProblems.RandomX(d, 911, 2.0);
        var v = MatrixTestProblems.RandomX(d, 912);
        var cached = new MatrixShard(NormalizedSoftmax.Instance, p.A1, p.A2, p.B, null, 0, ShardComputeOptions.Sequential);
        var streaming = new MatrixShard(NormalizedSoftmax.Instance, p.A1, p.A2, p.B, null, 0, ShardComputeOptions.Sequential, maxCachedEntries: 0);
        double[] globals = { 0 };
        ShardRequest[] requests =
        {
            new ScalarsRequest(x),                                           // forms M, leaves the values
            new GradientRequest(x, globals, HessianKind.GaussNewton, false), // reads the values
            new KroneckerFactorsRequest(x, HessianKind.GaussNewton),          // terms from the values
            new HessianVectorRequest(x, globals, HessianKind.GaussNewton, v), // values again
            new HessianVectorRequest(x, globals, HessianKind.Exact, v),
            new RowProductsRequest(x),                                        // needs M: formed again
            new ScalarsRequest(x),
            new KroneckerFactorsRequest(x, HessianKind.Exact),
        };
        foreach (var request in requests)
        {
            var expected = Flatten(streaming.Evaluate(request));
            Assert.Equal(expected, Flatten(cached.Evaluate(request)));
        }
    }

    private static double[] Flatten(ShardReply reply) => reply switch
    {
        ScalarsReply s => [s.Family.Sums[0], s.RegularizerSum],
        GradientReply g => g.Gradient,
        HessianVectorReply h => h.Product,
        KroneckerFactorsReply k => [.. k.LeftPacked, .. k.RightPacked, k.WeightSum],
        RowProductsReply r => r.Products,
        _ => throw new InvalidOperationException(reply.GetType().Name),
    };

    /// <summary>A family's <see cref="IVectorFamily"/> alone, hiding its fused operators: the shard then takes the row terms.</summary>
    private sealed class TermsOnly(IVectorFamily inner) : IVectorFamily
    {
        public string Name => inner.Name;
        public int[] ScalarPowers => inner.ScalarPowers;
        public int LowRankCount => inner.LowRankCount;
        public ScalarSums LocalScalars(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[]? reference) => inner.LocalScalars(z, b, reference);
        public double[] Globals(ScalarSums merged, double[]? reference) => inner.Globals(merged, reference);
        public void RowTerms(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] globals, HessianKind kind, Span<double> g, Span<double> d, Span<double> q) =>
            inner.RowTerms(z, b, globals, kind, g, d, q);
        public double[] OwnGlobalsAndRowTerms(ReadOnlySpan<double> z, ReadOnlySpan<double> b, HessianKind kind, Span<double> g, Span<double> d, Span<double> q) =>
            inner.OwnGlobalsAndRowTerms(z, b, kind, g, d, q);
        public double[] LowRankCoefficients(double[] globals, HessianKind kind) => inner.LowRankCoefficients(globals, kind);
        public int GradientBasisCount => inner.GradientBasisCount;
        public void GradientBasis(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] reference, Span<double> basis) =>
            inner.GradientBasis(z, b, reference, basis);
        public double[]? GradientCoefficients(double[] globals, double[] reference) => inner.GradientCoefficients(globals, reference);
        public double[]? LowRankFromBasis(double[] globals, double[] reference, HessianKind kind) => inner.LowRankFromBasis(globals, reference, kind);
    }

    [Theory]
    [MemberData(nameof(KindsAndRegularisers))]
    public void The_512_bit_single_precision_row_products_agree_with_the_Vector_T_ones_and_with_double(HessianKind kind, bool regularised, double shift)
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) return;
        var (z, b, w2, y) = RandomRow(43, shift, regularised);
        int n = z.Length;
        var family = NormalizedSoftmax.Instance;
        var values = new double[n];
        family.RowValues(z, values);
        var exact = (double[])y.Clone();
        family.HessianProduct(values, b, kind, w2, exact, new double[(IOwnRowOperators.ScratchPerEntry + 1) * n]);
        var yFloat = y.Select(v => (float)v).ToArray();
        var wide = (float[])yFloat.Clone();
        var narrow = (float[])yFloat.Clone();
        var scratch = new double[n];
        if (kind == HessianKind.Exact)
        {
            WideRowProducts.Exact(values, b, w2, wide);
            NormalizedSoftmax.ExactProductSingle(values, b, w2, narrow);
        }
        else
        {
            WideRowProducts.GaussNewton(values, w2, wide, scratch);
            NormalizedSoftmax.GaussNewtonProductSingle(values, w2, narrow, scratch);
        }
        double scale = exact.Max(Math.Abs);
        for (int i = 0; i < n; i++)
        {
            // Both round y to floats, sum in double in another lane order, and round the result: a few float ulps.
            Assert.True(Math.Abs(wide[i] - narrow[i]) <= 1e-6 * scale, $"entry {i}: {wide[i]} against {narrow[i]}");
            Assert.True(Math.Abs(wide[i] - exact[i]) <= 1e-6 * scale, $"entry {i}: {wide[i]} against the double {exact[i]}");
        }
    }

    public static IEnumerable<object[]> KindsShiftsAndLengths()
    {
        foreach (var kind in new[] { HessianKind.Exact, HessianKind.GaussNewton })
            foreach (var shift in new[] { 0.0, 600.0 })
                foreach (var n in new[] { 203, 1031 })   // one partial block of single-precision sums; four and a tail
                    yield return new object[] { kind, shift, n };
    }

    [Theory]
    [MemberData(nameof(KindsShiftsAndLengths))]
    public void Products_from_the_single_precision_row_terms_agree_with_the_double_ones(HessianKind kind, double shift, int n)
    {
        var family = NormalizedSoftmax.Instance;
        if (!family.SingleRowTermsAvailable) return;
        var (z, b, _, y) = RandomRow(44, shift, false, n);
        var values = new double[n];
        family.RowValues(z, values);
        var terms = new float[IOwnRowOperators.SingleTermsPerEntry * n];
        var sums = new double[IOwnRowOperators.SingleTermSumsPerRow];
        family.SingleRowTerms(values, b, terms, sums);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal((float)values[i], terms[i]);
            Assert.Equal((float)((2 * values[i] - b[i]) * values[i]), terms[n + i]);
        }
        Assert.Equal(values.Sum(f => f * f), sums[0], 1e-15);
        Assert.Equal(values.Zip(b, (f, bi) => f * bi).Sum(), sums[1], 1e-15);

        var exact = (double[])y.Clone();
        family.HessianProduct(values, b, kind, ReadOnlySpan<double>.Empty, exact, new double[(IOwnRowOperators.ScratchPerEntry + 1) * n]);
        var single = y.Select(v => (float)v).ToArray();
        family.HessianProductFromSingleTerms(terms, sums, kind, single);
        // f, v and y rounded to floats, products and sums of 256 entries in single precision: a few float ulps of the
        // largest entry (the double-computed single-precision product is held to 1e-6 of it above).
        double scale = exact.Max(Math.Abs);
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(single[i] - exact[i]) <= 1e-6 * scale, $"entry {i}: {single[i]} against the double {exact[i]}");
        Assert.True(exact.Zip(single, (e, s) => Math.Abs(e - s)).Max() > 0, "the single-precision product equals the double one exactly");
    }
}
