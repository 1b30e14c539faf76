using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using DistSoftmax.Cli.Service;
using Spectre.Console;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// The <c>status</c> command: what a running service (<c>dist-softmax serve</c>) sees — the cluster's members with their
/// roles, cores and shards held, and the jobs — as tables, or with --json as one JSON object {"cluster": …, "jobs": […]}
/// (the API's GET /api/cluster and GET /api/jobs).
/// </summary>
internal static class StatusCommand
{
    public static Command Build(CliContext ctx)
    {
        var server = OptionFactory.File("--server", "The service (http://HOST:PORT, as 'dist-softmax serve' printed it). Required.", "URL");
        var json = OptionFactory.Flag("--json", "Print one JSON object {\"cluster\": …, \"jobs\": […]} instead of tables.");
        var command = new Command("status", "Show a running service's cluster members, their shards and cached sources, and its jobs.");
        command.Add(server);
        command.Add(json);
        command.SetAction(async (parse, _) =>
        {
            if (parse.GetValue(server) is not string url)
                return ErrorReport.Write(ctx, new CliInputException("--server", "is required (the service's http://HOST:PORT)"), validating: true);
            using var client = new ServiceClient(url);
            var cluster = await client.GetJsonAsync("api/cluster", ctx.Cancellation);
            var jobs = await client.GetJsonAsync("api/jobs", ctx.Cancellation);
            if (parse.GetValue(json))
            {
                ctx.Out.WriteLine(new JsonObject { ["cluster"] = cluster.DeepClone(), ["jobs"] = jobs.DeepClone() }.ToJsonString());
                return ExitCodes.Ok;
            }
            Write(ctx, cluster, jobs);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static void Write(CliContext ctx, JsonNode cluster, JsonNode jobs)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = ctx.Interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ctx.Interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(ctx.Out),
        });
        if (!ctx.Interactive) console.Profile.Width = 160;
        var border = ctx.Interactive ? TableBorder.Rounded : TableBorder.Ascii;

        var counts = cluster["jobs"];
        ctx.Out.WriteLine($"service node {(string?)cluster["self"]}: {(int?)counts?["running"] ?? 0} job(s) running, {(int?)counts?["queued"] ?? 0} queued");
        var members = new Table { Border = border, Title = new TableTitle("members") };
        foreach (string h in new[] { "address", "roles", "status", "cores", "memory", "shards", "cached sources" }) members.AddColumn(h);
        foreach (var m in cluster["members"]?.AsArray() ?? [])
        {
            var cached = m?["cachedSources"]?.AsArray() ?? [];
            members.AddRow(Cell((string?)m?["address"]),
                Cell(string.Join(", ", m?["roles"]?.AsArray().Select(r => (string?)r) ?? [])),
                Cell((string?)m?["status"]),
                Cell(m?["cores"]?.ToJsonString()),
                Cell(m?["memoryBytes"] is JsonValue bytes ? Mebibytes((long)bytes) : null),
                Cell(m?["shards"]?.ToJsonString()),
                Cell(cached.Count == 0 ? "none" : string.Join("; ", cached.Select(c => $"{(string?)c?["key"]} ({(long?)c?["rows"]} rows, {Mebibytes((long?)c?["bytes"] ?? 0)})"))));
        }
        console.Write(members);

        var table = new Table { Border = border, Title = new TableTitle("jobs") };
        foreach (string h in new[] { "id", "state", "problem", "solver", "submitted", "iterations", "loss", "‖∇L‖" }) table.AddColumn(h);
        foreach (var j in jobs.AsArray())
            table.AddRow(Cell((string?)j?["id"]), Cell(State(j)), Cell((string?)j?["problem"]), Cell((string?)j?["solver"]),
                Cell((string?)j?["submittedAt"]), Cell(j?["iterations"]?.ToJsonString()), Cell(Number(j?["loss"])), Cell(Number(j?["gradientNorm"])));
        console.Write(table);
    }

    private static Text Cell(string? text) => new(text ?? "-");

    /// <summary>A job's state, with the solver's exit condition for a stopped one ("stopped (max-iterations)").</summary>
    private static string? State(JsonNode? job) =>
        (string?)job?["state"] is "stopped" && (string?)job?["condition"] is { } condition ? $"stopped ({condition})" : (string?)job?["state"];

    private static string? Number(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue(out double d) => d.ToString("0.000e+00", CultureInfo.InvariantCulture),
        JsonValue v => v.ToJsonString().Trim('"'),
        _ => null,
    };

    private static string Mebibytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024.0):F0} MiB");
}
