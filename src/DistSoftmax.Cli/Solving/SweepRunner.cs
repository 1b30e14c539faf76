using System.Globalization;
using System.Text.Json;
using DistSoftmax.Cli.Output;
using DistSoftmax.Data;

namespace DistSoftmax.Cli.Solving;

/// <summary>
/// Runs a checked sweep. Every grid point is exactly a solve command (<see cref="SweepPoint.SolveArguments"/>), run in
/// this process through <see cref="Program.Run(string[], CliContext)"/> on the chosen backend, writing its x.npy,
/// report.json and convergence.png into OUT/points/KEY/ and its own output (progress lines, summary, warnings) into
/// solve.log there. Generated instances are written once into OUT/instances/KEY/ and shared by the solves on them (so a
/// cluster sweep needs OUT on a file system every worker sees at the same path). After each solve, sweep.csv is rewritten
/// (so an interrupted sweep keeps its table); at the end the plots. Exit code: 0 when every solve converged, 3 when one
/// did not, or the first solve's 1, 2 or 4 that stopped the sweep.
/// </summary>
internal sealed class SweepRunner(CliContext ctx)
{
    /// <summary>The folders and files under OUT.</summary>
    public const string PointsFolder = "points", InstancesFolder = "instances", WarmupFolder = "warmup", TableFile = "sweep.csv",
        LogFile = "solve.log";

    /// <param name="shared">Solve options every point gets (backend, workers, …), as the user gave them.</param>
    /// <param name="warmup">Whether to run <see cref="SweepGrid.WarmupPoints"/> first (in OUT/warmup/, deleted afterwards).</param>
    public int Run(SweepGrid grid, IReadOnlyList<string> shared, string outDirectory, bool warmup)
    {
        string output = ctx.Resolve(outDirectory);
        RequireReplaceable(grid, output, warmup);
        try { Directory.CreateDirectory(output); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException("--out-dir", $"cannot create {output}: {ErrorReport.OneLine(e.Message)}");
        }
        string table = Path.Combine(output, TableFile);
        ctx.Out.WriteLine($"dist-softmax sweep: {grid.Describe()}; writing {table}");
        if (RemoveStaleFolders(grid, output) is > 0 and var removed)
            ctx.Out.WriteLine($"removed {removed} folder{(removed == 1 ? "" : "s")} of an earlier sweep's grid points and instances that this grid does not have");

        if (warmup && Warmup(grid, shared, output) is int stop) return stop;

        var rows = new List<SweepRow>();
        long index = 0, total = grid.PointCount;
        int exit = ExitCodes.Ok;
        foreach (var instance in grid.Instances())
        {
            if (ctx.Cancellation.IsCancellationRequested) return Cancelled(output, rows, index, total);
            string instanceDirectory = Path.Combine(output, InstancesFolder, instance.Key);
            try { instance.Write(instanceDirectory); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OutputWriteException(instanceDirectory, $"cannot write the instance: {ErrorReport.OneLine(e.Message)}", e);
            }
            foreach (var point in grid.Points(instance))
            {
                index++;
                string pointDirectory = Path.Combine(output, PointsFolder, point.Key);
                string report = new OutputPaths(pointDirectory).Report;
                var args = point.SolveArguments(grid.Problem, grid.Unit, instanceDirectory, shared, pointDirectory);
                ForgetEarlierRun(pointDirectory);
                var (code, log, errors) = Solve(args);
                string prefix = string.Create(CultureInfo.InvariantCulture, $"[{index}/{total}] {point.Key}: ");
                bool reported = File.Exists(report);
                // Ctrl+C before the solve's first iteration: it wrote nothing (exit 3).
                if (!reported && code == ExitCodes.NotConverged && ctx.Cancellation.IsCancellationRequested)
                    return Cancelled(output, rows, index - 1, total);
                if (code is not (ExitCodes.Ok or ExitCodes.NotConverged) || !reported)
                {
                    // Bad input (a backend that cannot run, a file that cannot be read), an output failure or an internal error:
                    // every further point would meet it too. The solve's own error line says what.
                    string error = errors.FirstOrDefault(l => l.StartsWith("error:", StringComparison.Ordinal))
                                   ?? errors.LastOrDefault() ?? $"error: the solve exited with {code} and wrote no report";
                    ctx.Out.WriteLine(prefix + "failed, the sweep stops");
                    ctx.Err.WriteLine(ErrorReport.OneLine(error));
                    WriteTable(table, rows);
                    return code == ExitCodes.Ok ? ExitCodes.Internal : code;
                }
                string logPath = Path.Combine(pointDirectory, LogFile);
                try { File.WriteAllText(logPath, log); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new OutputWriteException(logPath, "cannot write: " + ErrorReport.OneLine(e.Message), e);
                }
                var row = SweepRow.FromReport(point, grid.Problem, grid.Unit,
                    JsonDocument.Parse(File.ReadAllBytes(report)).RootElement);
                rows.Add(row);
                WriteTable(table, rows);
                ctx.Out.WriteLine(prefix + Progress(row));
                if (!row.Converged) exit = ExitCodes.NotConverged;
                if (ctx.Cancellation.IsCancellationRequested) return Cancelled(output, rows, index, total);
            }
        }
        WritePlots(output, rows);
        int failed = rows.Count(r => !r.Converged);
        if (failed > 0) ctx.Err.WriteLine($"dist-softmax: {failed} of {rows.Count} solves stopped without meeting the tolerance (see the exit column of {table})");
        return exit;
    }

