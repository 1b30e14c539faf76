using DistSoftmax.Core.Solvers;
using ScottPlot;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// convergence.png: per iteration (or against wall time), on a log-scale y axis, the loss above the best one reached,
/// L − L_best, and the relative gradient ‖∇L‖/‖∇L(x0)‖ with the tolerance it has to reach as a dashed line (values are
/// plotted as log10 with power-of-ten tick labels; zero or non-finite values, which have no logarithm, are left out —
/// L − L_best is 0 where the best loss was reached). <see cref="Overlay"/> puts several runs on one chart
/// (`dist-softmax plot`), one colour a run.
/// </summary>
internal static class ConvergencePlot
{
    public const int Width = 900, Height = 560;

    /// <summary>One run's curves: the relative gradient solid, L − L_best dotted, both in the run's colour.</summary>
    public sealed record Run(string Label, IReadOnlyList<TraceEntry> Trace);

    public static byte[] Render(IReadOnlyList<TraceEntry> trace, string title, double? tolerance = null) =>
        Draw([new Run("", trace)], title, tolerance, againstTime: false);

    public static byte[] Overlay(IReadOnlyList<Run> runs, string title, double? tolerance, bool againstTime) =>
        Draw(runs, title, tolerance, againstTime);

    private static byte[] Draw(IReadOnlyList<Run> runs, string title, double? tolerance, bool againstTime) =>
        Build(runs, title, tolerance, againstTime).GetImageBytes(Width, Height, ImageFormat.Png);

    /// <summary>
    /// The chart before rendering. The horizontal axis starts at iteration 0 (the starting point x0) or at 0 s, whatever
    /// the first plotted point: a series may skip entries with no logarithm (L − L_best = 0).
    /// </summary>
    internal static Plot Build(IReadOnlyList<Run> runs, string title, double? tolerance, bool againstTime)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int r = 0; r < runs.Count; r++)
        {
            var (label, trace) = (runs[r].Label, runs[r].Trace);
            if (trace.Count == 0) continue;
            var color = palette.GetColor(r);
            double best = trace.Min(t => t.Loss), g0 = trace[0].GradientNorm;
            string prefix = label.Length == 0 ? "" : label + ": ";
            AddSeries(plot, trace, t => t.GradientNorm / g0, prefix + (prefix.Length == 0 ? "relative gradient |grad L| / |grad L(x0)|" : "|grad L| / |grad L(x0)|"), color, againstTime, LinePattern.Solid);
            AddSeries(plot, trace, t => t.Loss - best, prefix + "L - L_best", color, againstTime, LinePattern.Dotted);
        }
        if (tolerance is double tol && tol > 0)
        {
            var line = plot.Add.HorizontalLine(Math.Log10(tol), 1.5f, Colors.Black.WithOpacity(0.6), LinePattern.Dashed);
            line.LegendText = $"tolerance {tol:G3}";
        }
        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => $"1e{y:0}",
        };
        plot.Axes.Left.TickGenerator = ticks;
        if (!againstTime) plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.SetLimitsX(0, Math.Max(runs.Max(r => r.Trace.Count == 0 ? 0 : againstTime ? r.Trace[^1].Seconds : r.Trace[^1].Iteration), 1) * 1.02);
        plot.Grid.MinorLineWidth = 1;
        plot.Grid.MinorLineColor = Colors.Black.WithOpacity(0.05);
        plot.Title(title);
        plot.XLabel(againstTime ? "wall time (s)" : "iteration");
        plot.YLabel("value (log scale)");
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    private static void AddSeries(Plot plot, IReadOnlyList<TraceEntry> trace, Func<TraceEntry, double> value, string label, Color color,
        bool againstTime, LinePattern pattern)
    {
        var points = trace.Where(t => value(t) > 0 && double.IsFinite(value(t))).ToArray();
        if (points.Length == 0) return;
        double[] xs = points.Select(t => againstTime ? t.Seconds : t.Iteration).ToArray();
        double[] ys = points.Select(t => Math.Log10(value(t))).ToArray();
        var scatter = plot.Add.Scatter(xs, ys, color);
        scatter.LegendText = label;
        scatter.LineWidth = 2;
        scatter.MarkerSize = 5;
        scatter.LinePattern = pattern;
    }
}
