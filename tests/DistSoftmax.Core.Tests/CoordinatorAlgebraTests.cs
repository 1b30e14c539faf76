using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;
using Xunit;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The blocked d×d kernels of the coordinator and of the sketch replies: the blocked Householder R and the TSQR merge
/// (RᵀR equals the Gram of what was stacked; R equals the R of the stacked matrix up to the signs of its rows), per-shard
/// triangle replies merged in shard order against the R of the stacked per-shard sketches, the blocked multi-threaded
/// Cholesky against the unblocked one, and the blocked SYRK against the four-row one.
/// </summary>
public class CoordinatorAlgebraTests
{
    private static double[] Random(int length, ulong seed)
    {
        var v = new double[length];
        new Rng(seed).FillNormal(v);
        return v;
    }

    /// <summary>MᵀM of a row-major m×d matrix, full d×d.</summary>
    private static double[] Gram(ReadOnlySpan<double> m, int rows, int d)
    {
        var g = new double[d * d];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < d; i++)
            {
                double a = m[r * d + i];
                for (int j = 0; j < d; j++) g[i * d + j] += a * m[r * d + j];
            }
        return g;
    }

    /// <summary>RᵀR of a packed upper R, full d×d.</summary>
    private static double[] GramOfPacked(double[] packed, int d)
    {
        var r = new double[d * d];
        int p = 0;
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) r[i * d + j] = packed[p++];
        return Gram(r, d, d);
    }

    /// <summary>Packed R with every row multiplied by the sign of its diagonal (R is unique up to those signs).</summary>
    private static double[] SignNormalised(double[] packed, int d)
    {
        var r = (double[])packed.Clone();
        int p = 0;
        for (int i = 0; i < d; i++)
        {
            double sign = r[p] < 0 ? -1 : 1;
            for (int j = i; j < d; j++) r[p++] *= sign;
        }
        return r;
    }

    private static double MaxAbs(double[] v) => v.Max(Math.Abs);

    private static void AssertGramClose(double[] expected, double[] actual, string what)
    {
        double scale = MaxAbs(expected), err = 0;
        for (int i = 0; i < expected.Length; i++) err = Math.Max(err, Math.Abs(expected[i] - actual[i]));
        Assert.True(err <= 1e-12 * scale * Math.Sqrt(expected.Length), $"{what}: max |RᵀR − MᵀM| = {err:E2} against max {scale:E2}");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 5)]
    [InlineData(40, 33)]
    [InlineData(33, 33)]
    [InlineData(280, 70)]
    [InlineData(400, 100)]
    public void Blocked_R_gives_the_Gram_and_equals_the_unblocked_R(int m, int d)
    {
        var a = Random(m * d, (ulong)(m * 1000 + d));
        var r = HouseholderQr.PackedR(a, m, d);
        AssertGramClose(Gram(a, m, d), GramOfPacked(r, d), $"{m}×{d}");
        var reference = Packed.FromUpper(DenseAlgebra.QrR(a, m, d), d);
        double err = Assertions.RelativeError(SignNormalised(r, d), SignNormalised(reference, d));
        Assert.True(err < 1e-11, $"{m}×{d}: blocked R differs from the unblocked one by {err:E2}");
        Assert.Equal(r, HouseholderQr.PackedR(a, m, d, maxThreads: 1));
    }

    [Fact]
    public void Blocked_R_of_a_rank_deficient_matrix_still_gives_the_Gram()
    {
        int m = 120, d = 40;
        var a = Random(m * d, 5);
        for (int i = 0; i < m; i++) { a[i * d + 3] = 0; a[i * d + 37] = 2 * a[i * d + 1]; }
        var r = HouseholderQr.PackedR(a, m, d);
        AssertGramClose(Gram(a, m, d), GramOfPacked(r, d), "rank-deficient");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    [InlineData(50)]
    [InlineData(130)]
    public void Tsqr_merge_equals_the_R_of_the_stacked_matrices(int d)
    {
        int m1 = 2 * d + 3, m2 = 3 * d;
        var a1 = Random(m1 * d, 11); var a2 = Random(m2 * d, 12);
        var merged = HouseholderQr.MergePacked(HouseholderQr.PackedR(a1, m1, d), HouseholderQr.PackedR(a2, m2, d), d);
        var stacked = a1.Concat(a2).ToArray();
        AssertGramClose(Gram(stacked, m1 + m2, d), GramOfPacked(merged, d), $"merge d = {d}");
        double err = Assertions.RelativeError(SignNormalised(merged, d), SignNormalised(HouseholderQr.PackedR(stacked, m1 + m2, d), d));
        Assert.True(err < 1e-11, $"d = {d}: merged R differs from the stacked R by {err:E2}");
        Assert.Equal(merged, HouseholderQr.MergePacked(HouseholderQr.PackedR(a1, m1, d), HouseholderQr.PackedR(a2, m2, d), d, maxThreads: 1));
    }

    /// <summary>
    /// Three shards each return the packed R of their own CountSketch; merged in shard order it is the R of the three
    /// row-form sketches stacked, for the gradient pass and for the one-pass trial.
    /// </summary>
    [Fact]
    public void Triangle_replies_merged_in_shard_order_equal_the_R_of_the_stacked_shard_sketches()
    {
        int n = 3000, d = 24, m = 4 * d;
        const ulong seed = 99;
        var p = new TestProblem(NormalizedSoftmax.Instance, TestProblem.Gaussian(n, d, 21, 1.0 / Math.Sqrt(d)),
            TestProblem.Distribution(n, 22), Regularizer.None);
        var x = TestProblem.Vector(d, 23, 0.5);
        var driver = p.Driver(3);
        var point = p.Objective.Evaluate(x, (ScalarsReply)driver.Evaluate(new ScalarsRequest(x)));
        var shards = ShardLayout.VectorShards(p.Family, p.A, p.B, p.Reg, 3);
        var stacked = shards.SelectMany(s =>
            ((GradientReply)s.Evaluate(new GradientRequest(x, point.Globals, HessianKind.GaussNewton, true, m, seed))).Sketch).ToArray();
        Assert.Equal(3 * m * d, stacked.Length);
        var expected = HouseholderQr.PackedR(stacked, 3 * m, d);

        var gradient = (GradientReply)driver.Evaluate(new GradientRequest(x, point.Globals, HessianKind.GaussNewton, true, m, seed, SketchForm.Triangle));
        Assert.Equal(d, gradient.SketchColumns);
        Assert.Equal(Packed.Length(d), gradient.Sketch.Length);
        AssertGramClose(Gram(stacked, 3 * m, d), GramOfPacked(gradient.Sketch, d), "gradient pass");
        double err = Assertions.RelativeError(SignNormalised(gradient.Sketch, d), SignNormalised(expected, d));
        Assert.True(err < 1e-11, $"gradient pass: merged R differs from the stacked R by {err:E2}");

        var trial = (ScalarsReply)driver.Evaluate(new ScalarsRequest(x, point.Globals, true, m, seed, HessianKind.GaussNewton, SketchForm.Triangle));
        Assert.Equal(d, trial.SketchColumns);
        err = Assertions.RelativeError(SignNormalised(trial.Sketch, d), SignNormalised(expected, d));
        Assert.True(err < 1e-11, $"one-pass trial: merged R differs from the stacked R by {err:E2}");

        // Same layout, same answer, bit for bit.
        var again = (GradientReply)p.Driver(3).Evaluate(new GradientRequest(x, point.Globals, HessianKind.GaussNewton, true, m, seed, SketchForm.Triangle));
        Assert.Equal(gradient.Sketch, again.Sketch);
    }

    [Theory]
    [InlineData(191)]
    [InlineData(200)]
    [InlineData(257)]
    [InlineData(330)]
    public void Blocked_Cholesky_matches_the_unblocked_one_and_not_the_thread_count(int d)
    {
        var g = Random(2 * d * d, (ulong)d);
        var h = Gram(g, 2 * d, d);
        for (int i = 0; i < d; i++) h[i * d + i] += 1e-3;
        var unblocked = (double[])h.Clone();
        Assert.True(DenseAlgebra.TryCholesky(unblocked, d));
        var one = (double[])h.Clone();
        var two = (double[])h.Clone();
        Assert.True(BlockedCholesky.Factor(one, d, 1));
        Assert.True(BlockedCholesky.Factor(two, d, 2));
        Assert.Equal(one, two);
        double scale = Math.Sqrt(MaxAbs(h)), err = 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++) err = Math.Max(err, Math.Abs(one[i * d + j] - unblocked[i * d + j]));
        Assert.True(err < 1e-10 * scale, $"d = {d}: blocked L differs by {err:E2}");
        // The solve through SolveModified (blocked from 192 on) against the unblocked factor's.
        var rhs = Random(d, 7);
        var (p, modification) = DenseAlgebra.SolveModified(h, d, rhs);
        Assert.Equal(0.0, modification);
        Assert.True(Assertions.RelativeError(p, DenseAlgebra.CholeskySolve(unblocked, d, rhs)) < 1e-9);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(97)]
    public void A_packed_triangle_unpacks_to_its_symmetric_matrix_over_any_old_contents(int d)
    {
        var full = Random(d * d, (ulong)d + 40);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < i; j++) full[i * d + j] = full[j * d + i];
        var packed = Packed.FromUpper(full, d);
        Assert.Equal(full, Packed.ToSymmetric(packed, d));
        var reused = Enumerable.Repeat(double.NaN, d * d + 3).ToArray();   // a kept buffer: stale values, longer than d·d
        Packed.ToSymmetric(packed, d, reused);
        Assert.Equal(full, reused[..(d * d)]);
        Assert.Throws<ArgumentException>(() => Packed.ToSymmetric(packed, d, new double[d * d - 1]));
    }

    [Theory]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(150)]
    public void TryCholesky_leaves_L_in_the_lower_triangle_on_either_side_of_the_native_order(int d)
    {
        var h = Gram(Random(2 * d * d, (ulong)d + 3), 2 * d, d);
        for (int i = 0; i < d; i++) h[i * d + i] += 1e-3;
        var l = (double[])h.Clone();
        Assert.True(DenseAlgebra.TryCholesky(l, d));
        double scale = MaxAbs(h), err = 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = 0;
                for (int k = 0; k <= j; k++) sum += l[i * d + k] * l[j * d + k];
                err = Math.Max(err, Math.Abs(sum - h[i * d + j]));
            }
        Assert.True(err < 1e-12 * scale, $"d = {d}: L Lᵀ differs from H by {err:E2}");
        var indefinite = (double[])h.Clone();
        indefinite[(d / 2) * d + d / 2] = -1;
        Assert.False(DenseAlgebra.TryCholesky(indefinite, d));
    }

    [Fact]
    public void Solves_of_different_orders_one_after_another_each_match_the_managed_factor()
    {
        // SolveModified factors in one kept d×d scratch (SquareScratch), taken over by whatever order comes next.
        foreach (int d in new[] { 300, 40, 300, 5 })
        {
            var h = Gram(Random(2 * d * d, (ulong)d), 2 * d, d);
            for (int i = 0; i < d; i++) h[i * d + i] += 1e-3;
            var factor = (double[])h.Clone();
            Assert.True(DenseAlgebra.TryCholesky(factor, d));
            var rhs = Random(d, 11);
            var (p, modification) = DenseAlgebra.SolveModified(h, d, rhs);
            Assert.Equal(0.0, modification);
            Assert.True(Assertions.RelativeError(p, DenseAlgebra.CholeskySolve(factor, d, rhs)) < 1e-9, $"d = {d}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void The_packed_diagonal_index_finds_every_diagonal_entry(int d)
    {
        var full = Random(d * d, (ulong)d);
        var packed = Packed.FromUpper(full, d);
        for (int i = 0; i < d; i++) Assert.Equal(full[i * d + i], packed[Packed.DiagonalIndex(i, d)]);
        Assert.Equal(Packed.Length(d) - 1, Packed.DiagonalIndex(d - 1, d));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void Adding_upper_triangles_into_a_packed_sum_equals_packing_the_sum_of_the_full_matrices(int d)
    {
        var parts = new[] { Random(d * d, 11), Random(d * d, 12), Random(d * d, 13) };
        var expectedFull = (double[])parts[0].Clone();
        for (int k = 1; k < parts.Length; k++)
            for (int i = 0; i < d * d; i++) expectedFull[i] += parts[k][i];
        var packed = new double[Packed.Length(d)];
        Array.Fill(packed, double.NaN);   // overwrite must not read what was there
        for (int k = 0; k < parts.Length; k++) Packed.AddUpper(parts[k], d, packed, overwrite: k == 0);
        Assert.Equal(Packed.FromUpper(expectedFull, d), packed);
        Assert.Throws<ArgumentException>(() => Packed.AddUpper(parts[0], d, new double[Packed.Length(d) + 1]));
        Assert.Throws<ArgumentException>(() => Packed.AddUpper(parts[0].AsSpan(1), d, packed));
    }

    /// <summary>
    /// The packed Gram's factor in the R form (RᵀR = A + μI, OpenBLAS's dpotrf where present), packed by rows: R
    /// reproduces A, the two row-wise triangular solves invert RᵀR, the leverage triangle is the same R, and an
    /// indefinite A gives null. Factorising again in the reused scratch array gives the same R.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(9)]
    [InlineData(250)]
    public void The_packed_Cholesky_factor_R_reproduces_the_matrix_and_solves_with_it(int d)
    {
        var full = Gram(Random(3 * d * d, 61), 3 * d, d);
        var packed = Packed.FromUpper(full, d);
        var r = DistSoftmax.Core.Solvers.Curvature.PackedCholesky.FactorUpper(packed, d, 0)!;
        double worst = 0, scale = 0;
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++)
            {
                double sum = 0;
                for (int k = 0; k <= i; k++) sum += r[Packed.DiagonalIndex(k, d) + i - k] * r[Packed.DiagonalIndex(k, d) + j - k];
                worst = Math.Max(worst, Math.Abs(sum - full[i * d + j]));
                scale = Math.Max(scale, Math.Abs(full[i * d + j]));
            }
        Assert.True(worst <= 1e-10 * scale, $"d = {d}: |RᵀR − A| = {worst:E2}");
        var b = Random(d, 62);
        var x = (double[])b.Clone();
        DistSoftmax.Core.Solvers.Curvature.PackedCholesky.SolveTransposed(r, d, x);
        DistSoftmax.Core.Solvers.Curvature.PackedCholesky.Solve(r, d, x);
        var lower = (double[])full.Clone();
        Assert.True(DenseAlgebra.TryCholesky(lower, d));
        double err = Assertions.RelativeError(x, DenseAlgebra.CholeskySolve(lower, d, b));
        Assert.True(err < 1e-9, $"d = {d}: solve relative error {err:E2}");
        Assert.Equal(Packed.Length(d), r.Length);
        Assert.Equal(r, DistSoftmax.Core.Solvers.Curvature.PackedCholesky.LeverageTriangle(packed, d));
        full[0] = -1;
        Assert.Null(DistSoftmax.Core.Solvers.Curvature.PackedCholesky.LeverageTriangle(Packed.FromUpper(full, d), d));
    }

    /// <summary>
    /// Leverage projections from a packed triangle: Yᵀ must be (R⁻¹G)ᵀ for the Gaussian G drawn from the same stream,
    /// as the dense triangular solve computes it, with ‖G‖²_F as the total.
    /// </summary>
    [Theory]
    [InlineData(1, 8)]
    [InlineData(17, 8)]
    [InlineData(300, 12)]
    public void The_leverage_projection_from_a_packed_triangle_is_R_inverse_times_the_Gaussian(int d, int k)
    {
        var full = Gram(Random(2 * d * d, 71), 2 * d, d);
        var r = DistSoftmax.Core.Solvers.Curvature.PackedCholesky.FactorUpper(Packed.FromUpper(full, d), d, 0)!;
        var rFull = new double[d * d];
        for (int i = 0; i < d; i++)
            r.AsSpan(Packed.DiagonalIndex(i, d), d - i).CopyTo(rFull.AsSpan(i * d + i, d - i));
        var (projT, total) = DistSoftmax.Core.Sketching.LeverageProjection.FromTriangle(r, d, k, new Rng(72));
        var g = new double[d * k];
        new Rng(72).FillNormal(g, 1.0 / Math.Sqrt(k));
        var y = DenseAlgebra.UpperTriangularSolve(rFull, d, g, k);
        var expectedT = new double[k * d];
        for (int i = 0; i < d; i++)
            for (int c = 0; c < k; c++) expectedT[c * d + i] = y[i * k + c];
        Assert.True(Assertions.RelativeError(projT, expectedT) < 1e-12, $"d = {d}: Yᵀ differs by {Assertions.RelativeError(projT, expectedT):E2}");
        Assert.Equal(System.Numerics.Tensors.TensorPrimitives.Dot<double>(g, g), total, 12);
    }

    /// <summary>
    /// The sampled-Gram preconditioner factorises only the Gram G and applies the low-rank terms by Woodbury: where the
    /// model M = G + Σ_ab C_ab l_a l_bᵀ is positive definite, M⁻¹r must equal the dense solve of the assembled M.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(9)]
    [InlineData(70)]
    public void The_Woodbury_preconditioner_solves_the_assembled_positive_definite_model(int d)
    {
        var gram = Packed.FromUpper(Gram(Random(3 * d * d, 31), 3 * d, d), d);
        var lowRank = Random(2 * d, 32);
        double[] coefficients = { 0.7, -0.2, -0.2, -0.05 };   // symmetric, small enough that M stays definite
        var model = DistSoftmax.Core.Solvers.Curvature.DenseCurvature.Assemble(gram, d, lowRank, coefficients);
        var modelFactor = (double[])model.Clone();
        Assert.True(DenseAlgebra.TryCholesky(modelFactor, d));
        var preconditioner = DistSoftmax.Core.Solvers.Curvature.SampledGramPreconditioner.FromGram(gram, lowRank, coefficients, d, 5)!;
        var r = Random(d, 33);
        var expected = DenseAlgebra.CholeskySolve(modelFactor, d, r);
        double err = Assertions.RelativeError(preconditioner.Apply(r), expected);
        Assert.True(err < 1e-9, $"d = {d}: relative error {err:E2}");
    }

    /// <summary>
    /// Where the low-rank terms cancel the Gram's curvature (M indefinite), T's eigenvalues are floored, so M̃⁻¹ is
    /// positive definite and its curvature along l stays within 1/MinimumRelativeCurvature of G's.
    /// </summary>
    [Fact]
    public void The_Woodbury_preconditioner_stays_positive_definite_where_the_model_is_not()
    {
        int d = 12;
        var gram = Packed.FromUpper(Gram(Random(3 * d * d, 41), 3 * d, d), d);
        var l = Random(d, 42);
        var gramFull = Packed.ToSymmetric(gram, d);
        var gFactor = (double[])gramFull.Clone();
        Assert.True(DenseAlgebra.TryCholesky(gFactor, d));
        double lGinvL = System.Numerics.Tensors.TensorPrimitives.Dot<double>(l, DenseAlgebra.CholeskySolve(gFactor, d, l));
        // M = G − 2 l lᵀ/(lᵀG⁻¹l): along G⁻¹l the curvature relative to G is 1 − 2 = −1, so M is indefinite.
        double[] coefficients = { -2 / lGinvL };
        var model = DistSoftmax.Core.Solvers.Curvature.DenseCurvature.Assemble(gram, d, l, coefficients);
        Assert.False(DenseAlgebra.TryCholesky((double[])model.Clone(), d));
        var preconditioner = DistSoftmax.Core.Solvers.Curvature.SampledGramPreconditioner.FromGram(gram, l, coefficients, d, 5)!;
        for (int seed = 0; seed < 5; seed++)
        {
            var r = Random(d, 50 + (ulong)seed);
            Assert.True(System.Numerics.Tensors.TensorPrimitives.Dot<double>(r, preconditioner.Apply(r)) > 0);
        }
        // |−1| = 1: along l the floored model is G itself, so M̃⁻¹(G·G⁻¹l) = G⁻¹l, i.e. M̃⁻¹ l = G⁻¹ l.
        double err = Assertions.RelativeError(preconditioner.Apply(l), DenseAlgebra.CholeskySolve(gFactor, d, l));
        Assert.True(err < 1e-9, $"relative error {err:E2}");
    }

    [Fact]
    public void Blocked_Cholesky_refuses_an_indefinite_matrix()
    {
        int d = 260;
        var h = Gram(Random(2 * d * d, 3), 2 * d, d);
        h[200 * d + 200] = -1;
        Assert.False(BlockedCholesky.Factor((double[])h.Clone(), d, 2));
        var (_, modification) = DenseAlgebra.SolveModified(h, d, Random(d, 4));
        Assert.True(modification < 0);
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(5, 67)]
    [InlineData(129, 64)]
    [InlineData(300, 100)]
    [InlineData(260, 131)]
    public void Blocked_syrk_matches_the_four_row_one_on_the_upper_triangle_only(int rows, int d)
    {
        var a = Random(rows * d, (ulong)(rows + d)); var w = Random(rows, 8);
        var expected = new double[d * d];
        DenseKernels.SyrkUpper(a, rows, d, w, expected);
        var c = new double[d * d];
        BlockedSyrk.Upper(a, rows, d, w, c);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                if (j < i) { Assert.Equal(0.0, c[i * d + j]); continue; }
                Assert.True(Math.Abs(c[i * d + j] - expected[i * d + j]) <= 1e-12 * rows * (1 + Math.Abs(expected[i * d + j])),
                    $"C[{i},{j}] = {c[i * d + j]}, expected {expected[i * d + j]}");
            }
    }
}

/// <summary>
/// The two ways a shard forms its CountSketch — summed inside the pass into row-block accumulators, or after it in
/// column strips (large m·d) — give the same sketch, in both forms, for dense and sparse rows and 1 or 2 threads.
/// </summary>
public class SketchPathTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fused_and_strip_sketches_agree(bool sparse)
    {
        int n = 5000, d = 70, m = 4 * d;
        var a = TestProblem.Gaussian(n, d, 31, 1.0 / Math.Sqrt(d));
        var p = new TestProblem(NormalizedSoftmax.Instance, sparse ? a.ToCsr() : a, TestProblem.Distribution(n, 32), Regularizer.None);
        var x = TestProblem.Vector(d, 33, 0.5);
        var globals = p.Objective.Evaluate(x, (ScalarsReply)p.Driver().Evaluate(new ScalarsRequest(x))).Globals;
        VectorShard Shard(long limit, int threads) =>
            new(p.Family, p.A, p.B, p.Reg, 0, new ShardComputeOptions(threads)) { FusedSketchLimit = limit };
        foreach (var form in new[] { SketchForm.Rows, SketchForm.Triangle })
        {
            var gradient = new GradientRequest(x, globals, HessianKind.GaussNewton, true, m, 5, form);
            var trial = new ScalarsRequest(x, globals, true, m, 5, HessianKind.GaussNewton, form);
            var fused = ((GradientReply)Shard(long.MaxValue, 2).Evaluate(gradient)).Sketch;
            var strips = ((GradientReply)Shard(0, 2).Evaluate(gradient)).Sketch;
            Assert.Equal(strips, ((GradientReply)Shard(0, 1).Evaluate(gradient)).Sketch);
            var trialStrips = ((ScalarsReply)Shard(0, 2).Evaluate(trial)).Sketch;
            if (form == SketchForm.Triangle)
            {
                fused = Normalised(fused, d); strips = Normalised(strips, d); trialStrips = Normalised(trialStrips, d);
            }
            Assert.True(Assertions.RelativeError(strips, fused) < 1e-12, $"{form}: strips differ from the fused sketch");
            Assert.True(Assertions.RelativeError(trialStrips, fused) < 1e-12, $"{form}: the trial's strips differ");
        }
    }

    private static double[] Normalised(double[] packed, int d)
    {
        var r = (double[])packed.Clone();
        for (int i = 0, p = 0; i < d; i++)
        {
            double sign = r[p] < 0 ? -1 : 1;
            for (int j = i; j < d; j++) r[p++] *= sign;
        }
        return r;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public void The_inverse_from_a_Cholesky_factor_inverts_the_matrix_and_its_transposed_factor_orthonormalises(int d)
    {
        // G = AᵀA for a random 3d×d A: (L Lᵀ)⁻¹ G = I, and A·L⁻ᵀ has orthonormal columns.
        var rng = new Rng(31);
        var a = new double[3 * d * d];
        rng.FillNormal(a);
        var gram = new double[d * d];
        MatrixProducts.Gemm(d, d, 3 * d, MatrixProducts.Transpose(a, 3 * d, d), 3 * d, a, d, gram, d, false);
        var factor = (double[])gram.Clone();
        Assert.True(DenseAlgebra.TryCholesky(factor, d));
        var inverse = DenseAlgebra.InverseFromFactor(factor, d);
        var product = new double[d * d];
        MatrixProducts.Gemm(d, d, d, inverse, d, gram, d, product, d, false);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                Assert.True(Math.Abs(product[i * d + j] - (i == j ? 1 : 0)) < 1e-9, $"(G⁻¹G)[{i},{j}] = {product[i * d + j]}");
        var q = new double[3 * d * d];
        MatrixProducts.Gemm(3 * d, d, d, a, d, DenseAlgebra.InverseTransposedFactor(factor, d), d, q, d, false);
        var qtq = new double[d * d];
        MatrixProducts.Gemm(d, d, 3 * d, MatrixProducts.Transpose(q, 3 * d, d), 3 * d, q, d, qtq, d, false);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                Assert.True(Math.Abs(qtq[i * d + j] - (i == j ? 1 : 0)) < 1e-9, $"(QᵀQ)[{i},{j}] = {qtq[i * d + j]}");
    }
}
