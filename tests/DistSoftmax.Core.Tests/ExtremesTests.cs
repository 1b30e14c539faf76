using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Tests;

/// <summary>Extremes.Max and Min give Math.Max's and Math.Min's results bit for bit (NaN, signed zeros, infinities).</summary>
public class ExtremesTests
{
    private static readonly double[] Values =
        { double.NaN, double.NegativeInfinity, -1e300, -2.5, -double.Epsilon, -0.0, 0.0, double.Epsilon, 1.0, 3.75, 1e300, double.PositiveInfinity };

    [Fact]
    public void Max_and_Min_agree_with_Math_for_every_pair()
    {
        foreach (double x in Values)
            foreach (double y in Values)
            {
                Assert.Equal(BitConverter.DoubleToInt64Bits(Math.Max(x, y)), BitConverter.DoubleToInt64Bits(Extremes.Max(x, y)));
                Assert.Equal(BitConverter.DoubleToInt64Bits(Math.Min(x, y)), BitConverter.DoubleToInt64Bits(Extremes.Min(x, y)));
            }
    }
}