    /// <summary>
    /// The untimed warm-up solves (<see cref="SweepGrid.WarmupPoints"/>) in OUT/warmup/, deleted afterwards; null when they
    /// ran (converged or not), else the exit code that stops the sweep (a backend that cannot run fails here first).
    /// </summary>
    private int? Warmup(SweepGrid grid, IReadOnlyList<string> shared, string output)
    {
        string folder = Path.Combine(output, WarmupFolder);
        var points = grid.WarmupPoints().ToArray();
        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"warm-up: {points.Length} untimed solve{(points.Length == 1 ? "" : "s")} on a {grid.WarmupN}×{grid.WarmupD} instance (--no-warmup skips them)"));
        string instanceDirectory = Path.Combine(folder, InstancesFolder);
        try
        {
            points[0].Instance.Write(instanceDirectory);
            foreach (var point in points)
            {
                if (ctx.Cancellation.IsCancellationRequested)
                {
                    ctx.Err.WriteLine("dist-softmax: sweep cancelled during the warm-up; no grid point solved");
                    return ExitCodes.NotConverged;
                }
                var (code, _, errors) = Solve(point.SolveArguments(grid.Problem, grid.Unit, instanceDirectory, shared,
                    Path.Combine(folder, point.Key)));
                if (code is ExitCodes.Ok or ExitCodes.NotConverged) continue;
                ctx.Out.WriteLine($"warm-up solve {point.Solver}: failed, the sweep stops");
                ctx.Err.WriteLine(ErrorReport.OneLine(errors.FirstOrDefault(l => l.StartsWith("error:", StringComparison.Ordinal))
                                                      ?? errors.LastOrDefault() ?? $"error: the warm-up solve exited with {code}"));
                return code;
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputWriteException(folder, "cannot write the warm-up instance: " + ErrorReport.OneLine(e.Message), e);
        }
        finally
        {
            try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>Ctrl+C / SIGTERM: the solves so far keep their table, and get their plots; exit 3.</summary>
    private int Cancelled(string output, IReadOnlyList<SweepRow> rows, long done, long total)
    {
        string table = Path.Combine(output, TableFile);
        WriteTable(table, rows);
        ctx.Err.WriteLine($"dist-softmax: sweep cancelled after {done} of {total} solves; {table} holds them");
        WritePlots(output, rows);
        return ExitCodes.NotConverged;
    }

    /// <summary>
    /// Before any solve: refuses (exit 2, naming it) a file of the user's that the sweep would replace or remove —
    /// sweep.csv unless it is a sweep's table (<see cref="SweepTable.IsOwn"/>), a plot unless such a table is beside it,
    /// an instance file not listed by its folder's generate.json, a point's file not listed by its report.json (solve's
    /// rule, <see cref="OutputPaths.RequireReplaceable"/>; solve.log with such a report), and a non-empty warmup/ folder,
    /// which the warm-up deletes whole (a sweep that completes leaves none).
    /// </summary>
    private static void RequireReplaceable(SweepGrid grid, string output, bool warmup)
    {
        if (!Directory.Exists(output)) return;
        bool ownTable = SweepTable.IsOwn(Path.Combine(output, TableFile));
        OutputOwnership.Require(output,
            [TableFile, SweepPlots.IterationsFile, SweepPlots.CostFile, SweepPlots.ContractionFile, SweepPlots.ApproxFile], _ => ownTable);
        string warmupFolder = Path.Combine(output, WarmupFolder);
        if (warmup && (File.Exists(warmupFolder) || Directory.Exists(warmupFolder) && Directory.EnumerateFileSystemEntries(warmupFolder).Any()))
            throw new CliInputException("--out-dir", $"{warmupFolder} {OutputOwnership.NotOurs}");
        foreach (var instance in grid.Instances())
        {
            instance.RequireReplaceable(Path.Combine(output, InstancesFolder, instance.Key));
            foreach (var point in grid.Points(instance))
            {
                string pointDirectory = Path.Combine(output, PointsFolder, point.Key);
                var outputs = new OutputPaths(pointDirectory);
                outputs.RequireReplaceable(checkpoints: true);
                bool ownReport = OutputOwnership.Listed(outputs.Report).Count > 0;
                OutputOwnership.Require(pointDirectory, [LogFile], _ => ownReport);
            }
        }
    }

    /// <summary>
    /// The folders under points/ and instances/ that this grid does not use, left by an earlier sweep into the same folder
    /// (whose table is a sweep's own): the files their report.json or generate.json lists (and solve.log beside such a
    /// report) are removed, then each folder that holds nothing else — a user's files stay, and so does their folder.
    /// Until the twenty-seventh session they all stayed beside a table that no longer listed them (QA audit). Returns
    /// the folders removed.
    /// </summary>
    private static int RemoveStaleFolders(SweepGrid grid, string output)
    {
        if (!SweepTable.IsOwn(Path.Combine(output, TableFile))) return 0;
        var instances = grid.Instances().ToArray();
        var instanceKeys = instances.Select(i => i.Key).ToHashSet(StringComparer.Ordinal);
        var pointKeys = instances.SelectMany(grid.Points).Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        IEnumerable<string> PointFiles(string folder) =>
            OutputOwnership.Listed(new OutputPaths(folder).Report) is { Count: > 0 } listed ? listed.Append(LogFile) : [];
        IEnumerable<string> InstanceFolderFiles(string folder) => OutputOwnership.Listed(Path.Combine(folder, InstanceFiles.Manifest), "generate");
        return RemoveUnused(Path.Combine(output, PointsFolder), pointKeys, PointFiles)
               + RemoveUnused(Path.Combine(output, InstancesFolder), instanceKeys, InstanceFolderFiles);
    }

    /// <summary>In each sub-folder of <paramref name="parent"/> not named in <paramref name="used"/>: removes the files
    /// <paramref name="owned"/> names, then the folder if it is empty. Returns the folders removed.</summary>
    private static int RemoveUnused(string parent, IReadOnlySet<string> used, Func<string, IEnumerable<string>> owned)
    {
        if (!Directory.Exists(parent)) return 0;
        int removed = 0;
        foreach (string folder in Directory.GetDirectories(parent))
        {
            if (used.Contains(Path.GetFileName(folder))) continue;
            try
            {
                foreach (string name in owned(folder).ToArray())
                {
                    string file = Path.Combine(folder, name);
                    if (File.Exists(file)) File.Delete(file);
                }
                if (Directory.EnumerateFileSystemEntries(folder).Any()) continue;
                Directory.Delete(folder);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OutputWriteException(folder, "cannot remove the earlier sweep's files: " + ErrorReport.OneLine(e.Message), e);
            }
        }
        return removed;
    }

    /// <summary>
    /// Deletes what an earlier sweep into the same folder left for this point, so that a report found after the solve is
    /// this solve's (a solve that fails writes none).
    /// </summary>
    private static void ForgetEarlierRun(string pointDirectory)
    {
        if (!Directory.Exists(pointDirectory)) return;
        foreach (string name in new OutputPaths(pointDirectory).All.Select(o => o.Path).Append(Path.Combine(pointDirectory, LogFile)))
        {
            try { File.Delete(name); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new OutputWriteException(name, "cannot replace the earlier sweep's file: " + ErrorReport.OneLine(e.Message), e);
            }
        }
    }

    /// <summary>One solve command in this process, its stdout and stderr captured.</summary>
    private (int Code, string Log, string[] Errors) Solve(IReadOnlyList<string> args)
    {
        var o = new StringWriter(CultureInfo.InvariantCulture);
        var e = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run([.. args], new CliContext(o, e, ctx.WorkingDirectory, interactive: false, ctx.Cancellation));
        string errors = e.ToString();
        string log = "dist-softmax " + string.Join(' ', args.Select(Commands.GenerateCommand.Quote)) + "\n" + o + errors;
        return (code, log, errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    private static string Progress(SweepRow r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Exit}, {r.Iterations} iterations, {r.SolveSeconds:F3} s ({(r.Iterations > 0 ? $"{r.SecondsPerIteration:0.00e+00} s" : "-")}/iteration), " +
        $"contraction {(double.IsFinite(r.ContractionFactor) ? r.ContractionFactor.ToString("G3", CultureInfo.InvariantCulture) : "-")}, |grad| {r.FinalGradientNorm:0.00e+00}");

    private static void WriteTable(string path, IReadOnlyList<SweepRow> rows)
    {
        try { AtomicFile.Write(path, SweepTable.ToUtf8(rows)); }
        catch (DataFormatException e) { throw new OutputWriteException(path, "cannot write: " + ErrorReport.OneLine(e.InnerException?.Message ?? e.Message), e); }
    }

    private void WritePlots(string output, IReadOnlyList<SweepRow> rows)
    {
        void Png(string name, byte[] bytes)
        {
            string path = Path.Combine(output, name);
            try { AtomicFile.Write(path, bytes); }
            catch (DataFormatException e) { throw new OutputWriteException(path, "cannot write: " + ErrorReport.OneLine(e.InnerException?.Message ?? e.Message), e); }
        }
        Png(SweepPlots.IterationsFile, SweepPlots.IterationsAgainstN(rows));
        Png(SweepPlots.CostFile, SweepPlots.TimePerIterationAgainstCost(rows));
        Png(SweepPlots.ContractionFile, SweepPlots.ContractionAgainstEpsilon(rows));
        string approx = Path.Combine(output, SweepPlots.ApproxFile);
        if (SweepPlots.ApproxVsExact(rows) is { } bytes) Png(SweepPlots.ApproxFile, bytes);
        else
        {
            // A stale figure of an earlier sweep into the same folder would be read as this one's.
            if (File.Exists(approx)) File.Delete(approx);
            ctx.Out.WriteLine($"note: {SweepPlots.ApproxFile} not written: no grid point ran both {SweepPlots.Approx} and {SweepPlots.Exact} (give --solvers {SweepPlots.Approx},{SweepPlots.Exact})");
        }
        ctx.Out.WriteLine($"wrote {Path.Combine(output, TableFile)} ({rows.Count} solves) and the plots {string.Join(", ", new[] { SweepPlots.IterationsFile, SweepPlots.CostFile, SweepPlots.ContractionFile }.Concat(File.Exists(approx) ? [SweepPlots.ApproxFile] : []))} in {output}");
    }
}
