using ScottPlot;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// The PNG figures of a sweep (ScottPlot 5, the style of <see cref="ConvergencePlot"/>): values on a log scale are
/// plotted as log10 with power-of-ten tick labels, and zero or non-finite values, which have no logarithm, are left out.
/// </summary>
internal static class SweepPlots
{
    public const int Width = 900, Height = 600;

    /// <summary>The PNG file names.</summary>
    public const string IterationsFile = "iterations-vs-n.png", CostFile = "time-per-iteration-vs-cost.png",
        ContractionFile = "contraction-vs-epsilon.png", ApproxFile = "approx-vs-exact.png";

    /// <summary>The solvers compared by <see cref="ApproxVsExact"/>.</summary>
    public const string Approx = "approx-newton", Exact = "newton";

    /// <summary>Iterations against n (log scale): one line per solver and d, each point the mean over the rest of the grid.</summary>
    public static byte[] IterationsAgainstN(IReadOnlyList<SweepRow> rows)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int series = 0;
        foreach (var group in rows.GroupBy(r => (r.Solver, r.D)).OrderBy(g => g.Key.Solver, StringComparer.Ordinal).ThenBy(g => g.Key.D))
        {
            var means = group.GroupBy(r => r.N).OrderBy(g => g.Key).Select(g => (X: Math.Log10(g.Key), Y: g.Average(r => r.Iterations))).ToArray();
            var line = plot.Add.Scatter(means.Select(p => p.X).ToArray(), means.Select(p => p.Y).ToArray(), palette.GetColor(series++));
            line.LegendText = $"{group.Key.Solver}, d = {group.Key.D}";
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }
        plot.Axes.Bottom.TickGenerator = LogTicks();
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.SetLimitsY(0, Math.Max(1, rows.Count == 0 ? 1 : rows.Max(r => r.Iterations)) * 1.1);
        return Finish(plot, "Iterations against n (mean over density, tol, ε, δ and repeats)", "n (log scale)", "iterations");
    }

    /// <summary>Seconds per iteration against nnz + d^ω, log–log, one colour per solver, one marker per solve.</summary>
    public static byte[] TimePerIterationAgainstCost(IReadOnlyList<SweepRow> rows)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int series = 0;
        foreach (var group in rows.GroupBy(r => r.Solver).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var points = group.Where(r => Positive(r.SecondsPerIteration)).ToArray();
            var color = palette.GetColor(series++);
            if (points.Length == 0) continue;
            var markers = plot.Add.ScatterPoints(points.Select(r => Math.Log10(r.Cost)).ToArray(),
                points.Select(r => Math.Log10(r.SecondsPerIteration)).ToArray(), color);
            markers.LegendText = group.Key;
            markers.MarkerSize = 7;
        }
        plot.Axes.Bottom.TickGenerator = LogTicks();
        plot.Axes.Left.TickGenerator = LogTicks();
        return Finish(plot, $"Time per iteration against nnz + d^ω (ω = {SweepRow.MatrixMultiplicationExponent})",
            "nnz(A) + d^ω (log scale)", "solve seconds / iteration (log scale)");
    }

    /// <summary>
    /// The contraction factor against the sampled Hessian's ε (log–log): per sampling solver a line through the geometric
    /// mean at each ε and a marker per solve; a solver that does not sample as a dashed line at its geometric mean.
    /// </summary>
    public static byte[] ContractionAgainstEpsilon(IReadOnlyList<SweepRow> rows)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int series = 0;
        foreach (var group in rows.Where(r => Positive(r.ContractionFactor)).GroupBy(r => r.Solver).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var color = palette.GetColor(series++);
            var sampled = group.Where(r => r.Epsilon is not null).ToArray();
            if (sampled.Length > 0)
            {
                var all = plot.Add.ScatterPoints(sampled.Select(r => Math.Log10(r.Epsilon!.Value)).ToArray(),
                    sampled.Select(r => Math.Log10(r.ContractionFactor)).ToArray(), color.WithOpacity(0.5));
                all.MarkerSize = 5;
                var means = sampled.GroupBy(r => r.Epsilon!.Value).OrderBy(g => g.Key)
                    .Select(g => (X: Math.Log10(g.Key), Y: g.Average(r => Math.Log10(r.ContractionFactor)))).ToArray();
                var line = plot.Add.Scatter(means.Select(p => p.X).ToArray(), means.Select(p => p.Y).ToArray(), color);
                line.LegendText = $"{group.Key} (geometric mean per ε)";
                line.LineWidth = 2;
                line.MarkerSize = 8;
            }
            var flat = group.Where(r => r.Epsilon is null).ToArray();
            if (flat.Length > 0)
            {
                var level = plot.Add.HorizontalLine(flat.Average(r => Math.Log10(r.ContractionFactor)), 2, color, LinePattern.Dashed);
                level.LegendText = $"{group.Key} (no sampling: geometric mean)";
            }
        }
        plot.Axes.Bottom.TickGenerator = LogTicks();
        plot.Axes.Left.TickGenerator = LogTicks();
        return Finish(plot, "Contraction factor (‖∇L(x_K)‖/‖∇L(x_0)‖)^(1/K) against ε of the sampled Hessian",
            "ε (log scale)", "contraction factor (log scale)");
    }

    /// <summary>
    /// The pairs of an approx-newton solve and the exact Newton solve of the same instance and tol: the ratios
    /// approx/exact of solve seconds and of iterations, against nnz + d^ω, log–log, with the line where they are equal.
    /// Null when the rows hold no such pair.
    /// </summary>
    public static byte[]? ApproxVsExact(IReadOnlyList<SweepRow> rows)
    {
        var exact = rows.Where(r => r.Solver == Exact).GroupBy(Pairing).ToDictionary(g => g.Key, g => g.First());
        var pairs = rows.Where(r => r.Solver == Approx && exact.ContainsKey(Pairing(r))).Select(r => (Approx: r, Exact: exact[Pairing(r)])).ToArray();
        if (pairs.Length == 0) return null;
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        void Ratios(string label, Func<SweepRow, double> value, int colour)
        {
            var kept = pairs.Select(p => (X: p.Approx.Cost, Y: value(p.Approx) / value(p.Exact))).Where(p => Positive(p.Y)).ToArray();
            if (kept.Length == 0) return;
            var markers = plot.Add.ScatterPoints(kept.Select(p => Math.Log10(p.X)).ToArray(), kept.Select(p => Math.Log10(p.Y)).ToArray(),
                palette.GetColor(colour));
            markers.LegendText = label;
            markers.MarkerSize = 8;
        }
        Ratios("solve seconds, approx-newton / newton", r => r.SolveSeconds, 0);
        Ratios("iterations, approx-newton / newton", r => r.Iterations, 1);
        var equal = plot.Add.HorizontalLine(0, 1.5f, Colors.Black.WithOpacity(0.6), LinePattern.Dashed);
        equal.LegendText = "equal (ratio 1)";
        plot.Axes.Bottom.TickGenerator = LogTicks();
        plot.Axes.Left.TickGenerator = LogTicks();
        return Finish(plot, "approx-newton against exact Newton (same instance and tol; below 1: approx-newton smaller)",
            "nnz(A) + d^ω (log scale)", "ratio (log scale)");
    }

    /// <summary>What makes two solves comparable: the same instance (sizes, density, repeat and seed) and tolerance.</summary>
    private static (long, int, long, double, int, ulong, double) Pairing(SweepRow r) => (r.N, r.D, r.Nnz, r.Density, r.Repeat, r.Seed, r.Tol);

    private static bool Positive(double v) => v > 0 && double.IsFinite(v);

    private static byte[] Finish(Plot plot, string title, string x, string y)
    {
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        plot.Grid.MinorLineWidth = 1;
        plot.Grid.MinorLineColor = Colors.Black.WithOpacity(0.05);
        plot.ShowLegend(Alignment.UpperRight);
        return plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }

    /// <summary>
    /// Ticks for an axis that holds log10 values v, labelled 10^v in three significant digits (a sweep's n or ε often spans
    /// less than a decade, where decade ticks alone would leave the axis unlabelled).
    /// </summary>
    private static ScottPlot.TickGenerators.NumericAutomatic LogTicks() => new() { LabelFormatter = v => Significant(Math.Pow(10, v)) };

    /// <summary>Three significant digits: plain between 0.001 and a million ("0.05", "1260"), else "1.26e+07".</summary>
    private static string Significant(double value)
    {
        if (!(value > 0) || !double.IsFinite(value)) return "";
        double scale = Math.Pow(10, Math.Floor(Math.Log10(value)) - 2);
        double rounded = Math.Round(value / scale) * scale;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return rounded is >= PlainFrom and < PlainBelow ? rounded.ToString("0.######", inv) : rounded.ToString("0.##e+0", inv);
    }

    /// <summary>The range of tick values written without an exponent.</summary>
    private const double PlainFrom = 1e-3, PlainBelow = 1e6;
}
