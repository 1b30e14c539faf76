using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;
using Xunit;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// Every dense kernel against a plain triple loop, at both register widths, for row counts that are not
/// multiples of the four-row blocking and column counts around the 4- and 8-lane boundaries (wide loop, the
/// 256-bit tail step and the scalar tail all exercised).
/// </summary>
public class DenseKernelTests
{
    public static IEnumerable<object[]> Shapes()
    {
        foreach (bool wide in new[] { false, true })
            foreach (int rows in new[] { 1, 2, 3, 4, 5, 9 })
                foreach (int d in new[] { 1, 3, 4, 5, 8, 11, 12, 13, 16, 21, 100 })
                    yield return new object[] { wide, rows, d };
    }

    private static double[] Random(int length, ulong seed)
    {
        var v = new double[length];
        new Rng(seed).FillNormal(v, 1.0);
        return v;
    }

    private static void Close(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-12 * (1 + Math.Abs(expected)), $"expected {expected}, got {actual}");

    [Theory, MemberData(nameof(Shapes))]
    public void Gemv_matches_the_naive_loop(bool wide, int rows, int d)
    {
        if (wide && !DenseKernels.Wide) return;
        var a = Random(rows * d, 1); var x = Random(d, 2);
        var y = new double[rows];
        DenseKernels.Gemv(a, rows, d, x, y, wide);
        for (int i = 0; i < rows; i++)
        {
            double s = 0;
            for (int j = 0; j < d; j++) s += a[i * d + j] * x[j];
            Close(s, y[i]);
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void Transposed_products_for_one_to_five_vectors_match_the_naive_loop(bool wide, int rows, int d)
    {
        if (wide && !DenseKernels.Wide) return;
        var a = Random(rows * d, 3);
        for (int k = 1; k <= 5; k++)
        {
            var v = Random(k * rows, 4);
            var start = Random(k * d, 5);
            var acc = (double[])start.Clone();
            DenseKernels.GemvTransposedMany(a, rows, d, v, k, acc, wide);
            for (int c = 0; c < k; c++)
                for (int j = 0; j < d; j++)
                {
                    double s = start[c * d + j];
                    for (int i = 0; i < rows; i++) s += v[c * rows + i] * a[i * d + j];
                    Close(s, acc[c * d + j]);
                }
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void Projected_squared_norms_match_the_naive_loop(bool wide, int rows, int d)
    {
        if (wide && !DenseKernels.Wide) return;
        var a = Random(rows * d, 6);
        foreach (int k in new[] { 1, 3, 4, 5, 13 })
        {
            var yT = Random(k * d, 7);
            var tau = new double[rows];
            DenseKernels.ProjectedSquaredNorms(a, rows, d, yT, k, tau, wide);
            for (int i = 0; i < rows; i++)
            {
                double t = 0;
                for (int c = 0; c < k; c++)
                {
                    double p = 0;
                    for (int j = 0; j < d; j++) p += a[i * d + j] * yT[c * d + j];
                    t += p * p;
                }
                Close(t, tau[i]);
            }
        }
    }

    [Theory, MemberData(nameof(Shapes))]
    public void Syrk_fills_the_upper_triangle_only(bool wide, int rows, int d)
    {
        if (wide && !DenseKernels.Wide) return;
        var a = Random(rows * d, 8); var w = Random(rows, 9);
        var c = new double[d * d];
        DenseKernels.SyrkUpper(a, rows, d, w, c, wide);
        for (int p = 0; p < d; p++)
            for (int q = 0; q < d; q++)
            {
                if (q < p) { Assert.Equal(0.0, c[p * d + q]); continue; }
                double s = 0;
                for (int i = 0; i < rows; i++) s += w[i] * a[i * d + p] * a[i * d + q];
                Close(s, c[p * d + q]);
            }
    }

    [Fact]
    public void A_block_shorter_than_rows_times_columns_is_refused()
    {
        Assert.Throws<ArgumentException>(() => DenseKernels.Gemv(new double[5], 2, 3, new double[3], new double[2]));
    }
}
