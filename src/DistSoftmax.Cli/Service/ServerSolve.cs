using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using DistSoftmax.Cli.Output;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// <c>solve --server URL …</c>: submits the solve to a running service, shows its progress as a local solve does (the
/// same live table or plain lines, or the same <c>--progress json</c> lines), downloads the job's files into --out-dir
/// (replacing the previous run's as a set) and exits with the job's exit code. Ctrl+C asks the service to stop the job at
/// its next iteration; its files are still downloaded (exit 3). When the service stops (its note ends the job's event
/// stream) or the connection is lost before the job ends: one line naming the job, which the service continues when it
/// starts again, exit 3, nothing downloaded.
/// </summary>
internal static class ServerSolve
{
    /// <summary>The files a solve job writes, the report last (it lists the others).</summary>
    private static readonly string[] SolveFiles = ["x.npy", "convergence.png", "report.json"];

    public static async Task<int> RunAsync(CliContext ctx, string server, IReadOnlyList<(string Option, string Value)> options,
        string outDir, string progressMode)
    {
        string directory = ctx.Resolve(outDir);
        if (File.Exists(directory)) throw new CliInputException("--out-dir", $"{directory} is a file, not a directory");
        // The downloaded files replace only an earlier run's (listed by its report), never a file of the user's.
        OutputOwnership.RequireListed(directory, "report.json", SolveFiles);
        var spec = new JsonObject();
        foreach (var (option, value) in options) spec[JobSpec.Key(option)] = value;

        using var client = new ServiceClient(server);
        string id;
        try { id = await client.SubmitAsync(spec, ctx.Cancellation); }
        catch (ServiceRefusedException e)
        {
            ctx.Err.WriteLine("error: " + ErrorReport.OneLine(e.Message));
            return ExitCodes.BadInput;
        }
        // Ctrl+C / SIGTERM: the job stops at its next iteration on the service, and this process still collects its files.
        await using var cancel = ctx.Cancellation.Register(() => _ = client.CancelAsync(id));

        var json = progressMode == "json" ? new JsonProgress(ctx.Out) : null;
        var view = new ConsoleView(ctx);
        if (json is null) view.Line($"dist-softmax solve: job {id} on {client.BaseAddress}");
        JsonObject? report = null;
        JsonNode? job = null;
        Func<Action<TraceEntry>, Action<string>, Task<SolverResult>> follow = async (progress, note) =>
        {
            bool ended = false;   // a final state was among the events
            try
            {
                await client.FollowEventsAsync(id, (name, data) =>
                {
                    if (name == "iteration") progress(JsonSerializer.Deserialize<TraceEntry>(data, SolveReport.Json)!);
                    else if (name == "note") note((string?)JsonNode.Parse(data)?["message"] ?? "");
                    else if (name == "state" && JsonNode.Parse(data)?["state"] is JsonValue state)
                        ended = Enum.TryParse<JobState>((string?)state, ignoreCase: true, out var s) && s.IsFinal();
                }, CancellationToken.None);
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                throw new JobNotFinishedException($"the connection to {client.BaseAddress} was lost while job {id} was running " +
                                                  $"({ErrorReport.OneLine(e.GetBaseException().Message)})");
            }
            // The stream ended without a final state: the service stopped and keeps the job to continue it.
            if (!ended)
                throw new JobNotFinishedException($"the service stopped while job {id} was running; it continues from its last " +
                                                  $"checkpoint when the service starts again (dist-softmax status --server {client.BaseAddress})");
            job = await client.GetJsonAsync($"api/jobs/{Uri.EscapeDataString(id)}", CancellationToken.None);
            if (Files(job).Contains("report.json"))
                report = JsonNode.Parse(await client.DownloadAsync(id, "report.json", CancellationToken.None))!.AsObject();
            return Result(report, job);
        };
        SolverResult result;
        try { result = json is null ? await view.ShowProgressAsync(follow) : await follow(json.Iteration, json.Cluster); }
        catch (JobNotFinishedException e)
        {
            // Nothing to download: the job has no files yet. Exit 3, as a solve stopped before it could finish.
            ctx.Err.WriteLine("error: --server: " + e.Message + "; nothing downloaded");
            json?.Finished(ExitCodes.NotConverged, null, 0, e.Message, null);
            return ExitCodes.NotConverged;
        }

        int code = (int?)job?["exitCode"] ?? ExitCodes.NotConverged;
        string message = (string?)job?["message"] ?? "";
        if (report is null)
        {
            // The job wrote nothing (bad input found late, no workers, cancelled before the first iteration).
            ctx.Err.WriteLine("error: " + ErrorReport.OneLine($"job {id}: {message}"));
            json?.Finished(code, null, 0, message, null);
            return code == ExitCodes.Ok ? ExitCodes.Internal : code;
        }

        var paths = new FilesReport(Path.Combine(directory, "x.npy"), Path.Combine(directory, "report.json"), Path.Combine(directory, "convergence.png"));
        try { Directory.CreateDirectory(directory); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OutputWriteException(directory, $"cannot create the output directory: {ErrorReport.OneLine(e.Message)}", e);
        }
        var set = new OutputSet(directory, SolveFiles);
        foreach (string name in SolveFiles) set.Stage(name, await client.DownloadAsync(id, name, CancellationToken.None));
        set.Commit("report.json");

        if (json is null) view.Summary(SummaryRows(report, result, client, id, paths));
        else json.Finished(code, result.Exit, result.Iterations, result.Message, paths, report["regime"]?.DeepClone());
        if (code != ExitCodes.Ok)
            ctx.Err.WriteLine($"dist-softmax: stopped without meeting the tolerance ({(string?)report["exit"]}): {result.Message}");
        return code;
    }

