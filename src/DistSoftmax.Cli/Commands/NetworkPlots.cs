using DistSoftmax.Core.Diffusion;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Sensitivity;
using ScottPlot;

namespace DistSoftmax.Cli.Commands;

/// <summary>The PNG figures of the network commands (ScottPlot 5).</summary>
internal static class NetworkPlots
{
    /// <summary>Loss per epoch on a log scale (log10 of the loss plotted, ticks labelled in powers of ten).</summary>
    public static void LossCurve(string path, IEnumerable<(string Label, IReadOnlyList<EpochRecord> History)> curves, string title)
    {
        var plot = new Plot();
        foreach (var (label, history) in curves)
        {
            var pts = history.Where(h => h.Loss > 0 && double.IsFinite(h.Loss)).ToArray();
            if (pts.Length == 0) continue;
            var s = plot.Add.Scatter(pts.Select(h => (double)h.Epoch).ToArray(), pts.Select(h => Math.Log10(h.Loss)).ToArray());
            s.LegendText = label;
            s.MarkerSize = pts.Length > 60 ? 0 : 4;
        }
        plot.Axes.Left.TickGenerator = LogTicks();
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel("loss (log scale)");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 900, 600);
    }

    /// <summary>
    /// Target density (heatmap of log p_t at t_min), the reverse-SDE samples, and the learned score field at the middle time as arrows.
    /// </summary>
    public static void Diffusion(string path, DiffusionResult result)
    {
        var data = result.Data;
        double minX = double.PositiveInfinity, maxX = double.NegativeInfinity, minY = double.PositiveInfinity, maxY = double.NegativeInfinity;
        for (int i = 0; i < data.Rows; i++)
        {
            minX = Math.Min(minX, data[i, 0]); maxX = Math.Max(maxX, data[i, 0]);
            minY = Math.Min(minY, data[i, 1]); maxY = Math.Max(maxY, data[i, 1]);
        }
        double padX = 0.25 * (maxX - minX) + 0.5, padY = 0.25 * (maxY - minY) + 0.5;
        minX -= padX; maxX += padX; minY -= padY; maxY += padY;
        var marginal = OrnsteinUhlenbeck.Marginal(result.Target, result.Times.Min);

        var plot = new Plot();
        const int cells = 120;
        var density = new double[cells, cells];
        for (int r = 0; r < cells; r++)
            for (int c = 0; c < cells; c++)
            {
                double x = minX + (c + 0.5) * (maxX - minX) / cells;
                double y = maxY - (r + 0.5) * (maxY - minY) / cells; // row 0 at the top
                density[r, c] = Math.Max(marginal.LogDensity(x, y, 0.0), -12);
            }
        var heat = plot.Add.Heatmap(density);
        heat.Extent = new CoordinateRect(minX, maxX, minY, maxY);
        heat.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(heat).Label = $"log p_t, t = {result.Times.Min:G3}";

        var samples = result.Samples ?? new DenseMatrix(0, 2);
        var xs = new double[samples.Rows];
        var ys = new double[samples.Rows];
        for (int i = 0; i < samples.Rows; i++) { xs[i] = samples[i, 0]; ys[i] = samples[i, 1]; }
        var sc = plot.Add.ScatterPoints(xs, ys, Colors.White.WithAlpha(0.6));
        sc.MarkerSize = 2;
        // A cancelled run drew no samples: no legend entry for them.
        if (result.Samples is not null) sc.LegendText = $"reverse-SDE samples ({DiffusionExperiment.BestModel(result.Models).Activation.Name()} network)";

        const int arrows = 18;
        var grid = new DenseMatrix(arrows * arrows, 2);
        for (int r = 0; r < arrows; r++)
            for (int c = 0; c < arrows; c++)
            {
                grid[r * arrows + c, 0] = minX + (c + 0.5) * (maxX - minX) / arrows;
                grid[r * arrows + c, 1] = minY + (r + 0.5) * (maxY - minY) / arrows;
            }
        double arrowTime = result.Times.Middle;
        var score = DiffusionExperiment.BestModel(result.Models).Network.Scores(grid, arrowTime);
        var vectors = new List<RootedCoordinateVector>();
        for (int i = 0; i < grid.Rows; i++)
            vectors.Add(new RootedCoordinateVector(new Coordinates(grid[i, 0], grid[i, 1]),
                new System.Numerics.Vector2((float)score[i, 0], (float)score[i, 1])));
        // ScottPlot scales arrows by their lengths' range and throws when every length is the same: a field of one length
        // (zero: a paired network at its initial weights, as a run cancelled before its first epoch leaves it) draws none.
        var lengths = vectors.Select(v => v.Vector.Length()).ToArray();
        if (lengths.Max() > lengths.Min())
        {
            var field = plot.Add.VectorField(vectors, Colors.Orange);
            field.LegendText = $"learned score at t = {arrowTime:G3}";
        }
        plot.Axes.SetLimits(minX, maxX, minY, maxY);
        plot.Title("Diffusion: target density, samples and learned score");
        plot.ShowLegend(Alignment.LowerLeft);
        plot.SavePng(path, 1000, 800);
    }

    /// <summary>Relative score error per diffusion time for each network (log–log).</summary>
    public static void ScoreErrors(string path, DiffusionResult result)
    {
        var plot = new Plot();
        var logTime = result.Times.Times.Select(Math.Log10).ToArray();
        foreach (var m in result.Models)
        {
            var pairs = m.RelativeErrors.Select((e, l) => (X: logTime[l], E: e)).Where(p => p.E > 0 && double.IsFinite(p.E)).ToArray();
            if (pairs.Length == 0) continue;
            var s = plot.Add.Scatter(pairs.Select(p => p.X).ToArray(), pairs.Select(p => Math.Log10(p.E)).ToArray());
            s.LegendText = $"{m.Activation.Name()} (σ²-weighted {100 * m.WeightedError:F1} %)";
        }
        plot.Axes.Bottom.TickGenerator = LogTicks();
        plot.Axes.Left.TickGenerator = LogTicks();
        plot.XLabel("diffusion time t");
        plot.YLabel("relative L2 score error");
        plot.Title($"Score error per diffusion time (width {result.Options.Width}, n = {result.Data.Rows})");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 900, 600);
    }

    /// <summary>A diffusion study: the σ_t²-weighted score error against n or width (log–log), one line per network.</summary>
    public static void Study(string path, IEnumerable<DiffusionStudyRow> rows, Func<DiffusionStudyRow, int> x, string xLabel, string title)
    {
        var plot = new Plot();
        foreach (var group in rows.GroupBy(r => r.Activation))
        {
            var pts = group.Where(r => r.WeightedError > 0 && double.IsFinite(r.WeightedError)).OrderBy(x).ToArray();
            if (pts.Length == 0) continue;
            var s = plot.Add.Scatter(pts.Select(r => Math.Log10(x(r))).ToArray(), pts.Select(r => Math.Log10(r.WeightedError)).ToArray());
            s.LegendText = group.Key;
        }
        plot.Axes.Bottom.TickGenerator = LogTicks();
        plot.Axes.Left.TickGenerator = LogTicks();
        plot.XLabel(xLabel);
        plot.YLabel("σ_t²-weighted relative score error");
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 900, 600);
    }

    /// <summary>Sensitivity ratios per ε (log–log) with the linearised predictions as horizontal lines.</summary>
    public static void Sensitivity(string path, SensitivityResult result)
    {
        var plot = new Plot();
        var eps = result.Summary.Select(s => Math.Log10(s.Epsilon)).ToArray();
        void Series(string label, IEnumerable<double> values)
        {
            var v = values.ToArray();
            var idx = Enumerable.Range(0, v.Length).Where(i => v[i] > 0 && double.IsFinite(v[i])).ToArray();
            if (idx.Length == 0) return;
            var s = plot.Add.Scatter(idx.Select(i => eps[i]).ToArray(), idx.Select(i => Math.Log10(v[i])).ToArray());
            s.LegendText = label;
        }
        Series("max ‖Δx*‖/‖ΔA‖", result.Summary.Select(s => s.MaxSolutionRatio));
        Series("mean ‖Δx*‖/‖ΔA‖", result.Summary.Select(s => s.MeanSolutionRatio));
        Series("max ‖Δf‖/‖ΔA‖", result.Summary.Select(s => s.MaxOutputRatio));
        double px = result.PredictedSolutionRatio.Max(), pf = result.PredictedOutputRatio.Max();
        if (px > 0) { var l = plot.Add.HorizontalLine(Math.Log10(px)); l.LinePattern = LinePattern.Dashed; l.LegendText = "linearised max ‖H⁻¹(∂∇L/∂A)Δ‖"; }
        if (pf > 0) { var l = plot.Add.HorizontalLine(Math.Log10(pf)); l.LinePattern = LinePattern.Dotted; l.LegendText = "linearised max ‖Δf‖"; }
        plot.Axes.Bottom.TickGenerator = LogTicks();
        plot.Axes.Left.TickGenerator = LogTicks();
        plot.XLabel("‖A' − A‖_F = ε");
        plot.YLabel("ratio");
        plot.Title($"Sensitivity of x*(A), {result.Family}, n = {result.Rows}, d = {result.Dimension}");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 900, 600);
    }

    /// <summary>
    /// The --widths sweep of train: ntk-lambda-min.png (λ_min(K0)), ntk-movement.png (‖K(t) − K(0)‖_F/‖K(0)‖_F) and
    /// ntk-loss.png (final loss per row, with kernel regression on K0 dashed), each against the width, log–log, one
    /// line per activation. Non-positive or non-finite values are left out.
    /// </summary>
    public static void WidthSweep(string outDir, IReadOnlyList<WidthSweepRow> rows)
    {
        void Figure(string file, string title, string yLabel, params (string Suffix, Func<WidthSweepRow, double?> Value, LinePattern Pattern)[] series)
        {
            var plot = new Plot();
            foreach (var group in rows.GroupBy(r => r.Activation))
                foreach (var (suffix, value, pattern) in series)
                {
                    var pts = group.Select(r => (X: (double)r.Width, Y: value(r) ?? double.NaN)).Where(p => p.Y > 0 && double.IsFinite(p.Y)).ToArray();
                    if (pts.Length == 0) continue;
                    var sc = plot.Add.Scatter(pts.Select(p => Math.Log10(p.X)).ToArray(), pts.Select(p => Math.Log10(p.Y)).ToArray());
                    sc.LegendText = group.Key + suffix;
                    sc.LinePattern = pattern;
                }
            plot.Axes.Bottom.TickGenerator = LogTicks();
            plot.Axes.Left.TickGenerator = LogTicks();
            plot.XLabel("width m");
            plot.YLabel(yLabel);
            plot.Title(title);
            plot.ShowLegend(Alignment.UpperRight);
            plot.SavePng(Path.Combine(outDir, file), 900, 600);
        }
        Figure("ntk-lambda-min.png", "Smallest eigenvalue of the tangent kernel at initialisation", "λ_min(K0)", ("", r => r.LambdaMin0, LinePattern.Solid));
        Figure("ntk-movement.png", "Kernel movement during training", "‖K(t) − K(0)‖_F / ‖K(0)‖_F", ("", r => r.KernelMovement, LinePattern.Solid));
        Figure("ntk-loss.png", "Final training loss per row (dashed: kernel regression with K0, test loss when given)", "½‖f − y‖² per row",
            ("", r => r.TestLoss ?? r.FinalLoss, LinePattern.Solid), (" (K0 regression)", r => r.KernelTestLoss ?? r.KernelTrainLoss, LinePattern.Dashed));
    }

    /// <summary>Ticks for an axis that holds log10 values: labels 10^k at the decades, minor ticks between.</summary>
    private static ScottPlot.TickGenerators.NumericAutomatic LogTicks() => new()
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = v => $"1e{v:0}",
    };
}
