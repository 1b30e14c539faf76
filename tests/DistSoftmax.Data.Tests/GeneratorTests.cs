using DistSoftmax.Core;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Linear;

namespace DistSoftmax.Data.Tests;

public sealed class GeneratorTests
{
    // ------------------------------------------------------------ independent reference computations

    private static long[] Bits(double[] v) => v.Select(BitConverter.DoubleToInt64Bits).ToArray();

    private static double[] Times(IRowMatrix a, double[] x)
    {
        var dense = a as DenseMatrix ?? ((CsrMatrix)a).ToDense();
        var z = new double[dense.Rows];
        for (int i = 0; i < dense.Rows; i++)
            for (int j = 0; j < dense.Cols; j++)
                z[i] += dense[i, j] * x[j];
        return z;
    }

    private static double[] ReferenceSoftmax(double[] z)
    {
        double m = z.Max();
        double[] e = z.Select(v => Math.Exp(v - m)).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    private static void AssertClose(double[] expected, double[] actual, double relTol)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relTol * scale, $"index {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    private static double MeanSquare(IEnumerable<double> v) => v.Average(x => x * x);

    // ------------------------------------------------------------ matrices

    [Fact]
    public void Dense_gaussian_is_reproducible_and_seed_dependent()
    {
        var a = Generators.DenseGaussian(50, 20, 1);
        Assert.Equal(Bits(a.Data), Bits(Generators.DenseGaussian(50, 20, 1).Data));
        Assert.NotEqual(Bits(a.Data), Bits(Generators.DenseGaussian(50, 20, 2).Data));
        // Row i comes from its own stream, so a smaller n gives the first rows of a larger one.
        Assert.Equal(Bits(a.SliceDense(0, 10).Data), Bits(Generators.DenseGaussian(10, 20, 1).Data));
    }

    [Fact]
    public void Dense_gaussian_entries_have_variance_one_over_d()
    {
        const int n = 500, d = 40; // 20000 entries: the mean square has relative std √(2/20000) ≈ 1%
        var a = Generators.DenseGaussian(n, d, 3);
        Assert.InRange(MeanSquare(a.Data) * d, 0.95, 1.05);
        Assert.InRange(a.Data.Average(), -5 / Math.Sqrt(n * d * (double)d), 5 / Math.Sqrt(n * d * (double)d));
    }

    [Fact]
    public void Sparse_gaussian_is_reproducible_and_seed_dependent()
    {
        var a = Generators.SparseGaussian(100, 30, 0.2, 5);
        var b = Generators.SparseGaussian(100, 30, 0.2, 5);
        Assert.Equal(a.RowPointers, b.RowPointers);
        Assert.Equal(a.ColumnIndices, b.ColumnIndices);
        Assert.Equal(Bits(a.Values), Bits(b.Values));
        var c = Generators.SparseGaussian(100, 30, 0.2, 6);
        Assert.False(a.ColumnIndices.SequenceEqual(c.ColumnIndices) && a.Values.SequenceEqual(c.Values));
    }

    [Fact]
    public void Sparse_gaussian_density_and_scale_match_the_request()
    {
        const int n = 2000, d = 200;
        const double p = 0.05;
        var a = Generators.SparseGaussian(n, d, p, 11);
        // nnz is a sum of n·d Bernoulli(p) draws, plus one forced entry per row that came out empty.
        double expected = n * (d * p + Math.Pow(1 - p, d));
        double sigma = Math.Sqrt(n * d * p * (1 - p));
        Assert.InRange(a.StoredEntries, expected - 5 * sigma, expected + 5 * sigma);
        // No column is favoured (an off-by-one in the skipping would starve the first or the last column).
        foreach (int col in new[] { 0, d - 1 })
        {
            int count = a.ColumnIndices.Count(c => c == col);
            double colSigma = Math.Sqrt(n * p * (1 - p));
            Assert.InRange(count, n * p - 5 * colSigma, n * p + 5 * colSigma);
        }
        // Values N(0, 1/(d·p)): ~20000 of them, the mean square within 5% (≈ 5 standard deviations).
        Assert.InRange(MeanSquare(a.Values) * d * p, 0.95, 1.05);
    }

    [Fact]
    public void Sparse_gaussian_has_a_nonzero_in_every_row_even_at_tiny_density()
    {
        var a = Generators.SparseGaussian(300, 10, 0.01, 2);
        for (int i = 0; i < a.Rows; i++)
        {
            Assert.True(a.RowPointers[i + 1] > a.RowPointers[i], $"row {i} is empty");
            for (long k = a.RowPointers[i]; k < a.RowPointers[i + 1]; k++) Assert.NotEqual(0.0, a.Values[k]);
        }
    }

    [Fact]
    public void Full_density_is_dense()
    {
        var a = Generators.SparseGaussian(7, 9, 1.0, 4);
        Assert.Equal(63, a.StoredEntries);
    }

    [Fact]
    public void Invalid_arguments_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Generators.DenseGaussian(0, 5, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Generators.SparseGaussian(5, 5, 0.0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Generators.SparseGaussian(5, 5, 1.5, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Generators.Normalized(5, 5, 1, noise: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Generators.Hyperbolic(5, 5, Unit.Exp, 1, xScale: double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => Generators.Hyperbolic(5, 5, Unit.Exp, 1, xScale: 1e6));
        Assert.Equal(UnitCatalog.UnitParameter, Assert.Throws<ParameterException>(() => Generators.ParseUnit("tan")).Parameter);
        Assert.Equal(Unit.Tanh, Generators.ParseUnit("tanh"));
        Assert.Equal(Unit.Cosh, Generators.ParseUnit(" COSH "));
    }

    // ------------------------------------------------------------ normalized

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Normalized_planted_b_is_softmax_of_A_x_true(bool sparse)
    {
        var inst = Generators.Normalized(400, 12, 9, sparse: sparse, density: 0.3, planted: true);
        Assert.Equal(sparse, inst.A is CsrMatrix);
        Assert.Equal((400, 12), (inst.A.Rows, inst.A.Cols));
        Assert.NotNull(inst.XTrue);
        Assert.Equal(1.0, inst.B.Sum(), 12);
        AssertClose(ReferenceSoftmax(Times(inst.A, inst.XTrue!)), inst.B, 1e-12);
    }

    [Fact]
    public void Normalized_softmax_is_max_shifted_so_huge_scores_do_not_overflow()
    {
        // xScale 1000 gives scores of order ±1000, far beyond exp's range (about 709).
        var inst = Generators.Normalized(50, 5, 19, xScale: 1000, planted: true);
        double[] z = Times(inst.A, inst.XTrue!);
        Assert.True(z.Max() > 710);
        Assert.All(inst.B, v => Assert.True(double.IsFinite(v)));
        Assert.Equal(1.0, inst.B.Sum(), 12);
        Assert.Equal(Array.IndexOf(z, z.Max()), Array.IndexOf(inst.B, inst.B.Max()));
    }

    [Fact]
    public void Normalized_noisy_b_is_a_mixture_with_a_probability_vector()
    {
        const double noise = 0.1;
        var inst = Generators.Normalized(300, 8, 4, noise: noise);
        double[] f = ReferenceSoftmax(Times(inst.A, inst.XTrue!));
        Assert.Equal(1.0, inst.B.Sum(), 12);
        // w = (b − (1 − noise) f) / noise must be a Dirichlet draw: non-negative, summing to 1, and not f itself.
        double[] w = inst.B.Zip(f, (b, fi) => (b - (1 - noise) * fi) / noise).ToArray();
        Assert.All(w, wi => Assert.True(wi >= -1e-12));
        Assert.Equal(1.0, w.Sum(), 10);
        Assert.True(inst.B.Zip(f).Max(t => Math.Abs(t.First - t.Second)) > 1e-6);
    }

    [Fact]
    public void Normalized_uses_the_dense_gaussian_A_and_x_with_the_requested_scale()
    {
        var inst = Generators.Normalized(6, 4000, 21, xScale: 3.0);
        Assert.Equal(Bits(Generators.DenseGaussian(6, 4000, 21).Data), Bits(((DenseMatrix)inst.A).Data));
        Assert.InRange(MeanSquare(inst.XTrue!) / 9.0, 0.9, 1.1); // 4000 draws: relative std ≈ 2.2%
    }

    [Fact]
    public void Same_seed_gives_the_same_bytes_on_disk()
    {
        using var d1 = new TempDir();
        using var d2 = new TempDir();
        using var d3 = new TempDir();
        Generators.WriteVectorInstance(d1.Path, Generators.Normalized(200, 10, 77));
        Generators.WriteVectorInstance(d2.Path, Generators.Normalized(200, 10, 77));
        Generators.WriteVectorInstance(d3.Path, Generators.Normalized(200, 10, 78));
        foreach (var name in new[] { "A.npy", "b.npy", "x_true.npy" })
        {
            Assert.Equal(File.ReadAllBytes(d1.File(name)), File.ReadAllBytes(d2.File(name)));
            Assert.NotEqual(File.ReadAllBytes(d1.File(name)), File.ReadAllBytes(d3.File(name)));
        }
    }

    [Fact]
    public void Demo_instance()
    {
        var demo = Generators.Demo();
        Assert.IsType<DenseMatrix>(demo.A);
        Assert.Equal((20000, 50), (demo.A.Rows, demo.A.Cols));
        Assert.Equal(20000, demo.B.Length);
        Assert.Equal(50, demo.XTrue!.Length);
        Assert.Equal(1.0, demo.B.Sum(), 10);
        Assert.Equal(Bits(demo.B), Bits(Generators.Normalized(20000, 50, 42, noise: 0.1).B));
    }

    // ------------------------------------------------------------ hyperbolic and rescaled

    private static Func<double, double> U(Unit unit) => unit switch
    {
        Unit.Exp => Math.Exp,
        Unit.Cosh => Math.Cosh,
        Unit.Sinh => Math.Sinh,
        Unit.Tanh => Math.Tanh,
        _ => throw new ArgumentOutOfRangeException(nameof(unit), unit, "no reference function"),
    };

    [Theory]
    [InlineData(Unit.Exp, false)]
    [InlineData(Unit.Cosh, true)]
    [InlineData(Unit.Sinh, false)]
    [InlineData(Unit.Tanh, true)]
    public void Hyperbolic_planted_b_is_u_of_A_x_true(Unit unit, bool sparse)
    {
        var inst = Generators.Hyperbolic(300, 10, unit, 13, sparse: sparse, density: 0.3);
        double[] expected = Times(inst.A, inst.XTrue!).Select(U(unit)).ToArray();
        AssertClose(expected, inst.B, 1e-12);
    }

    [Fact]
    public void Hyperbolic_noise_is_scaled_gaussian_and_reproducible()
    {
        const double noise = 0.05;
        var clean = Generators.Hyperbolic(4000, 5, Unit.Cosh, 17);
        var noisy = Generators.Hyperbolic(4000, 5, Unit.Cosh, 17, noise: noise);
        Assert.Equal(Bits(noisy.B), Bits(Generators.Hyperbolic(4000, 5, Unit.Cosh, 17, noise: noise).B));
        Assert.Equal(Bits(clean.XTrue!), Bits(noisy.XTrue!));
        double meanAbs = clean.B.Average(Math.Abs);
        double[] eps = noisy.B.Zip(clean.B, (a, b) => (a - b) / (noise * meanAbs)).ToArray();
        Assert.InRange(MeanSquare(eps), 0.9, 1.1); // standard normal: mean square 1 ± 2.2%
    }

    [Theory]
    [InlineData(Unit.Exp)]
    [InlineData(Unit.Cosh)]
    [InlineData(Unit.Sinh)]
    [InlineData(Unit.Tanh)]
    public void Rescaled_has_an_exact_zero_at_x_true(Unit unit)
    {
        var inst = Generators.Rescaled(500, 10, unit, 23);
        double[] u = Times(inst.A, inst.XTrue!).Select(U(unit)).ToArray();
        double s = u.Sum();
        Assert.Equal(1.0, inst.B.Sum(), 12);
        double[] residual = u.Select((ui, i) => ui - s * inst.B[i]).ToArray();
        Assert.True(Math.Sqrt(MeanSquare(residual)) <= 1e-12 * Math.Sqrt(MeanSquare(u)));
    }

    [Fact]
    public void Rescaled_sinh_redraws_x_when_the_sum_nearly_cancels()
    {
        int redraws = 0;
        for (ulong seed = 0; seed < 40; seed++)
        {
            // Hyperbolic uses the first x stream, so its b is u(A x) for the first draw.
            double[] first = Generators.Hyperbolic(400, 10, Unit.Sinh, seed).B;
            bool nearZero = Math.Abs(first.Sum()) < 0.25 * Math.Sqrt(first.Sum(v => v * v));
            var rescaled = Generators.Rescaled(400, 10, Unit.Sinh, seed);
            var firstX = Generators.Hyperbolic(400, 10, Unit.Sinh, seed).XTrue!;
            Assert.Equal(nearZero, !Bits(firstX).SequenceEqual(Bits(rescaled.XTrue!)));
            double[] u = Times(rescaled.A, rescaled.XTrue!).Select(Math.Sinh).ToArray();
            Assert.True(Math.Abs(u.Sum()) >= 0.25 * Math.Sqrt(u.Sum(v => v * v)));
            if (nearZero) redraws++;
        }
        Assert.True(redraws > 0, "no seed exercised the redraw");
    }

    // ------------------------------------------------------------ multiple

    [Fact]
    public void Multiple_planted_rows_are_softmax_of_A1_X_A2T()
    {
        const int n = 25, d = 4;
        var inst = Generators.Multiple(n, d, 31, planted: true);
        Assert.Equal((n, d), (inst.A1.Rows, inst.A1.Cols));
        Assert.Equal((n, d), (inst.A2.Rows, inst.A2.Cols));
        Assert.Equal((n, n), (inst.B.Rows, inst.B.Cols));
        Assert.Equal((d, d), (inst.XTrue!.Rows, inst.XTrue.Cols));
        Assert.NotEqual(Bits(inst.A1.Data), Bits(inst.A2.Data));
        for (int j = 0; j < n; j++)
        {
            var z = new double[n];
            for (int k = 0; k < n; k++)
                for (int l = 0; l < d; l++)
                    for (int m = 0; m < d; m++)
                        z[k] += inst.A1[j, l] * inst.XTrue[l, m] * inst.A2[k, m];
            AssertClose(ReferenceSoftmax(z), inst.B.Row(j).ToArray(), 1e-12);
        }
    }

    [Fact]
    public void Multiple_noisy_rows_are_distributions_and_reproducible()
    {
        var a = Generators.Multiple(20, 3, 8, planted: false);
        var planted = Generators.Multiple(20, 3, 8, planted: true);
        Assert.Equal(Bits(a.B.Data), Bits(Generators.Multiple(20, 3, 8, planted: false).B.Data));
        Assert.Equal(Bits(a.A1.Data), Bits(planted.A1.Data));
        for (int j = 0; j < 20; j++)
        {
            Assert.Equal(1.0, a.B.Row(j).ToArray().Sum(), 12);
            Assert.All(a.B.Row(j).ToArray(), v => Assert.True(v > 0));
        }
        Assert.NotEqual(Bits(a.B.Data), Bits(planted.B.Data));
    }

    // ------------------------------------------------------------ instance directories

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Vector_instance_round_trip(bool sparse)
    {
        using var dir = new TempDir();
        var inst = Generators.Normalized(50, 6, 3, sparse: sparse, density: 0.4);
        var written = Generators.WriteVectorInstance(dir.Path, inst);
        Assert.Equal(new[] { sparse ? "A.mtx" : "A.npy", "b.npy", "x_true.npy" }, written.Select(Path.GetFileName));
        var back = Generators.ReadVectorInstance(dir.Path);
        Assert.Equal(inst.A.GetType(), back.A.GetType());
        var da = inst.A as DenseMatrix ?? ((CsrMatrix)inst.A).ToDense();
        var db = back.A as DenseMatrix ?? ((CsrMatrix)back.A).ToDense();
        Assert.Equal(Bits(da.Data), Bits(db.Data));
        Assert.Equal(Bits(inst.B), Bits(back.B));
        Assert.Equal(Bits(inst.XTrue!), Bits(back.XTrue!));
    }

    [Fact]
    public void Rewriting_an_instance_directory_removes_stale_files()
    {
        using var dir = new TempDir();
        Generators.WriteVectorInstance(dir.Path, Generators.Normalized(20, 4, 1));
        var sparse = Generators.Normalized(20, 4, 1, sparse: true);
        Generators.WriteVectorInstance(dir.Path, sparse with { XTrue = null });
        Assert.Equal(new[] { "A.mtx", "b.npy" }, dir.Entries().Order());
        Assert.Null(Generators.ReadVectorInstance(dir.Path).XTrue);
    }

    [Fact]
    public void Reading_an_instance_checks_shapes()
    {
        using var dir = new TempDir();
        Generators.WriteVectorInstance(dir.Path, Generators.Normalized(20, 4, 1));
        Npy.Write(dir.File("b.npy"), new double[19]);
        var e = Assert.Throws<DataFormatException>(() => Generators.ReadVectorInstance(dir.Path));
        Assert.Contains("has 19 entries but A has 20 rows", e.Message);
    }

    [Fact]
    public void Matrix_instance_round_trip()
    {
        using var dir = new TempDir();
        var inst = Generators.Multiple(12, 3, 5, planted: false);
        var written = Generators.WriteMatrixInstance(dir.Path, inst);
        Assert.Equal(new[] { "A1.npy", "A2.npy", "B.npy", "X_true.npy" }, written.Select(Path.GetFileName));
        var back = Generators.ReadMatrixInstance(dir.Path);
        Assert.Equal(Bits(inst.A1.Data), Bits(back.A1.Data));
        Assert.Equal(Bits(inst.A2.Data), Bits(back.A2.Data));
        Assert.Equal(Bits(inst.B.Data), Bits(back.B.Data));
        Assert.Equal(Bits(inst.XTrue!.Data), Bits(back.XTrue!.Data));
    }
}