    /// <summary>The job's event stream ended, or its connection was lost, before the job reached a final state.</summary>
    private sealed class JobNotFinishedException(string message) : Exception(message);

    private static IReadOnlyList<string> Files(JsonNode? job) =>
        job?["files"] is JsonArray files ? files.Select(f => (string?)f).OfType<string>().ToArray() : [];

    /// <summary>
    /// The finished job as a <see cref="SolverResult"/> for the progress view, from its report.json (its x stays in
    /// x.npy: the view never shows it, so the result carries none).
    /// </summary>
    private static SolverResult Result(JsonObject? report, JsonNode? job)
    {
        if (report is null)
            return new SolverResult("", [], ExitCondition.Cancelled, (string?)job?["message"] ?? "", 0, double.NaN, double.NaN, double.NaN, [], 0, 0);
        var trace = report["trace"].Deserialize<TraceEntry[]>(SolveReport.Json) ?? [];
        return new SolverResult((string)report["solver"]!, [], report["exit"].Deserialize<ExitCondition>(SolveReport.Json),
            (string?)report["message"] ?? "", (int)report["iterations"]!, report["finalLoss"].Deserialize<double>(SolveReport.Json),
            report["finalGradientNorm"].Deserialize<double>(SolveReport.Json), report["initialGradientNorm"].Deserialize<double>(SolveReport.Json),
            trace, report["wallTime"]?["solveSeconds"].Deserialize<double>(SolveReport.Json) ?? 0, (long?)report["requests"] ?? 0);
    }

    private static IEnumerable<(string, string)> SummaryRows(JsonObject report, SolverResult result, ServiceClient client, string id, FilesReport paths)
    {
        string problem = (string)report["problem"]! + (report["unit"] is JsonValue u ? $" ({(string?)u})" : "");
        var sizes = report["sizes"]!;
        yield return ("problem", problem);
        yield return ("size", Invariant($"n = {(long)sizes["n"]!}, d = {(int)sizes["d"]!}, {(long)sizes["unknowns"]!} unknowns"));
        yield return ("solver", result.Solver);
        yield return ("backend", $"service {client.BaseAddress}, job {id}, {(int)report["workers"]!} shards");
        yield return ("result", $"{(string?)report["exit"]}: {result.Message}");
        yield return ("iterations", Invariant($"{result.Iterations}"));
        yield return ("final loss", Invariant($"{result.Loss:0.000000e+00}"));
        yield return ("gradient norm", Invariant($"{result.InitialGradientNorm:0.000e+00} → {result.GradientNorm:0.000e+00}"));
        yield return ("time", Invariant($"solve {result.Seconds:F2} s"));
        yield return ("x", paths.X);
        yield return ("report", paths.Report);
        yield return ("plot", paths.Plot);
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
