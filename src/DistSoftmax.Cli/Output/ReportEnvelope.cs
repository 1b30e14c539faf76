using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// The one report schema of every command: report.json starts with <c>tool</c> ("dist-softmax"), <c>version</c>, <c>command</c>
/// and <c>arguments</c> (the command line as given), followed by the command's own fields, all written with
/// <see cref="SolveReport.Json"/>: camelCase names, enum values in kebab-case ("max-iterations"), numbers as JSON numbers
/// (non-finite as "NaN" / "Infinity"), indented; the file is replaced atomically. Used by sensitivity, train and diffusion
/// (solve's <see cref="SolveReport"/> carries the same fields itself).
/// </summary>
internal static class ReportEnvelope
{
    public const string Tool = "dist-softmax";

    /// <summary>The CLI's informational version (the same string solve's report.json carries).</summary>
    public static string Version { get; } =
        typeof(ReportEnvelope).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>The report as a JSON object: the envelope's four fields, then the properties of <paramref name="body"/>.</summary>
    public static JsonObject Build(string command, IReadOnlyList<string> arguments, object body)
    {
        var report = new JsonObject
        {
            ["tool"] = Tool,
            ["version"] = Version,
            ["command"] = command,
            ["arguments"] = new JsonArray(arguments.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray()),
        };
        var fields = JsonSerializer.SerializeToNode(body, body.GetType(), SolveReport.Json) as JsonObject
                     ?? throw new ArgumentException("a report body must serialize to a JSON object");
        foreach (var (name, value) in fields.ToList())
        {
            fields.Remove(name);
            report[name] = value;
        }
        return report;
    }

    /// <summary>Writes <see cref="Build"/>'s report to <paramref name="path"/> (atomically).</summary>
    public static void Write(string path, string command, IReadOnlyList<string> arguments, object body) =>
        AtomicFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(Build(command, arguments, body), SolveReport.Json));
}
