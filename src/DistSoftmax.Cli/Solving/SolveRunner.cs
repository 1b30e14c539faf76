using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using DistSoftmax.Cli.Commands;
using DistSoftmax.Cli.Output;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core.Analysis;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Sources;
using DistSoftmax.Data;
using DistSoftmax.Data.Sources;

namespace DistSoftmax.Cli.Solving;

/// <summary>
/// The solve command from checked settings to written files: plan (every input checked, nothing written), solve on
/// the chosen backend with live progress, then x.npy, convergence.png and report.json (last), each written atomically,
/// and a summary. Returns the exit code: 0 converged, 3 stopped without meeting the tolerance, 2 bad input.
/// </summary>
/// <param name="backends">Which backend runs a plan; null: <see cref="SolveBackends.For"/> (the service passes its own cluster).</param>
internal sealed class SolveRunner(CliContext ctx, Func<BackendPlan, ISolveBackend>? backends = null)
{
    private int _iterationsSeen;

    /// <summary>Whether the solver reported any iteration (a solve cancelled before that has nothing to write).</summary>
    private bool AnyIteration => Volatile.Read(ref _iterationsSeen) > 0;

    /// <param name="planned">A plan already made from <paramref name="settings"/> (the service checks a job when it is
    /// submitted); null: planned here.</param>
    public async Task<int> RunAsync(SolveSettings settings, SolvePlan? planned = null)
    {
        var total = Stopwatch.StartNew();
        var started = DateTimeOffset.UtcNow;
        // A solve whose shards live in this process (no cluster, no backend of the service's) gets the rows of A's
        // inspection for its shards (DataShardLoader.ShareScannedRows): they neither map nor check them again.
        bool shardsHere = backends is null && settings.Seeds is null;
        var loader = new DataShardLoader { ShareScannedRows = shardsHere };
        // A local solve's ActorSystem starts on the other core while the inputs are read and checked.
        var earlySystem = planned is null && shardsHere && settings.Backend == JobOptions.Local
            ? LocalSimulationBackend.StartEarly()
            : null;
        SolvePlan plan;
        ISolveBackend backend;
        Solver solver;
        string? sourceIdentity;
        try
        {
            plan = planned ?? SolvePlanner.Plan(settings, ctx, loader);
            // Nothing of the user's in --out-dir is replaced or removed: a file there under an output's name must be an
            // earlier run's (checked before the checkpoint writer or the output set touch the directory).
            plan.Outputs.RequireReplaceable(settings.Checkpoints);
            backend = backends?.Invoke(plan.Backend)
                      ?? (earlySystem is not null && plan.Backend.Kind == JobOptions.Local ? new LocalSimulationBackend(earlySystem) : SolveBackends.For(plan.Backend));
            solver = SolverCatalog.Create(plan.Solver, plan.Options);
            settings.ResumeFrom?.CheckFits(solver, plan.Inspection.Shape.Objective);
            sourceIdentity = SourceIdentity.Of(plan.Source, WorkerSettings.DefaultCacheableKinds);
            if (settings.Resuming && settings.RecordedSource is { } recorded && recorded != sourceIdentity)
                throw new CliInputException("--resume", SourceIdentity.FirstChange(recorded, sourceIdentity ?? "") is { } changed
                    ? $"{changed} changed since the checkpoint was taken (its size or modification time differs)"
                    : "the inputs changed since the checkpoint was taken (a file's size or modification time differs)");
        }
        catch (CheckpointFormatException e)
        {
            return NothingRuns(ErrorReport.Write(ctx, new CliInputException("--resume", e.Message), validating: true), earlySystem);
        }
        catch (Exception e) when (e is CliInputException or DataFormatException or ArgumentException)
        {
            return NothingRuns(ErrorReport.Write(ctx, e, validating: true), earlySystem);
        }
        foreach (string w in plan.Warnings) ctx.Err.WriteLine("warning: " + ErrorReport.OneLine(w));
        if (settings.Resuming)
            ctx.Err.WriteLine(settings.ResumeFrom is { } from
                ? $"dist-softmax: resuming the solve in {plan.Outputs.Directory} after iteration {from.Iteration}"
                : $"dist-softmax: {plan.Outputs.Directory} has no {CheckpointWriter.FileName} (stopped before its first iteration): solving from the start");
        PhaseTiming.Mark("planned (inputs read and checked)");
        var plotEngineReady = WarmUpPlotEngine();

        var view = new ConsoleView(ctx);
        // --progress json: stdout carries only JSON lines (JsonProgress), so no header, table or summary.
        var json = settings.Progress == "json" ? new JsonProgress(ctx.Out) : null;
        if (json is null) _ = view.WarmUpSummary();
        using var cleanStdout = json is null ? null : JsonProgress.KeepConsoleOutClean(ctx.Out);
        if (json is null) view.Line(Header(plan, backend));
        PhaseTiming.Mark("header shown");
        // Checkpoints (checkpoint.json and checkpoint.bin from the first iteration on) unless --no-checkpoint.
        var checkpoints = settings.Checkpoints
            ? new CheckpointWriter(plan.Outputs.Directory, new ResumeRecord(ctx.WorkingDirectory, settings.SolveArguments, sourceIdentity), ctx.Err)
            : null;
        var options = plan.Options with { Checkpoint = checkpoints is null ? null : checkpoints.Offer, ResumeFrom = settings.ResumeFrom };
        // The solve's shards are kept for the analysis after it when they live in this process (no second copy of A).
        var retained = settings.Analysis && backend is InProcessBackend or LocalSimulationBackend ? new RetainingShardLoader(loader) : null;
        // Elsewhere (a cluster) the analysis runs on the workers' shards before the coordinator reports the result.
        RequestProgram<(PostSolveResult Result, double Seconds)>? onWorkers = null;
        var job = new SolveJob((IShardLoader?)retained ?? loader, plan.Source, plan.Inspection.Shape, solver, options, plan.X0, plan.Workers)
        {
            AfterSolve = settings.Analysis && retained is null ? PostSolvePass.OnWorkers(plan, program => onWorkers = program) : null,
        };
        SolverResult result;
        try
        {
            Func<Action<TraceEntry>, Action<string>, Task<SolverResult>> solve = (progress, note) =>
                backend.SolveAsync(job, e => { Interlocked.Increment(ref _iterationsSeen); progress(e); }, note, ctx.Cancellation);
            result = json is null ? await view.ShowProgressAsync(solve) : await solve(json.Iteration, json.Cluster);
            // A cancelled solve keeps its newest checkpoint for --resume; one that ended needs none (removed below).
            if (checkpoints is not null) await checkpoints.CompleteAsync(keepLast: result.Exit == ExitCondition.Cancelled);
        }
        catch (DistributedSolveException) when (ctx.Cancellation.IsCancellationRequested && !AnyIteration)
        {
            // Ctrl+C / SIGTERM before the first iteration: there is no point to write.
            ctx.Err.WriteLine("dist-softmax: cancelled before the solve started; nothing written");
            json?.Finished(ExitCodes.NotConverged, ExitCondition.Cancelled, 0, "cancelled before the solve started; nothing written", null);
            return ExitCodes.NotConverged;
        }
        catch (InsecureNodeException e)
        {
            // A job's node on a non-loopback address without credentials: bad input, nothing started.
            ctx.Err.WriteLine("error: " + ErrorReport.OneLine($"--host: {e.Message}"));
            json?.Finished(ExitCodes.BadInput, null, 0, ErrorReport.OneLine($"--host: {e.Message}"), null);
            return ExitCodes.BadInput;
        }
        catch (ClusterUnavailableException e)
        {
            // No seed answered or too few workers registered: the job's --seeds / --min-workers are the bad input.
            string failure = ErrorReport.OneLine($"--seeds: {e.Message}");
            ctx.Err.WriteLine("error: " + failure);
            if (CliContext.Debug) ctx.Err.WriteLine(e.ToString());
            json?.Finished(ExitCodes.BadInput, null, 0, failure, null);
            return ExitCodes.BadInput;
        }
        catch (DistributedSolveException e)
        {
            // The solve could not be carried out (no workers in time, a shard that cannot be loaded, …): nothing is written.
            string failure = ErrorReport.OneLine($"{backend.Name} backend: the solve failed: {e.Message}");
            ctx.Err.WriteLine("error: " + failure);
            if (CliContext.Debug) ctx.Err.WriteLine(e.ToString());
            json?.Finished(ExitCodes.Internal, null, 0, failure, null);
            return ExitCodes.Internal;
        }
        finally
        {
            // A failed solve keeps its newest checkpoint too (no-op after the call above).
            if (checkpoints is not null) await checkpoints.CompleteAsync(keepLast: true);
        }

        PhaseTiming.Mark($"solved ({result.Iterations} iterations, {result.Seconds * 1e3:F0} ms in the solver)");
        string? startWarning = StartWarning(result, plan.Inspection.Rows);
        if (startWarning is not null) ctx.Err.WriteLine("warning: " + startWarning);
        // The plot needs only the trace: it is drawn on another thread while the analysis runs.
        var plot = plotEngineReady.ContinueWith(_ => ConvergencePlot.Render(result.Trace,
            $"{ProblemTitle(plan)}: {plan.Solver}, {backend.Name} ({plan.Workers} workers)", plan.Options.RelativeTolerance),
            CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        // The solve's garbage (requests, replies, the solver's models) is collected before the analysis allocates its
        // own d×d arrays, so the two do not add up at the process's peak — when there is enough of it to matter.
        if (retained is not null && GC.GetTotalMemory(forceFullCollection: false) >= CollectBeforeAnalysisBytes)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            PhaseTiming.Mark("solve's garbage collected");
        }
        var (analysis, analysisSeconds, analysisFailure) = Analyse(plan, loader, retained, onWorkers, result);
        retained?.Clear();
        PhaseTiming.Mark("post-solve analysis done");
        // Outputs, only now: x.npy, the plot, and the report last (it lists the others).
        var outputs = plan.Outputs;
        try { Directory.CreateDirectory(outputs.Directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(outputs.Directory, $"cannot create the output directory: {ErrorReport.OneLine(e.Message)}", e);
        }
        // The outputs replace the previous run's as a set (OutputSet): staged next to their names, then put in place
        // together, the report last (it lists the others). The plot has been drawn on another thread meanwhile.
        var set = new OutputSet(outputs.Directory, outputs.All.Select(o => Path.GetFileName(o.Path)).ToArray());
        long[] shape = plan.IsMatrix ? [plan.Inspection.Columns, plan.Inspection.Columns] : [result.X.LongLength];
        set.Stage(Path.GetFileName(outputs.X), stream => Npy.WriteTo(stream, outputs.X, result.X, shape));
        var files = StageAnalysis(set, outputs, analysis, shape);
        var report = BuildReport(plan, backend, solver, result, started, total.Elapsed.TotalSeconds);
        report = report with
        {
            Regime = analysis?.Regime,
            Warnings = [.. report.Warnings, .. startWarning is null ? [] : new[] { startWarning }, .. analysis?.Warnings ?? [],
                .. analysisFailure is null ? [] : new[] { analysisFailure }],
            WallTime = report.WallTime with { AnalysisSeconds = analysisSeconds },
            Files = files,
        };
        byte[] reportBytes = report.ToUtf8();
        set.Stage(Path.GetFileName(outputs.Plot), await plot);
        PhaseTiming.Mark("plot staged");
        set.Stage(Path.GetFileName(outputs.Report), reportBytes);
        set.Commit(Path.GetFileName(outputs.Report));
        PhaseTiming.Mark("report written");

        if (checkpoints is not null)
        {
            PhaseTiming.Mark(checkpoints.CostLine(result.Trace.Count, result.Seconds));
            // A finished solve needs no checkpoint; a cancelled one keeps it for --resume.
            if (result.Exit == ExitCondition.Cancelled && checkpoints.Written > 0)
                ctx.Err.WriteLine($"dist-softmax: checkpoint kept: continue with dist-softmax solve --resume {outputs.Directory}");
            else ResumeRecord.Remove(outputs.Directory);
        }
        if (json is null) view.Summary(SummaryRows(plan, backend, result, report).Concat(AnalysisRows(report)));
        else json.Finished(result.Converged ? ExitCodes.Ok : ExitCodes.NotConverged, result.Exit, result.Iterations, result.Message, report.Files, report.Regime);
        PhaseTiming.Mark("summary shown");
        if (analysisFailure is not null && plan.Save != PostSolveOutputs.None)
        {
            // The arrays asked for by --save could not be computed: the rest is written, but the run did not do what was asked.
            ctx.Err.WriteLine("error: " + ErrorReport.OneLine($"--save: {analysisFailure}"));
            return ExitCodes.Internal;
        }
        if (result.Converged) return ExitCodes.Ok;
        ctx.Err.WriteLine($"dist-softmax: stopped without meeting the tolerance ({Kebab(result.Exit)}): {result.Message}");
        return ExitCodes.NotConverged;
    }

    /// <summary>
    /// Bad input found before the solve: the exit code, returned at once; the early ActorSystem (if any) is terminated
    /// behind it (waiting for it to finish starting made every bad-input exit ≈ 0.25 s slower; its threads do not keep
    /// the process alive).
    /// </summary>
    private static int NothingRuns(int exitCode, Task<Akka.Actor.ActorSystem>? earlySystem)
    {
        if (earlySystem is not null) _ = LocalSimulation.DiscardStartedSystem(earlySystem);
        return exitCode;
    }

    /// <summary>
    /// Managed heap size from which the solve's garbage is collected before the post-solve analysis. Below it the
    /// collection cannot move the process's peak much (the runtime and the mapped rows dominate it) and only costs
    /// time: 20–27 ms of the 200000×100 benchmark's 1.2–1.3 s, whose heap held 30 MB. At 400000×400 the heap held
    /// 64 MB (two workers) to 96 MB (four), at 100000×1000 138 MB of requests, replies and 8 MB d×d models; with the
    /// collection there the peak stayed at 1.16× and 1.39× A.
    /// </summary>
    private const long CollectBeforeAnalysisBytes = 64L << 20;

    /// <summary>
    /// Draws a throwaway two-point chart in CPU the solve leaves idle (<see cref="IdleWarmUp"/>), so that loading
    /// SkiaSharp's native library and fonts and compiling ScottPlot's drawing code (≈ 0.1 s at first use) overlap the
    /// solve instead of following it. Failures are left to the real plot, which reports them.
    /// </summary>
    private static Task WarmUpPlotEngine() => IdleWarmUp.Run(() =>
        ConvergencePlot.Render([new TraceEntry(0, 1, 1, 0, 0, 0, 0), new TraceEntry(1, 0.5, 0.5, 1, 0, 0, 0)], "", 0.1));

    /// <summary>
    /// The post-solve analysis at x* (<see cref="PostSolvePass"/>), skipped with --no-analysis and after a cancellation
    /// (the user asked the run to end: no regime, no arrays, exit 3 as for any cancelled solve); warnings go to stderr as
    /// they are found. Returns the
    /// analysis (null when skipped or failed), its seconds, and the failure, if any (a warning, or with --save the error).
    /// </summary>
    private (PostSolveResult? Analysis, double Seconds, string? Failure) Analyse(SolvePlan plan, DataShardLoader loader,
        RetainingShardLoader? retained, RequestProgram<(PostSolveResult Result, double Seconds)>? onWorkers, SolverResult result)
    {
        if (!plan.Settings.Analysis || ctx.Cancellation.IsCancellationRequested || result.Exit == ExitCondition.Cancelled) return (null, 0, null);
        try
        {
            PostSolveResult analysis;
            double seconds;
            if (onWorkers is { Finished: true, Error: not OperationCanceledException })
            {
                // It ran on the workers' shards; what it threw there is reported as if it had thrown here.
                if (onWorkers.Error is { } thrown) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(thrown).Throw();
                (analysis, seconds) = onWorkers.Result;
            }
            else
            {
                if (onWorkers?.Error is { } stopped)
                    ctx.Err.WriteLine("dist-softmax: the post-solve analysis on the workers stopped (" + ErrorReport.OneLine(stopped.Message) +
                                      "); running it here on the rows loaded again");
                (analysis, seconds) = PostSolvePass.Run(plan, loader, retained, result.X, result.Requests);
            }
            if (result.Converged && PostSolveAnalysis.NotAMinimiserWarning(analysis.Regime) is { } notAMinimiser)
                analysis = analysis with { Warnings = [.. analysis.Warnings, notAMinimiser] };
            foreach (string w in analysis.Warnings) ctx.Err.WriteLine("warning: " + ErrorReport.OneLine(w));
            return (analysis, seconds, null);
        }
        catch (Exception e) when (e is DataFormatException or IOException or ArgumentException or NotSupportedException)
        {
            string failure = "post-solve analysis failed: " + ErrorReport.OneLine(e.Message);
            if (plan.Save == PostSolveOutputs.None) ctx.Err.WriteLine("warning: " + failure);
            if (CliContext.Debug) ctx.Err.WriteLine(e.ToString());
            return (null, 0, failure);
        }
    }

    /// <summary>Stages the --save arrays that were computed; returns the files report with their paths.</summary>
    private static FilesReport StageAnalysis(OutputSet set, OutputPaths outputs, PostSolveResult? analysis, long[] xShape)
    {
        var files = new FilesReport(outputs.X, outputs.Report, outputs.Plot);
        if (analysis is null) return files;
        string? Stage(string path, double[]? data, long[]? shape)
        {
            if (data is null) return null;
            set.Stage(Path.GetFileName(path), stream => Npy.WriteTo(stream, path, data, shape!));
            return path;
        }
        long u = xShape.Aggregate(1L, (p, s) => p * s);
        return files with
        {
            Fitted = Stage(outputs.Fitted, analysis.Fitted, analysis.FittedShape),
            Residual = Stage(outputs.Residual, analysis.Residual, analysis.FittedShape),
            Gradient = Stage(outputs.Gradient, analysis.Gradient, xShape),
            Hessian = Stage(outputs.Hessian, analysis.Hessian, [u, u]),
            HessianEigenvalues = Stage(outputs.HessianEigenvalues, analysis.HessianEigenvalues, [u]),
        };
    }

    /// <summary>Summary rows of the post-solve analysis.</summary>
    private static IEnumerable<(string, string)> AnalysisRows(SolveReport report)
    {
        if (report.Regime is null) yield break;
        yield return ("regime", PostSolvePass.SummaryLine(report.Regime));
        var f = report.Files;
        var saved = new[] { f.Fitted, f.Residual, f.Gradient, f.Hessian, f.HessianEigenvalues }.OfType<string>().Select(Path.GetFileName).ToArray();
        yield return ("analysis", Invariant($"{report.WallTime.AnalysisSeconds:F2} s") + (saved.Length == 0 ? "" : "; saved " + string.Join(", ", saved)));
    }

    private static string ProblemTitle(SolvePlan plan) =>
        plan.Unit is null ? plan.Problem : $"{plan.Problem} ({plan.Unit})";

    private static string Sizes(SolvePlan plan)
    {
        var i = plan.Inspection;
        return plan.IsMatrix
            ? Invariant($"n = {i.Rows}, d = {i.Columns} (X is {i.Columns}×{i.Columns}, {i.Unknowns} unknowns), B is {i.Rows}×{i.TargetColumns}, nnz(A1, A2) = {i.NonZeros}")
            : Invariant($"n = {i.Rows}, d = {i.Columns}, nnz(A) = {i.NonZeros}");
    }

    private static string Header(SolvePlan plan, ISolveBackend backend) =>
        $"dist-softmax solve: {ProblemTitle(plan)}{(plan.Demo ? " (built-in demo instance)" : "")}, {Sizes(plan)}; " +
        $"solver {plan.Solver}, backend {backend.Name}, {plan.Workers} worker{(plan.Workers == 1 ? "" : "s")}";

    /// <summary>
    /// A warning when the log-linear start fitted only some of the <paramref name="rows"/> rows of B (a row with a zero
    /// or negative entry has no logarithm and takes no part), none when it fitted them all or did not run.
    /// </summary>
    internal static string? StartWarning(SolverResult result, long rows) =>
        result.LogLinearStartRows is { } used && used < rows
            ? $"the log-linear start fitted {used} of {rows} rows of B (the others have a zero or negative entry and took no part)" +
              (used == 0 ? "; it started from zeros" : "")
            : null;

    /// <summary>The plan's start, with the factor the log-linear start was scaled by where the solve fitted one.</summary>
    internal static string StartText(SolvePlan plan, SolverResult result) =>
        result.LogLinearStartScale is { } t ? Invariant($"{plan.Start}, scaled by t = {t:0.####} (least loss along t·X)") : plan.Start;

    private static SolveReport BuildReport(SolvePlan plan, ISolveBackend backend, Solver solver, SolverResult result, DateTimeOffset started, double totalSeconds)
    {
        var i = plan.Inspection;
        var b = plan.Backend;
        return new SolveReport
        {
            Version = typeof(SolveRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            Arguments = plan.Settings.Arguments,
            StartedAt = started,
            Problem = plan.Problem,
            Unit = plan.Unit,
            Demo = plan.Demo,
            Source = SourceReport.From(plan.Source),
            Sizes = new SizesReport(i.Rows, i.Columns, i.Unknowns, i.NonZeros, i.TargetColumns),
            Inputs = plan.Inputs,
            Start = StartText(plan, result),
            Solver = plan.Solver,
            Globalization = solver.Globalization,
            SolverChoiceReason = plan.SolverChoiceReason,
            Options = plan.Options,
            Seed = plan.Options.Seed,
            Backend = backend.Name,
            Workers = plan.Workers,
            Cluster = b.Kind == "cluster" ? new ClusterReport(b.Seeds, b.MinWorkers, b.Host, b.Port) : null,
            Exit = result.Exit,
            Converged = result.Converged,
            Message = result.Message,
            Iterations = result.Iterations,
            FinalLoss = result.Loss,
            InitialGradientNorm = result.InitialGradientNorm,
            FinalGradientNorm = result.GradientNorm,
            Requests = result.Requests,
            Warnings = plan.Warnings,
            Trace = result.Trace,
            WallTime = new WallTimeReport(result.Seconds, totalSeconds),
            Files = new FilesReport(plan.Outputs.X, plan.Outputs.Report, plan.Outputs.Plot),
        };
    }

    private static IEnumerable<(string, string)> SummaryRows(SolvePlan plan, ISolveBackend backend, SolverResult result, SolveReport report)
    {
        yield return ("problem", ProblemTitle(plan) + (plan.Demo ? " (built-in demo instance)" : ""));
        yield return ("size", Sizes(plan));
        yield return ("solver", plan.Solver + (plan.SolverChoiceReason is null ? "" : $" ({plan.SolverChoiceReason})"));
        yield return ("start", report.Start);
        yield return ("backend", $"{backend.Name}, {plan.Workers} worker{(plan.Workers == 1 ? "" : "s")}");
        yield return ("result", $"{Kebab(result.Exit)}: {result.Message}");
        yield return ("iterations", Invariant($"{result.Iterations}"));
        yield return ("final loss", result.Loss.ToString(NumberFormats.Loss, CultureInfo.InvariantCulture));
        yield return ("gradient norm", $"{result.InitialGradientNorm.ToString(NumberFormats.GradientNorm, CultureInfo.InvariantCulture)} → {result.GradientNorm.ToString(NumberFormats.GradientNorm, CultureInfo.InvariantCulture)}");
        yield return ("time", Invariant($"solve {report.WallTime.SolveSeconds:F2} s, total {report.WallTime.TotalSeconds:F2} s"));
        yield return ("x", plan.Outputs.X);
        yield return ("report", plan.Outputs.Report);
        yield return ("plot", plan.Outputs.Plot);
    }

    private static string Kebab(ExitCondition e) => System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(e.ToString());

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
