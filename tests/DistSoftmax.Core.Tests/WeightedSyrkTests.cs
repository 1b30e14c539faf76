using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;
using Xunit;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The weighted Gram C += Aᵀ diag(w) A that every vector shard's Hessian goes through: OpenBLAS's dsyrk on
/// sign-split, √|w|-scaled rows (where Debian's libopenblas is installed) against the managed kernels, for weights
/// of both signs, zero weights, row counts across chunk boundaries and widths below and above the native threshold.
/// </summary>
public class WeightedSyrkTests
{
    private static double[] Normal(int count, ulong seed)
    {
        var v = new double[count];
        new Rng(seed).FillNormal(v, 1.0);
        return v;
    }

    [Theory]
    [InlineData(1, 64)]
    [InlineData(7, 63)]
    [InlineData(255, 70)]
    [InlineData(257, 64)]
    [InlineData(600, 131)]
    public void The_Gram_agrees_with_the_managed_kernels_on_the_upper_triangle_and_leaves_the_lower_alone(int rows, int d)
    {
        var a = Normal(rows * d, (ulong)(rows * 1000 + d));
        var w = Normal(rows, 5);
        for (int i = 0; i < rows; i += 5) w[i] = 0;                    // skipped rows
        var start = Normal(d * d, 6);                                   // C accumulates onto what it holds
        var expected = (double[])start.Clone();
        WeightedSyrk.Managed(a, rows, d, w, expected);
        var c = (double[])start.Clone();
        WeightedSyrk.Upper(a, rows, d, w, c);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                if (j < i) { Assert.Equal(start[i * d + j], c[i * d + j]); continue; }
                double scale = 1 + Math.Abs(start[i * d + j]);
                for (int r = 0; r < rows; r++) scale += Math.Abs(w[r] * a[r * d + i] * a[r * d + j]);
                Assert.True(Math.Abs(c[i * d + j] - expected[i * d + j]) <= 1e-14 * scale,
                    $"C[{i},{j}] = {c[i * d + j]}, expected {expected[i * d + j]}");
            }
    }

    [Fact]
    public void A_negative_weight_subtracts_its_row_and_a_NaN_weight_reaches_C()
    {
        int d = WeightedSyrk.NativeMinColumns;
        var a = Normal(2 * d, 9);
        var c = new double[d * d];
        WeightedSyrk.Upper(a, 2, d, new[] { 2.0, -3.0 }, c);
        Assert.Equal(2 * a[0] * a[1] - 3 * a[d] * a[d + 1], c[1], 1e-12);
        WeightedSyrk.Upper(a, 2, d, new[] { double.NaN, 0.0 }, c);
        Assert.True(double.IsNaN(c[1]));
    }

    [Fact]
    public void Wrong_lengths_are_refused()
    {
        const int d = WeightedSyrk.NativeMinColumns;
        Assert.Throws<ArgumentException>(() => WeightedSyrk.Upper(new double[2 * d - 1], 2, d, new double[2], new double[d * d]));
        Assert.Throws<ArgumentException>(() => WeightedSyrk.Upper(new double[2 * d], 2, d, new double[1], new double[d * d]));
        Assert.Throws<ArgumentException>(() => WeightedSyrk.Upper(new double[2 * d], 2, d, new double[2], new double[d * d - 1]));
    }

    [Fact]
    public void OpenBLAS_dsyrk_is_bound_wherever_Debian_installs_the_library()
    {
        bool installed = File.Exists("/usr/lib/x86_64-linux-gnu/libopenblas.so.0");
        if (Environment.GetEnvironmentVariable("DISTSOFTMAX_NATIVE_BLAS") != "0")
        {
            Assert.Equal(installed, NativeBlas.SyrkAvailable);
            Assert.Equal(installed, NativeBlas.SingleSyrkAvailable);
        }
    }

    /// <summary>
    /// The single-precision Gram of a preconditioner's sample: within float rounding of the double Gram (relative to
    /// Σ|w a_i a_j|, the size of the sums), both signs, across chunk boundaries, accumulated in float and folded into a
    /// double C on its upper triangle only.
    /// </summary>
    [Theory]
    [InlineData(1, 64)]
    [InlineData(257, 70)]
    [InlineData(900, 200)]
    public void The_single_precision_Gram_agrees_with_the_double_one_to_float_rounding(int rows, int d)
    {
        if (!WeightedSyrk.SingleAvailable(d)) return;   // no OpenBLAS here: the preconditioner sums in double
        var a = Normal(rows * d, (ulong)(rows * 7 + d));
        var w = Normal(rows, 8);
        for (int i = 3; i < rows; i += 7) w[i] = 0;                    // skipped rows
        var expected = new double[d * d];
        WeightedSyrk.Managed(a, rows, d, w, expected);
        var single = new float[d * d];
        // Two calls onto one float accumulator, as a shard block gathers its sample in groups.
        int half = rows / 2;
        WeightedSyrk.UpperSingle(a.AsSpan(0, half * d), half, d, w.AsSpan(0, half), single);
        WeightedSyrk.UpperSingle(a.AsSpan(half * d), rows - half, d, w.AsSpan(half), single);
        var start = Normal(d * d, 3);
        var c = (double[])start.Clone();
        WeightedSyrk.AddUpper(single, c, d);
        double largest = 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
            {
                if (j < i) { Assert.Equal(start[i * d + j], c[i * d + j]); continue; }
                double size = 0;
                for (int r = 0; r < rows; r++) size += Math.Abs(w[r] * a[r * d + i] * a[r * d + j]);
                double error = Math.Abs(c[i * d + j] - start[i * d + j] - expected[i * d + j]);
                Assert.True(error <= 1e-5 * size + 1e-12, $"C[{i},{j}]: off by {error:E2}, sums of size {size:E2}");
                largest = Math.Max(largest, error);
            }
        Assert.True(largest > 1e-12, "the sums were not rounded to single precision");
    }

    [Fact]
    public void The_single_precision_Gram_subtracts_negative_weights_propagates_NaN_and_refuses_what_it_cannot_do()
    {
        int d = WeightedSyrk.NativeMinColumns;
        if (!WeightedSyrk.SingleAvailable(d))
        {
            Assert.Throws<InvalidOperationException>(() => WeightedSyrk.UpperSingle(new double[d], 1, d, new[] { 1.0 }, new float[d * d]));
            return;
        }
        var a = Normal(2 * d, 9);
        var c = new float[d * d];
        WeightedSyrk.UpperSingle(a, 2, d, new[] { 2.0, -3.0 }, c);
        Assert.Equal(2 * a[0] * a[1] - 3 * a[d] * a[d + 1], c[1], 1e-5);
        WeightedSyrk.UpperSingle(a, 2, d, new[] { double.NaN, 0.0 }, c);
        Assert.True(float.IsNaN(c[1]));
        Assert.Throws<InvalidOperationException>(() => WeightedSyrk.UpperSingle(new double[d - 1], 1, d - 1, new[] { 1.0 }, new float[(d - 1) * (d - 1)]));
        Assert.Throws<ArgumentException>(() => WeightedSyrk.UpperSingle(new double[2 * d], 2, d, new double[2], new float[d * d - 1]));
    }
}
