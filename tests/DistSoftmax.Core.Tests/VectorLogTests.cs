using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// <see cref="VectorLog"/> against <see cref="Math.Log"/>: within a few units in the last place over the normal range
/// (absolute near x = 1, where ln x passes through 0), Math.Log's own values where the vector path hands lanes to it
/// (zero, negatives, subnormals, NaN, ∞), in place as out of place, and every tail length.
/// </summary>
public class VectorLogTests
{
    private const double Ulp = 2.220446049250313e-16;

    private static double[] Log(double[] x)
    {
        var y = new double[x.Length];
        VectorLog.Log(x, y);
        return y;
    }

    [Fact]
    public void Matches_Math_Log_over_the_normal_range()
    {
        var rng = new System.Random(20261202);
        var x = new double[100_003];
        // Log-uniform over [2^-1020, 2^1020], then arguments near 1 and near √2·2^k, where m is halved or not.
        for (int i = 0; i < x.Length; i++) x[i] = Math.Pow(2, -1020 + 2040 * rng.NextDouble());
        for (int i = 0; i < 2000; i++) x[i] = 1 + (i - 1000) * 1e-6;
        for (int i = 2000; i < 3000; i++) x[i] = Math.Sqrt(2) * Math.Pow(2, i - 2500) * (1 + (i % 7 - 3) * 1e-16);
        for (int i = 3000; i < 4000; i++) x[i] = rng.NextDouble() * 1e-3;   // a row of B's entries
        var y = Log(x);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double reference = Math.Log(x[i]);
            worst = Math.Max(worst, Math.Abs(y[i] - reference) / Math.Max(Math.Abs(reference), 1.0));
        }
        Assert.True(worst <= 4 * Ulp, $"largest difference from Math.Log (relative, absolute below 1): {worst:E3}");
        // Near 1 the result is small and still relatively accurate: ln(1 + 1e-6) against log1p.
        Assert.True(Math.Abs(Log([1 + 1e-6, 1, 1, 1])[0] / Math.Log(1 + 1e-6) - 1) < 1e-9);
    }

    [Fact]
    public void Lanes_outside_the_positive_normal_range_are_Math_Log_exactly()
    {
        var specials = new[] { 0.0, -0.0, -1.0, double.Epsilon, 1e-310, double.NaN, double.PositiveInfinity, double.NegativeInfinity };
        foreach (double special in specials)
        {
            var x = new[] { 0.5, special, 2.0, 3.0, 7.0 };
            var y = Log(x);
            Assert.Equal(Math.Log(special), y[1]);
            Assert.True(Math.Abs(y[0] - Math.Log(0.5)) <= Ulp && Math.Abs(y[4] - Math.Log(7.0)) <= 4 * Ulp);
        }
        Assert.Equal(0.0, Log([1.0, 1.0, 1.0, 1.0])[0]);
    }

    [Fact]
    public void Works_in_place_and_for_every_tail_length()
    {
        for (int n = 0; n <= 9; n++)
        {
            var x = Enumerable.Range(1, n).Select(i => i * 0.37).ToArray();
            var expected = x.Select(v => Math.Log(v)).ToArray();
            VectorLog.Log(x, x);
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(x[i] - expected[i]) <= 4 * Ulp * Math.Max(1, Math.Abs(expected[i])));
        }
        Assert.Throws<ArgumentException>(() => VectorLog.Log(new double[3], new double[2]));
    }
}
