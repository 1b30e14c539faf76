using System.Text;
using System.Text.Json;
using DistSoftmax.Cluster.Worker;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// A service job's spec: a JSON object whose keys are <c>solve</c>'s option names in camelCase (<c>maxIter</c> for
/// <c>--max-iter</c>, <c>wScalar</c> for <c>--w-scalar</c>; the capitalised data options keep their case: <c>A</c>,
/// <c>A1</c>, <c>B</c>, <c>W</c>), turned into the solve command's arguments so that the command's own parser and
/// planner check it (same messages). Options that place or show a local job are the service's, not the spec's.
/// </summary>
internal static class JobSpec
{
    /// <summary>Keys a spec may not carry: the service decides where its jobs run and where their files go.</summary>
    public static readonly IReadOnlySet<string> Reserved = new HashSet<string>(StringComparer.Ordinal)
    {
        "outDir", "progress", "server", "resume", "backend", "seeds", "minWorkers", "host", "port", "seedTimeout", "credentials", "insecure",
    };

    /// <summary>Keys whose values are input files (solve's --A, --b, --w, --A1, --A2, --B, --W, --x0).</summary>
    public static readonly IReadOnlySet<string> InputFiles = new HashSet<string>(StringComparer.Ordinal) { "A", "b", "w", "A1", "A2", "B", "W", "x0" };

    /// <summary>
    /// Refuses, before anything reads them, input paths outside the service's data roots (resolved against
    /// <paramref name="workingDirectory"/>, symbolic links followed) and paths with a NUL character: the API has no
    /// authentication, and the planner's messages quote what it read, so any file on the host could be probed.
    /// </summary>
    public static void CheckInputs(JsonElement spec, string workingDirectory, SourcePolicy policy)
    {
        if (spec.ValueKind != JsonValueKind.Object) return;   // ToArguments says what is wrong
        RequireUniqueKeys(spec);
        foreach (var property in spec.EnumerateObject())
        {
            if (!InputFiles.Contains(property.Name) || property.Value.ValueKind == JsonValueKind.Null) continue;
            // A number or boolean would be taken as a relative path, outside the roots' check (QA audit).
            if (property.Value.ValueKind != JsonValueKind.String)
                throw new CliInputException(property.Name, $"must be a file path as a JSON string (got a JSON {property.Value.ValueKind.ToString().ToLowerInvariant()})");
            string path = property.Value.GetString()!;
            if (path.Contains('\0')) throw new CliInputException(property.Name, "the path contains a NUL character");
            if (path.Length == 0) continue;   // the command line's own message
            string full = Path.GetFullPath(Path.Combine(workingDirectory, path));
            if (policy.OutsideReason(full) is { } reason)
                throw new CliInputException(property.Name, $"{path} {reason} the service's data roots ({string.Join(", ", policy.DataRoots)}; serve --data-root)");
        }
    }

    /// <summary>
    /// A key given twice is refused naming it: JSON parsers keep one or the other, and the job would run with values its
    /// stored spec does not show (QA audit: the record showed the last "A", the solve read the first).
    /// </summary>
    private static void RequireUniqueKeys(JsonElement spec)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in spec.EnumerateObject())
            if (!seen.Add(property.Name)) throw new CliInputException(property.Name, "is given more than once in the job spec");
    }

    /// <summary>"--max-iter" → "maxIter", "--A1" → "A1", "--w-scalar" → "wScalar".</summary>
    public static string Key(string optionName)
    {
        var parts = optionName.TrimStart('-').Split('-');
        var sb = new StringBuilder(parts[0]);
        foreach (var part in parts.Skip(1))
            if (part.Length > 0) sb.Append(char.ToUpperInvariant(part[0])).Append(part.AsSpan(1));
        return sb.ToString();
    }

    /// <summary>"maxIter" → "--max-iter"; a key that starts with a capital (A, A1, B, W) keeps its case.</summary>
    public static string OptionName(string key)
    {
        if (key.Length == 0) return "--";
        if (char.IsUpper(key[0])) return "--" + key;
        var sb = new StringBuilder("--");
        foreach (char c in key)
            if (char.IsUpper(c)) sb.Append('-').Append(char.ToLowerInvariant(c));
            else sb.Append(c);
        return sb.ToString();
    }

    /// <summary>
    /// The solve arguments of a spec. Strings and numbers become the option's value, true/false a flag's value, null
    /// leaves the option out. Throws <see cref="CliInputException"/> for anything else (not an object, a reserved
    /// key, an array or object value).
    /// </summary>
    public static string[] ToArguments(JsonElement spec)
    {
        if (spec.ValueKind != JsonValueKind.Object)
            throw new CliInputException("job spec", $"must be a JSON object of solve options (got {spec.ValueKind.ToString().ToLowerInvariant()})");
        RequireUniqueKeys(spec);
        var arguments = new List<string>();
        foreach (var property in spec.EnumerateObject())
        {
            string key = property.Name;
            if (key.Length == 0 || !char.IsAsciiLetter(key[0]) || !key.All(char.IsAsciiLetterOrDigit))
                throw new CliInputException("job spec", $"'{key}' is not a solve option name in camelCase (e.g. maxIter for --max-iter)");
            if (key == "help")
                throw new CliInputException(key, "is not a job option (the API takes solve's options; GET /api/jobs lists the jobs)");
            if (Reserved.Contains(key))
                throw new CliInputException(key, "is not allowed in a service job (the service chooses where jobs run and where their files go)");
            string option = OptionName(key);
            switch (property.Value.ValueKind)
            {
                case JsonValueKind.Null:
                    break;
                // option=value keeps every value one token: a value that looks like an option stays a value.
                case JsonValueKind.String:
                    arguments.Add($"{option}={property.Value.GetString()}");
                    break;
                case JsonValueKind.Number:
                    arguments.Add($"{option}={property.Value.GetRawText()}");
                    break;
                case JsonValueKind.True or JsonValueKind.False:
                    arguments.Add($"{option}={(property.Value.ValueKind == JsonValueKind.True ? "true" : "false")}");
                    break;
                default:
                    throw new CliInputException(key, $"must be a string, a number or a boolean (got a JSON {property.Value.ValueKind.ToString().ToLowerInvariant()})");
            }
        }
        return arguments.ToArray();
    }
}
