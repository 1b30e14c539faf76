using System.Diagnostics;

namespace DistSoftmax.Benchmarks;

/// <summary>Medians of repeated timings for the quick (non-BenchmarkDotNet) runs, after warm-up calls.</summary>
public static class Timing
{
    /// <summary>Median seconds of <paramref name="action"/> over <paramref name="repeats"/> timed calls.</summary>
    public static double Median(Action action, int repeats = 15, int warmups = 5) =>
        MedianTimed(() => Seconds(action), repeats, warmups);

    /// <summary>Seconds of one call of <paramref name="action"/>, without warm-up: what a first call costs.</summary>
    public static double Seconds(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>Median of the seconds each call returns (for timing a part of what the call does).</summary>
    public static double MedianTimed(Func<double> timed, int repeats = 15, int warmups = 5)
    {
        for (int w = 0; w < warmups; w++) timed();
        var times = new double[repeats];
        for (int r = 0; r < repeats; r++) times[r] = timed();
        Array.Sort(times);
        return times[repeats / 2];
    }

    /// <summary>The median of some values (the mean of the middle two for an even count).</summary>
    public static double MedianOf(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
