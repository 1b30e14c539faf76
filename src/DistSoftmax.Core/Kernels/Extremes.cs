namespace DistSoftmax.Core.Kernels;

/// <summary>
/// Math.Max and Math.Min for doubles with the same results (NaN wins; Max(−0, +0) = +0, Min(−0, +0) = −0), written as
/// comparisons. .NET 10 rejects the ReadyToRun code of any method that calls Math.Max or Math.Min on doubles (its
/// precompiled form depends on an instruction set the runtime will not vouch for), so such a method is compiled at its
/// first call instead — the line search's and Newton-CG's loops in every solve's first iteration (README #12,
/// twenty-first session). Methods on a solve's path use these.
/// </summary>
public static class Extremes
{
    public static double Max(double x, double y)
    {
        if (x != y) return double.IsNaN(x) ? x : (y < x ? x : y);
        return double.IsNegative(y) ? x : y;
    }

    public static double Min(double x, double y)
    {
        if (x != y) return double.IsNaN(x) ? x : (x < y ? x : y);
        return double.IsNegative(x) ? x : y;
    }
}
