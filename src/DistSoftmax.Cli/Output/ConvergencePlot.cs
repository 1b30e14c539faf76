using DistSoftmax.Core.Solvers;
using ScottPlot;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// convergence.png: the loss and the gradient norm per iteration on a log-scale y axis (values are plotted as
/// log10 with power-of-ten tick labels; zero or non-finite values, which have no logarithm, are left out).
/// </summary>
internal static class ConvergencePlot
{
    public const int Width = 900, Height = 560;

    public static byte[] Render(IReadOnlyList<TraceEntry> trace, string title)
    {
        var plot = new Plot();
        AddSeries(plot, trace, t => t.Loss, "loss L(x)", Colors.C0);
        AddSeries(plot, trace, t => t.GradientNorm, "gradient norm |grad L(x)|", Colors.C1);

        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => $"1e{y:0}",
        };
        plot.Axes.Left.TickGenerator = ticks;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Grid.MinorLineWidth = 1;
        plot.Grid.MinorLineColor = Colors.Black.WithOpacity(0.05);
        plot.Title(title);
        plot.XLabel("iteration");
        plot.YLabel("value (log scale)");
        plot.ShowLegend(Alignment.UpperRight);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    private static void AddSeries(Plot plot, IReadOnlyList<TraceEntry> trace, Func<TraceEntry, double> value, string label, Color color)
    {
        var points = trace.Where(t => value(t) > 0 && double.IsFinite(value(t))).ToArray();
        if (points.Length == 0) return;
        double[] xs = points.Select(t => (double)t.Iteration).ToArray();
        double[] ys = points.Select(t => Math.Log10(value(t))).ToArray();
        var scatter = plot.Add.Scatter(xs, ys, color);
        scatter.LegendText = label;
        scatter.LineWidth = 2;
        scatter.MarkerSize = 6;
    }
}
