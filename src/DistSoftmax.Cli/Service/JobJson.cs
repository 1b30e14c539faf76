using System.Text.Json.Nodes;

namespace DistSoftmax.Cli.Service;

/// <summary>The API's JSON for jobs (camelCase; trace entries exactly as in report.json's <c>trace</c>).</summary>
internal static class JobJson
{
    /// <summary>GET /api/jobs: one row per job; "condition" is the solver's exit condition once the job ended after a solve (else null).</summary>
    public static JsonObject Summary(ServiceJob job) => new()
    {
        ["id"] = job.Id,
        ["state"] = job.State.Name(),
        ["condition"] = job.Condition,
        ["problem"] = job.Problem,
        ["solver"] = job.Solver,
        ["submittedAt"] = job.SubmittedAt,
        ["startedAt"] = job.StartedAt,
        ["endedAt"] = job.EndedAt,
        ["iterations"] = job.Latest("iteration"),
        ["loss"] = job.Latest("loss"),
        ["gradientNorm"] = job.Latest("gradientNorm"),
    };

    /// <summary>GET /api/jobs/{id}: the spec, state and exit condition, times, end message, exit code, trace, shard owners and files.</summary>
    public static JsonObject Detail(ServiceJob job)
    {
        var trace = new JsonArray();
        foreach (string entry in job.Trace()) trace.Add(JsonNode.Parse(entry));
        var shards = new JsonArray();
        foreach (var s in job.Shards()) shards.Add(new JsonObject { ["index"] = s.Index, ["rows"] = s.Rows, ["owner"] = s.Owner });
        var files = new JsonArray();
        foreach (string name in Files(job)) files.Add(name);
        return new JsonObject
        {
            ["id"] = job.Id,
            ["state"] = job.State.Name(),
            ["condition"] = job.Condition,
            ["spec"] = JsonNode.Parse(job.SpecJson),
            ["problem"] = job.Problem,
            ["solver"] = job.Solver,
            ["submittedAt"] = job.SubmittedAt,
            ["startedAt"] = job.StartedAt,
            ["endedAt"] = job.EndedAt,
            ["message"] = job.Message,
            ["exitCode"] = job.ExitCode,
            ["trace"] = trace,
            ["shards"] = shards,
            ["files"] = files,
        };
    }

    /// <summary>The files the job wrote (names in its output directory), sorted; none before its end.</summary>
    public static IReadOnlyList<string> Files(ServiceJob job)
    {
        if (!job.State.IsFinal() || !Directory.Exists(job.OutDir)) return [];
        return Directory.EnumerateFiles(job.OutDir).Select(Path.GetFileName).OfType<string>()
            .Where(n => !n.StartsWith('.') && !n.Contains(".tmp-", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>The path of the job's file <paramref name="name"/>, or null when the job wrote no such file (no path tricks).</summary>
    public static string? FilePath(ServiceJob job, string name) =>
        Files(job).Contains(name, StringComparer.Ordinal) ? Path.Combine(job.OutDir, name) : null;
}
