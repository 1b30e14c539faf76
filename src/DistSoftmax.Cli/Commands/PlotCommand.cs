using System.CommandLine;
using System.Text.Json;
using DistSoftmax.Cli.Output;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// The <c>plot</c> command: overlays the runs of several <c>solve</c> reports on one chart — each run's relative
/// gradient ‖∇L‖/‖∇L(x0)‖ (solid) and L − L_best (dotted) against iteration or wall time, with the tolerance line of
/// the first report — to compare solvers, globalisations or settings on one problem.
/// </summary>
internal static class PlotCommand
{
    public static Command Build(CliContext ctx)
    {
        var reports = new Argument<string[]>("reports") { Description = "report.json files written by solve (one run each).", Arity = ArgumentArity.OneOrMore };
        var output = OptionFactory.Text("--out", "The PNG to write (a .png name; replaces only an earlier image, never an input or any other file).", "overlay.png", "FILE").NonEmptyPath("give a file, e.g. overlay.png");
        var axis = OptionFactory.Choice("--x", "Horizontal axis: iteration or time (wall-clock seconds of the solve).", "iteration", "iteration", "time");
        var command = new Command("plot", "Overlay the convergence of several solve runs (their report.json files) on one chart.");
        command.Add(reports);
        command.Add(output);
        command.Add(axis);
        command.SetAction(parse =>
        {
            try
            {
                var paths = parse.GetValue(reports)!.Select(ctx.Resolve).ToArray();
                string outPath = ctx.Resolve(parse.GetValue(output)!);
                if (paths.Any(p => string.Equals(p, outPath, StringComparison.Ordinal)))
                    throw new CliInputException("--out", $"writing {outPath} would overwrite an input report; choose another --out");
                RefuseToReplace(outPath);
                var runs = paths.Select(Read).ToArray();
                double? tolerance = runs[0].Tolerance;
                string count = runs.Length == 1 ? "1 run" : $"{runs.Length} runs";
                var png = ConvergencePlot.Overlay(runs.Select(r => r.Run).ToArray(), count, tolerance, parse.GetValue(axis) == "time");
                string? dir = Path.GetDirectoryName(outPath);
                if (dir is not null && !Directory.Exists(dir)) throw new CliInputException("--out", $"directory {dir} does not exist");
                AtomicFile.Write(outPath, png);
                ctx.Out.WriteLine($"wrote {outPath} ({count})");
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is CliInputException or DataFormatException)
            {
                return ErrorReport.Write(ctx, e, validating: true);
            }
        });
        return command;
    }

    /// <summary>The first bytes of every PNG image.</summary>
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>
    /// --out names the PNG to write: a .png name, and where something is there already, an image it may replace — not a
    /// folder, and not any other file (until the twenty-seventh session plot wrote over a matrix, a sweep's table or a
    /// user's notes given as --out; QA audit).
    /// </summary>
    private static void RefuseToReplace(string outPath)
    {
        if (!outPath.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new CliInputException("--out", $"{outPath} is not a .png file name: plot writes a PNG image (e.g. overlay.png)");
        if (Directory.Exists(outPath)) throw new CliInputException("--out", $"{outPath} is a directory; give a file, e.g. overlay.png");
        if (!File.Exists(outPath)) return;
        var head = new byte[PngSignature.Length];
        int read;
        try
        {
            using var stream = File.OpenRead(outPath);
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException("--out", $"{outPath} exists and cannot be read ({ErrorReport.OneLine(e.Message)}); choose another --out");
        }
        if (read < head.Length || !head.AsSpan().SequenceEqual(PngSignature))
            throw new CliInputException("--out", $"{outPath} exists and is not a PNG image; plot replaces only an earlier image — choose another --out or remove it");
    }

    /// <summary>One report's trace and label ("solver, globalization — directory"); a file that is not a solve report is bad input.</summary>
    private static (ConvergencePlot.Run Run, double? Tolerance) Read(string path)
    {
        if (Directory.Exists(path)) throw new DataFormatException(path, "is a directory, not a report file (give DIR/report.json)");
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found");
        try
        {
            using var stream = File.OpenRead(path);
            using var doc = JsonDocument.Parse(stream);
            var root = doc.RootElement;
            if (!root.TryGetProperty("trace", out var trace) || trace.ValueKind != JsonValueKind.Array)
                throw new DataFormatException(path, "is not a solve report (no \"trace\" array)");
            var entries = trace.EnumerateArray().Select((t, i) => new TraceEntry(
                Field(t, i, "iteration").GetInt32(), Number(Field(t, i, "loss")), Number(Field(t, i, "gradientNorm")),
                Number(Field(t, i, "stepLength")), Field(t, i, "rowsSampled").GetInt64(), Number(Field(t, i, "seconds")),
                Field(t, i, "requests").GetInt64())).ToArray();
            if (entries.Length == 0) throw new DataFormatException(path, "has no iterations in its \"trace\" (nothing to plot)");
            string solver = root.TryGetProperty("solver", out var s) ? s.GetString() ?? "?" : "?";
            string globalization = root.TryGetProperty("globalization", out var g) ? ", " + g.GetString() : "";
            string where = Path.GetFileName(Path.GetDirectoryName(path)) ?? "";
            double? tolerance = root.TryGetProperty("options", out var o) && o.TryGetProperty("relativeTolerance", out var tol)
                ? Number(tol) : null;
            string label = where.Length == 0 || where == solver ? $"{solver}{globalization}" : $"{solver}{globalization} ({where})";
            return (new ConvergencePlot.Run(label, entries), tolerance);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new DataFormatException(path, $"is not a solve report ({ErrorReport.OneLine(e.Message)})");
        }
    }

    /// <summary>Field <paramref name="name"/> of trace entry <paramref name="index"/>, or a message naming both.</summary>
    private static JsonElement Field(JsonElement entry, int index, string name) =>
        entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty(name, out var value) ? value
            : throw new FormatException($"trace entry {index} has no \"{name}\"");

    /// <summary>A JSON number, or the "NaN"/"Infinity" strings the report writes for non-finite values.</summary>
    private static double Number(JsonElement e) => e.ValueKind == JsonValueKind.String
        ? double.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture)
        : e.GetDouble();
}
