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
        if (Environment.GetEnvironmentVariable("DISTSOFTMAX_NATIVE_BLAS") != "0") Assert.Equal(installed, NativeBlas.SyrkAvailable);
    }
}
