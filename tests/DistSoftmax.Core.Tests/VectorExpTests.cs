using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// <see cref="VectorExp"/> against <see cref="Math.Exp"/>: within a few units in the last place over the whole normal
/// range, the same values where the vector path hands lanes to Math.Exp (overflow, the subnormal range, NaN, ±∞), in
/// place as out of place, and every tail length.
/// </summary>
public class VectorExpTests
{
    /// <summary>Largest relative difference from Math.Exp accepted: two units in the last place of 1 (measured: 2.2e-16).</summary>
    private const double UlpTolerance = 2 * 2.220446049250313e-16;

    private static double[] Exp(double[] x)
    {
        var y = new double[x.Length];
        VectorExp.Exp(x, y);
        return y;
    }

    private static double RelativeError(double value, double reference) => Math.Abs(value - reference) / reference;

    [Fact]
    public void Matches_Math_Exp_over_the_vector_range()
    {
        var rng = new System.Random(20261201);
        var x = new double[100_003];
        for (int i = 0; i < x.Length; i++) x[i] = VectorExp.VectorMin + (VectorExp.VectorMax - VectorExp.VectorMin) * rng.NextDouble();
        // Arguments near 0 and near multiples of ½ln 2, where the reduction's r is largest or k changes.
        for (int i = 0; i < 1000; i++) x[i] = (i - 500) * 1e-3;
        for (int i = 1000; i < 2000; i++) x[i] = (i - 1500) * 0.5 * Math.Log(2) * (1 + 1e-15);
        var y = Exp(x);
        double worst = 0;
        for (int i = 0; i < x.Length; i++) worst = Math.Max(worst, RelativeError(y[i], Math.Exp(x[i])));
        Assert.True(worst <= UlpTolerance, $"largest relative difference from Math.Exp: {worst:E3}");
    }

    [Fact]
    public void Lanes_outside_the_vector_range_are_Math_Exp_exactly()
    {
        double[] special = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, 710.0, 709.5, -708.5, -745.0, -746.0,
            -1e300, 1e300, VectorExp.VectorMax + 1e-13, VectorExp.VectorMin - 1e-13];
        foreach (double s in special)
        {
            // The special value in each lane of a vector whose other lanes are ordinary.
            for (int lane = 0; lane < 4; lane++)
            {
                double[] x = [0.5, -1.25, 3.0, 7.5, 0.25];
                x[lane] = s;
                var y = Exp(x);
                Assert.Equal(Math.Exp(s), y[lane]);
                for (int i = 0; i < x.Length; i++)
                    if (i != lane) Assert.True(RelativeError(y[i], Math.Exp(x[i])) <= UlpTolerance, $"exp({x[i]}) beside {s}: {y[i]}");
            }
        }
    }

    [Fact]
    public void The_ends_of_the_vector_range_stay_normal_and_finite()
    {
        var y = Exp([VectorExp.VectorMin, VectorExp.VectorMax, VectorExp.VectorMin, VectorExp.VectorMax]);
        Assert.True(double.IsNormal(y[0]) && double.IsNormal(y[1]));
        Assert.True(RelativeError(y[0], Math.Exp(VectorExp.VectorMin)) <= UlpTolerance);
        Assert.True(RelativeError(y[1], Math.Exp(VectorExp.VectorMax)) <= UlpTolerance);
    }

    [Fact]
    public void In_place_equals_out_of_place_for_every_tail_length()
    {
        for (int n = 0; n <= 19; n++)
        {
            var x = Enumerable.Range(0, n).Select(i => 0.37 * i - 2.0).ToArray();
            var expected = Exp(x);
            var inPlace = (double[])x.Clone();
            VectorExp.Exp(inPlace, inPlace);
            Assert.Equal(expected, inPlace);
            for (int i = 0; i < n; i++) Assert.True(RelativeError(expected[i], Math.Exp(x[i])) <= UlpTolerance);
        }
    }

    [Fact]
    public void A_short_output_is_refused()
    {
        Assert.Throws<ArgumentException>(() => VectorExp.Exp(new double[5], new double[4]));
    }
}
