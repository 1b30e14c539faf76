using System.Text.Json;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// Which files in an output directory are evidently dist-softmax's own, from an earlier run, and so may be replaced or
/// removed. A command calls <see cref="Require"/> with every name it may write or delete there before it does any work:
/// a file (or folder) under such a name that is not the tool's own — the user's — is exit 2, one line naming it, and
/// nothing in the directory is touched. The evidence is a manifest in the same directory (<see cref="Listed"/>): a JSON
/// object with <c>"tool": "dist-softmax"</c> whose <c>"files"</c> lists the file — solve's and sensitivity's report.json,
/// generate's generate.json. A command may add its own evidence (solve: its checkpoint record, sweep: its table's header).
/// </summary>
internal static class OutputOwnership
{
    /// <summary>The refusal's text after the path.</summary>
    public const string NotOurs = "exists and was not written by dist-softmax; choose another directory or remove it";

    /// <summary>A larger manifest is not one the tool wrote (a solve's report with a long trace is a few megabytes).</summary>
    private const long MaxManifestBytes = 256L << 20;

    /// <summary>
    /// The file names listed by the manifest <paramref name="manifestPath"/> (by name: a moved directory keeps its
    /// files), the manifest's own name among them; empty when it is absent, unreadable or not a dist-softmax manifest
    /// (of <paramref name="command"/>, when given).
    /// </summary>
    public static IReadOnlySet<string> Listed(string manifestPath, string? command = null)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var info = new FileInfo(manifestPath);
            if (!info.Exists || info.Length > MaxManifestBytes) return names;
            using var stream = info.OpenRead();
            using var doc = JsonDocument.Parse(stream);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("tool", out var tool) || tool.ValueKind != JsonValueKind.String || tool.GetString() != ReportEnvelope.Tool
                || command is not null && (!root.TryGetProperty("command", out var c) || c.ValueKind != JsonValueKind.String || c.GetString() != command)
                || !root.TryGetProperty("files", out var files))
                return names;
            // solve's "files" is an object of paths (x, report, plot, the --save arrays); the others' an array of paths.
            var paths = files.ValueKind switch
            {
                JsonValueKind.Object => files.EnumerateObject().Select(p => p.Value),
                JsonValueKind.Array => files.EnumerateArray(),
                _ => [],
            };
            foreach (var p in paths)
                if (p.ValueKind == JsonValueKind.String && Path.GetFileName(p.GetString()) is { Length: > 0 } name)
                    names.Add(name);
            names.Add(info.Name);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException) { names.Clear(); }
        return names;
    }

    /// <summary>
    /// Refuses (a <see cref="CliInputException"/> on --out-dir naming the path) the first of <paramref name="names"/> that
    /// exists in <paramref name="directory"/> as a folder, or as a file that <paramref name="owned"/> does not accept.
    /// </summary>
    public static void Require(string directory, IEnumerable<string> names, Func<string, bool> owned)
    {
        if (!Directory.Exists(directory)) return;
        foreach (string name in names)
        {
            string path = Path.Combine(directory, name);
            if (Directory.Exists(path) || File.Exists(path) && !owned(name))
                throw new CliInputException("--out-dir", $"{path} {NotOurs}");
        }
    }

    /// <summary><see cref="Require"/> with the files listed by the manifest <paramref name="manifest"/> in the directory as the tool's own.</summary>
    public static void RequireListed(string directory, string manifest, IEnumerable<string> names, string? command = null)
    {
        if (!Directory.Exists(directory)) return;
        var listed = Listed(Path.Combine(directory, manifest), command);
        Require(directory, names, listed.Contains);
    }
}
