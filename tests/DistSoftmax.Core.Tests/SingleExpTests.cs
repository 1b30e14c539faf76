using System.Runtime.Intrinsics;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The single-precision exponential (SingleExp) against Math.Exp, and a row's single-precision terms computed from its
/// float logits (SingleTermProducts.WriteFromLogits) against those from the softmax in double.
/// </summary>
public class SingleExpTests
{
    [Fact]
    public void The_exponential_is_within_3e_7_of_Math_Exp_and_flushes_below_its_range()
    {
        if (!SingleExp.Available) return;
        var x = new float[200_003];
        for (int i = 0; i < x.Length; i++)
            x[i] = Math.Clamp((float)(SingleExp.Min + (double)(SingleExp.Max - SingleExp.Min) * i / (x.Length - 1)), SingleExp.Min, SingleExp.Max);
        var y = new float[x.Length];
        double sum = SingleExp.ExpShiftedSum(x, 0f, y);
        Assert.True(Math.Abs(sum - y.Sum(v => (double)v)) <= 1e-12 * sum, "the returned sum is not Σ exp");
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double exact = Math.Exp(x[i]);
            worst = Math.Max(worst, Math.Abs(y[i] - exact) / exact);
        }
        Assert.True(worst < 3e-7, $"worst relative error {worst:E2}");
        // Outside the range: 0 below (under float's smallest normal), ∞ above; the tail of a span as its vectors.
        float[] outside = { -87.5f, -200f, float.NegativeInfinity, 88.5f, 1000f, 0f, -1f, float.NaN };
        var e = new float[outside.Length];
        SingleExp.ExpShiftedSum(outside, 0f, e);
        Assert.Equal(new[] { 0f, 0f, 0f, float.PositiveInfinity, float.PositiveInfinity, 1f }, e[..6]);
        Assert.True(Math.Abs(e[6] - Math.Exp(-1)) / Math.Exp(-1) < 3e-7);
        Assert.True(float.IsNaN(e[7]), "NaN in, NaN out");
        for (int n = 1; n <= 40; n++)
        {
            var part = x.AsSpan(1000, n).ToArray();
            var fromSpan = new float[n];
            SingleExp.ExpShiftedSum(part, 0f, fromSpan);
            for (int i = 0; i < n; i++) Assert.Equal(y[1000 + i], fromSpan[i]);
        }
    }

    [Theory]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(1000)]
    [InlineData(4099)]
    public void Terms_from_float_logits_are_within_single_precision_of_those_from_the_softmax_in_double(int n)
    {
        if (!SingleTermProducts.Available) return;
        var rng = new Random.Rng((ulong)n);
        var z = new float[n];
        var b = new double[n];
        for (int i = 0; i < n; i++) { z[i] = (float)(3 * rng.NextDouble() - 1.5 + (i % 97 == 0 ? 40 : 0)); b[i] = rng.NextDouble() / n; }
        // The reference: softmax of the same float z in double, then the terms from those values.
        var f = z.Select(v => (double)v).ToArray();
        double max = f.Max(), sum = 0;
        for (int i = 0; i < n; i++) sum += f[i] = Math.Exp(f[i] - max);
        for (int i = 0; i < n; i++) f[i] /= sum;
        var expected = new float[2 * n];
        var expectedSums = new double[2];
        SingleTermProducts.Write(f, b, expected, expectedSums);
        var terms = new float[2 * n];
        var sums = new double[2];
        SingleTermProducts.WriteFromLogits(z, b, terms, sums);
        double fScale = f.Max(), vScale = expected.Skip(n).Max(Math.Abs);
        for (int i = 0; i < n; i++)
        {
            Assert.True(Math.Abs(terms[i] - expected[i]) <= 1e-6 * fScale, $"f[{i}] = {terms[i]} against {expected[i]}");
            Assert.True(Math.Abs(terms[n + i] - expected[n + i]) <= 1e-6 * vScale, $"v[{i}] = {terms[n + i]} against {expected[n + i]}");
        }
        Assert.True(Math.Abs(sums[0] - expectedSums[0]) <= 1e-6 * expectedSums[0]);
        Assert.True(Math.Abs(sums[1] - expectedSums[1]) <= 1e-6 * Math.Abs(expectedSums[1]) + 1e-12);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(1000)]
    [InlineData(4099)]
    public void Values_from_a_single_precision_row_of_M_are_within_3e_7_of_the_softmax_in_double(int n)
    {
        if (!SingleExp.Available) return;
        var rng = new Random.Rng((ulong)(n + 3));
        // A row of M formed in single precision: floats, widened.
        var z = new double[n];
        for (int i = 0; i < n; i++) z[i] = (float)(6 * rng.NextDouble() - 3 + (i % 89 == 0 ? 30 : 0));
        var reference = new double[n];
        NormalizedSoftmax.Instance.RowValues(z, reference);
        var values = new double[n];
        var scratch = new float[n];
        NormalizedSoftmax.Instance.RowValuesFromSingleM(z, values, scratch);
        // The kernel's 3e-7, and the rounding of z − max z to a float (half an ulp: 6e-8·|z − max z| relative in exp),
        // of the order of single-precision M's own rounding of z.
        double max = z.Max();
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(values[i] - reference[i]) <= (3e-7 + 6e-8 * (max - z[i])) * reference[i] + 1e-300,
                $"f[{i}] = {values[i]}, double softmax {reference[i]} (z − max z = {z[i] - max})");
        Assert.True(Math.Abs(values.Sum() - 1) < 1e-12, $"Σ f = {values.Sum()}");
        // In place, as a pass turns a cached row of M into its values: the same bits.
        var inPlace = (double[])z.Clone();
        NormalizedSoftmax.Instance.RowValuesFromSingleM(inPlace, inPlace, scratch);
        Assert.Equal(values, inPlace);
    }
}
