using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using DistSoftmax.Cli.Output;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Checkpoints;
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
        var loader = new DataShardLoader();
        SolvePlan plan;
        ISolveBackend backend;
        Solver solver;
        try
        {
            plan = planned ?? SolvePlanner.Plan(settings, ctx, loader);
            backend = backends?.Invoke(plan.Backend) ?? SolveBackends.For(plan.Backend);
            solver = SolverCatalog.Create(plan.Solver, plan.Options);
            settings.ResumeFrom?.CheckFits(solver, plan.Inspection.Shape.Objective);
        }
        catch (CheckpointFormatException e)
        {
            return ErrorReport.Write(ctx, new CliInputException("--resume", e.Message), validating: true);
        }
        catch (Exception e) when (e is CliInputException or DataFormatException or ArgumentException)
        {
            return ErrorReport.Write(ctx, e, validating: true);
        }
        foreach (string w in plan.Warnings) ctx.Err.WriteLine("warning: " + ErrorReport.OneLine(w));
        PhaseTiming.Mark("planned (inputs read and checked)");

        var view = new ConsoleView(ctx);
        // --progress json: stdout carries only JSON lines (JsonProgress), so no header, table or summary.
        var json = settings.Progress == "json" ? new JsonProgress(ctx.Out) : null;
        using var cleanStdout = json is null ? null : JsonProgress.KeepConsoleOutClean(ctx.Out);
        if (json is null) view.Line(Header(plan, backend));
        PhaseTiming.Mark("header shown");
        // Checkpoints (checkpoint.json now, checkpoint.bin every iteration) unless --no-checkpoint; a resumed solve continues.
        CheckpointWriter? checkpoints;
        try { checkpoints = StartCheckpoints(settings, plan); }
        catch (DataFormatException e) { return ErrorReport.Write(ctx, e, validating: true); }
        var options = plan.Options with { Checkpoint = checkpoints is null ? null : checkpoints.Offer, ResumeFrom = settings.ResumeFrom };
        var job = new SolveJob(loader, plan.Source, plan.Inspection.Shape, solver, options, plan.X0, plan.Workers);
        SolverResult result;
        try
        {
            Func<Action<TraceEntry>, Action<string>, Task<SolverResult>> solve = (progress, note) =>
                backend.SolveAsync(job, e => { Interlocked.Increment(ref _iterationsSeen); progress(e); }, note, ctx.Cancellation);
            result = json is null ? await view.ShowProgressAsync(solve) : await solve(json.Iteration, json.Cluster);
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
            if (checkpoints is not null) await checkpoints.CompleteAsync();
        }

        PhaseTiming.Mark($"solved ({result.Iterations} iterations, {result.Seconds * 1e3:F0} ms in the solver)");
        // Outputs, only now: x.npy, the plot, and the report last (it lists the others).
        var outputs = plan.Outputs;
        try { Directory.CreateDirectory(outputs.Directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(outputs.Directory, $"cannot create the output directory: {ErrorReport.OneLine(e.Message)}", e);
        }
        // The outputs replace the previous run's as a set (OutputSet): staged next to their names, then put in place
        // together, the report last (it lists the others). The plot is drawn on another thread meanwhile.
        var set = new OutputSet(outputs.Directory, outputs.All.Select(o => Path.GetFileName(o.Path)).ToArray());
        var plot = Task.Run(() => ConvergencePlot.Render(result.Trace,
            $"{ProblemTitle(plan)}: {plan.Solver}, {backend.Name} ({plan.Workers} workers)", plan.Options.RelativeTolerance));
        long[] shape = plan.IsMatrix ? [plan.Inspection.Columns, plan.Inspection.Columns] : [result.X.LongLength];
        set.Stage(Path.GetFileName(outputs.X), stream => Npy.WriteTo(stream, outputs.X, result.X, shape));
        var report = BuildReport(plan, backend, solver, result, started, total.Elapsed.TotalSeconds);
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
            if (result.Exit == ExitCondition.Cancelled)
                ctx.Err.WriteLine($"dist-softmax: checkpoint kept: continue with dist-softmax solve --resume {outputs.Directory}");
            else ResumeRecord.Remove(outputs.Directory);
        }
        if (json is null) view.Summary(SummaryRows(plan, backend, result, report));
        else json.Finished(result.Converged ? ExitCodes.Ok : ExitCodes.NotConverged, result.Exit, result.Iterations, result.Message, report.Files);
        PhaseTiming.Mark("summary shown");
        if (result.Converged) return ExitCodes.Ok;
        ctx.Err.WriteLine($"dist-softmax: stopped without meeting the tolerance ({Kebab(result.Exit)}): {result.Message}");
        return ExitCodes.NotConverged;
    }

    /// <summary>The output directory with checkpoint.json written and a checkpoint writer for it (null with --no-checkpoint).</summary>
    private CheckpointWriter? StartCheckpoints(SolveSettings settings, SolvePlan plan)
    {
        if (!settings.Checkpoints) return null;
        string directory = plan.Outputs.Directory;
        try { Directory.CreateDirectory(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException(directory, $"cannot create the output directory: {ErrorReport.OneLine(e.Message)}", e);
        }
        new ResumeRecord(ctx.WorkingDirectory, settings.SolveArguments).Write(directory);
        return new CheckpointWriter(directory, ctx.Err);
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
            Source = new SourceReport(plan.Source.Kind, plan.Source.Parameters.ToDictionary(p => p.Key, p => p.Value)),
            Sizes = new SizesReport(i.Rows, i.Columns, i.Unknowns, i.NonZeros, i.TargetColumns),
            Inputs = plan.Inputs,
            Start = plan.Start,
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
        yield return ("start", plan.Start);
        yield return ("backend", $"{backend.Name}, {plan.Workers} worker{(plan.Workers == 1 ? "" : "s")}");
        yield return ("result", $"{Kebab(result.Exit)}: {result.Message}");
        yield return ("iterations", Invariant($"{result.Iterations}"));
        yield return ("final loss", Invariant($"{result.Loss:0.000000e+00}"));
        yield return ("gradient norm", Invariant($"{result.InitialGradientNorm:0.000e+00} → {result.GradientNorm:0.000e+00}"));
        yield return ("time", Invariant($"solve {report.WallTime.SolveSeconds:F2} s, total {report.WallTime.TotalSeconds:F2} s"));
        yield return ("x", plan.Outputs.X);
        yield return ("report", plan.Outputs.Report);
        yield return ("plot", plan.Outputs.Plot);
    }

    private static string Kebab(ExitCondition e) => System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(e.ToString());

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
