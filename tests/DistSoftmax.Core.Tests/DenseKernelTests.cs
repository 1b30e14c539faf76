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
            foreach (int rows in new[] { 1, 3, 4, 5, 9 })
                foreach (int d in new[] { 1, 3, 5, 8, 12, 13, 21, 100 })
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
        foreach (int k in new[] { 1, 3, 4, 5, 8, 9, 13, 17, 33 })
        {
            var yT = Random(k * d, 7);
            var tau = new double[rows];
            DenseKernels.ProjectedSquaredNorms(a, rows, d, new ProjectionPanels(yT, k, d, wide), tau);
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
    public void Projected_squared_norms_of_listed_rows_equal_those_of_the_rows_gathered_into_a_block(bool wide, int rows, int d)
    {
        if (wide && !DenseKernels.Wide) return;
        var a = Random(rows * d, 15);
        var yT = Random(13 * d, 16);
        var panels = new ProjectionPanels(yT, 13, d, wide);
        // Scattered, out of order, with a repeat; every length mod 4 (the kernel's row tails).
        var all = Enumerable.Range(0, rows).Select(i => (i * 7 + 3) % rows).Append(0).ToArray();
        for (int count = 1; count <= Math.Min(all.Length, 11); count++)
        {
            var index = all.AsSpan(0, count);
            var gathered = new double[count * d];
            for (int t = 0; t < count; t++) a.AsSpan(index[t] * d, d).CopyTo(gathered.AsSpan(t * d, d));
            var expected = new double[count];
            DenseKernels.ProjectedSquaredNorms(gathered, count, d, panels, expected);
            var tau = new double[count];
            DenseKernels.ProjectedSquaredNorms(a, index, d, panels, tau);
            Assert.Equal(expected, tau);
        }
    }

    [Fact]
    public void Projected_squared_norms_refuse_a_row_outside_A()
    {
        var a = Random(3 * 5, 17);
        var panels = new ProjectionPanels(Random(2 * 5, 18), 2, 5);
        Assert.Throws<ArgumentException>(() => DenseKernels.ProjectedSquaredNorms(a, new[] { 0, 3 }, 5, panels, new double[2]));
        Assert.Throws<ArgumentException>(() => DenseKernels.ProjectedSquaredNorms(a, new[] { -1 }, 5, panels, new double[1]));
    }

    [Fact]
    public void The_projection_norm_bound_is_an_upper_bound()
    {
        foreach (int k in new[] { 1, 5, 13 })
        {
            int d = 17;
            var yT = Random(k * d, 14);
            var panels = new ProjectionPanels(yT, k, d);
            for (ulong t = 0; t < 200; t++)
            {
                var a = Random(d, 100 + t);
                var tau = new double[1];
                DenseKernels.ProjectedSquaredNorms(a, 1, d, panels, tau);
                double norm = System.Numerics.Tensors.TensorPrimitives.SumOfSquares<double>(a);
                Assert.True(tau[0] <= norm * panels.SquaredNormBound * (1 + 1e-12), $"k = {k}: {tau[0]} > {norm} × {panels.SquaredNormBound}");
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

    [Theory, MemberData(nameof(Shapes))]
    public void Scattered_rows_land_in_their_buckets(bool wide, int rows, int d)
    {
        if (wide && !DenseKernels.Wide) return;
        const int m = 3;
        var a = Random(rows * d, 11); var weight = Random(rows, 12);
        var bucket = new int[rows];
        for (int i = 0; i < rows; i++) bucket[i] = (i * 7 + 1) % m;
        var start = Random(m * d, 13);
        var sketch = (double[])start.Clone();
        DenseKernels.ScatterRows(a, rows, d, bucket, weight, sketch, wide);
        for (int b = 0; b < m; b++)
            for (int j = 0; j < d; j++)
            {
                double s = start[b * d + j];
                for (int i = 0; i < rows; i++) if (bucket[i] == b) s += weight[i] * a[i * d + j];
                Close(s, sketch[b * d + j]);
            }
        bucket[0] = m;
        Assert.Throws<ArgumentException>(() => DenseKernels.ScatterRows(a, rows, d, bucket, weight, sketch, wide));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(40, 10)]
    [InlineData(400, 100)]
    public void Householder_R_satisfies_RtR_equals_AtA_and_matches_MathNet_up_to_row_signs(int m, int d)
    {
        var a = Random(m * d, 10);
        var r = DenseAlgebra.QrR(a, m, d);
        var reference = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(m, d, (i, j) => a[i * d + j])
            .QR(MathNet.Numerics.LinearAlgebra.Factorization.QRMethod.Thin).R;
        for (int p = 0; p < d; p++)
        {
            double sign = Math.Sign(r[p * d + p]) * Math.Sign(reference[p, p]);
            for (int q = 0; q < d; q++)
            {
                if (q < p) { Assert.Equal(0.0, r[p * d + q]); continue; }
                Assert.True(Math.Abs(sign * r[p * d + q] - reference[p, q]) <= 1e-10 * (1 + Math.Abs(reference[p, q])),
                    $"R[{p},{q}] = {r[p * d + q]}, MathNet {reference[p, q]}");
                double ata = 0, rtr = 0;
                for (int i = 0; i < m; i++) ata += a[i * d + p] * a[i * d + q];
                for (int t = 0; t <= p; t++) rtr += r[t * d + p] * r[t * d + q];
                Close(ata, rtr);
            }
        }
    }

    [Fact]
    public void A_block_shorter_than_rows_times_columns_is_refused()
    {
        Assert.Throws<ArgumentException>(() => DenseKernels.Gemv(new double[5], 2, 3, new double[3], new double[2]));
    }
}
