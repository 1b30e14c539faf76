using DistSoftmax.Cli.Output;
using DistSoftmax.Core.Solvers;
using ScottPlot;

namespace DistSoftmax.Cli.Tests;

/// <summary>convergence.png and `plot`: the horizontal axis starts at iteration 0 (or 0 s) whatever the plotted points.</summary>
public class ConvergencePlotTests
{
    /// <summary>A trace whose loss reaches its best value at iteration 0's successor and whose early points have no logarithm.</summary>
    private static TraceEntry[] Trace(int iterations, double firstSeconds) => Enumerable.Range(0, iterations + 1)
        .Select(i => new TraceEntry(i, i == 0 ? 2.0 : 1.0 + Math.Pow(10, -i), Math.Pow(10, -i), 1.0, 0, firstSeconds + 0.1 * i, i)).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_horizontal_axis_starts_at_zero(bool againstTime)
    {
        // The second run starts late (first recorded second 3.0) and the gradient series of the first skips nothing, but
        // L − L_best is 0 at the last iteration and so is left out: the axis must still start at 0.
        var runs = new[] { new ConvergencePlot.Run("a", Trace(6, 0.05)), new ConvergencePlot.Run("b", Trace(3, 3.0)) };
        var plot = ConvergencePlot.Build(runs, "test", 1e-6, againstTime);
        plot.GetImageBytes(ConvergencePlot.Width, ConvergencePlot.Height, ImageFormat.Png);
        var limits = plot.Axes.GetLimits();
        Assert.Equal(0.0, limits.Left);
        double last = againstTime ? runs.Max(r => r.Trace[^1].Seconds) : 6;
        Assert.True(limits.Right >= last, $"right limit {limits.Right} < {last}");
    }
}
