using System.Numerics.Tensors;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// <see cref="SpanMath"/> (and its wide path, <see cref="WideSpanMath"/>) against plain loops and against
/// TensorPrimitives, whose double overloads it replaces:
/// element-wise operations exactly (each value is one or two correctly rounded operations), reductions to the rounding
/// of a sum, for every tail length, in place as out of place; Max's NaN and signed-zero rules; the length checks.
/// </summary>
public class SpanMathTests
{
    /// <summary>
    /// Lengths 0 to 19 (every tail of the two-lane loops and of the eight-value reduction step), then around
    /// <see cref="SpanMath.WideFrom"/> and longer ones (the wide path: its vector tails and scalar tails).
    /// </summary>
    public static TheoryData<int> Lengths()
    {
        var data = new TheoryData<int>();
        for (int n = 0; n < 20; n++) data.Add(n);
        foreach (int n in new[] { SpanMath.WideFrom - 1, SpanMath.WideFrom, SpanMath.WideFrom + 1, 77, 130, 1001, 100_003 }) data.Add(n);
        return data;
    }

    private static double[] Values(int n, int seed, double scale = 1)
    {
        var rng = new System.Random(seed);
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = scale * (2 * rng.NextDouble() - 1);
        return v;
    }

    /// <summary>A bound on the rounding error of a sum of n terms whose magnitudes add up to <paramref name="magnitude"/>.</summary>
    private static double SumTolerance(int n, double magnitude) => (n + 8) * 1.2e-16 * magnitude;

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Reductions_match_plain_sums(int n)
    {
        double[] x = Values(n, 1), y = Values(n, 2, scale: 3);
        double dot = 0, sum = 0, squares = 0, magnitudes = 0, dotMagnitude = 0;
        for (int i = 0; i < n; i++)
        {
            dot += x[i] * y[i]; dotMagnitude += Math.Abs(x[i] * y[i]);
            sum += x[i]; squares += x[i] * x[i]; magnitudes += Math.Abs(x[i]);
        }
        Assert.InRange(SpanMath.Dot(x, y), dot - SumTolerance(n, dotMagnitude), dot + SumTolerance(n, dotMagnitude));
        Assert.InRange(SpanMath.Sum(x), sum - SumTolerance(n, magnitudes), sum + SumTolerance(n, magnitudes));
        Assert.InRange(SpanMath.SumOfSquares(x), squares - SumTolerance(n, squares), squares + SumTolerance(n, squares));
        Assert.InRange(SpanMath.SumOfMagnitudes(x), magnitudes - SumTolerance(n, magnitudes), magnitudes + SumTolerance(n, magnitudes));
        Assert.Equal(Math.Sqrt(SpanMath.SumOfSquares(x)), SpanMath.Norm(x));
        double tp = TensorPrimitives.Dot<double>(x, y);
        Assert.InRange(SpanMath.Dot(x, y), tp - 2 * SumTolerance(n, dotMagnitude), tp + 2 * SumTolerance(n, dotMagnitude));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Element_wise_operations_equal_TensorPrimitives_exactly(int n)
    {
        double[] x = Values(n, 3), y = Values(n, 4, scale: 5), a = Values(n, 5, scale: 0.5);
        const double s = -1.75;
        void Same(Action<double[]> ours, Action<double[]> theirs)
        {
            var expected = new double[n];
            var actual = new double[n];
            theirs(expected);
            ours(actual);
            Assert.Equal(expected, actual);
        }
        Same(d => SpanMath.Add(x, y, d), d => TensorPrimitives.Add(x, y, d));
        Same(d => SpanMath.Add(x, s, d), d => TensorPrimitives.Add(x, s, d));
        Same(d => SpanMath.Subtract(x, y, d), d => TensorPrimitives.Subtract(x, y, d));
        Same(d => SpanMath.Subtract(x, s, d), d => TensorPrimitives.Subtract(x, s, d));
        Same(d => SpanMath.Multiply(x, y, d), d => TensorPrimitives.Multiply(x, y, d));
        Same(d => SpanMath.Multiply(x, s, d), d => TensorPrimitives.Multiply(x, s, d));
        Same(d => SpanMath.Divide(x, y, d), d => TensorPrimitives.Divide(x, y, d));
        Same(d => SpanMath.Divide(x, s, d), d => TensorPrimitives.Divide(x, s, d));
        Same(d => SpanMath.MultiplyAdd(x, y, a, d), d => TensorPrimitives.MultiplyAdd(x, y, a, d));
        Same(d => SpanMath.MultiplyAdd(x, s, a, d), d => TensorPrimitives.MultiplyAdd(x, s, a, d));
        Same(d => SpanMath.MultiplyAdd(x, y, s, d), d => TensorPrimitives.MultiplyAdd(x, y, s, d));
        Same(d => SpanMath.Negate(x, d), d => TensorPrimitives.Negate(x, d));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void In_place_is_the_same_as_out_of_place(int n)
    {
        double[] x = Values(n, 6), y = Values(n, 7);
        var outOfPlace = new double[n];
        SpanMath.MultiplyAdd(x, 0.25, y, outOfPlace);
        var inPlace = (double[])y.Clone();
        SpanMath.MultiplyAdd(x, 0.25, inPlace, inPlace);   // the axpy y ← 0.25·x + y
        Assert.Equal(outOfPlace, inPlace);
        SpanMath.Subtract(x, y, outOfPlace);
        inPlace = (double[])x.Clone();
        SpanMath.Subtract(inPlace, y, inPlace);
        Assert.Equal(outOfPlace, inPlace);
    }

    [Fact]
    public void Max_propagates_NaN_puts_positive_zero_above_negative_zero_and_refuses_an_empty_span()
    {
        Assert.Equal(3.0, SpanMath.Max([1, 3, -2, 3]));
        Assert.True(double.IsNaN(SpanMath.Max([1, double.NaN, 5])));
        Assert.True(double.IsPositive(SpanMath.Max([-0.0, 0.0])));
        Assert.True(double.IsPositive(SpanMath.Max([0.0, -0.0])));
        Assert.True(double.IsNegative(SpanMath.Max([-0.0, -1.0])));
        Assert.Equal(double.PositiveInfinity, SpanMath.Max([double.NegativeInfinity, double.PositiveInfinity]));
        Assert.Throws<ArgumentException>(() => SpanMath.Max([]));
        // The same rules on the wide path, with the special value in a vector lane and in the tail.
        foreach (int n in new[] { SpanMath.WideFrom, SpanMath.WideFrom + 5, 1001 })
        {
            foreach (int at in new[] { 0, n / 2, n - 1 })
            {
                var v = Values(n, 10 + at, scale: 1);
                for (int i = 0; i < n; i++) v[i] -= 2;   // all negative
                v[at] = double.NaN;
                Assert.True(double.IsNaN(SpanMath.Max(v)), $"n = {n}, NaN at {at}");
                v[at] = -0.0;
                Assert.True(SpanMath.Max(v) == 0 && double.IsNegative(SpanMath.Max(v)), $"n = {n}, −0 at {at}");
                v[(at + 1) % n] = 0.0;
                Assert.True(double.IsPositive(SpanMath.Max(v)), $"n = {n}, +0 beside −0 at {at}");
                Assert.Equal(TensorPrimitives.Max<double>(v), SpanMath.Max(v));
            }
        }
    }

    [Fact]
    public void Spans_of_different_lengths_and_short_destinations_are_refused()
    {
        double[] x = Values(5, 8), y = Values(4, 9);
        Assert.Throws<ArgumentException>(() => SpanMath.Dot(x, y));
        Assert.Throws<ArgumentException>(() => SpanMath.Add(x, y, new double[5]));
        Assert.Throws<ArgumentException>(() => SpanMath.MultiplyAdd(x, 2.0, y, new double[5]));
        Assert.Throws<ArgumentException>(() => SpanMath.Multiply(x, 2.0, new double[4]));
        Assert.Throws<ArgumentException>(() => SpanMath.Negate(x, new double[4]));
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Widen_and_narrow_equal_the_casts(int n)
    {
        // Values across float's range and beyond it: overflow to ±∞, underflow to subnormals and ±0, NaN kept.
        var values = Values(n, 7, 1e3);
        double[] specials = { 1e39, -1e39, 1e-40, -1e-46, 3.4028235677973366e38, double.NaN, double.NegativeInfinity, 0.1 };
        for (int i = 0; i < n; i++) if (i % 5 == 0) values[i] = specials[(i / 5) % specials.Length];
        var narrowed = new float[n];
        SpanMath.Narrow(values, narrowed);
        var widened = new double[n];
        SpanMath.Widen(narrowed, widened);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits((float)values[i]), BitConverter.SingleToInt32Bits(narrowed[i]));
            Assert.Equal(BitConverter.DoubleToInt64Bits((double)narrowed[i]), BitConverter.DoubleToInt64Bits(widened[i]));
        }
        if (n == 0) return;
        Assert.Throws<ArgumentException>(() => SpanMath.Narrow(values, new float[n - 1]));
        Assert.Throws<ArgumentException>(() => SpanMath.Widen(narrowed, new double[n - 1]));
    }
}
