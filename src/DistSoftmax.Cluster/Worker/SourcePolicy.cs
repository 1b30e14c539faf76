using System.Globalization;
using Akka.Configuration;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cluster.Worker;

/// <summary>
/// What problem sources a worker node agrees to load (HOCON distsoftmax.worker.data-roots / max-generated-values,
/// the worker command's --data-root, DISTSOFTMAX_DATA_ROOTS). Every parameter value of a source that names a file (it
/// contains a directory separator) must be an absolute path inside one of <see cref="DataRoots"/> — checked lexically
/// first, so a path outside is refused without touching the file system, then again after following symbolic links; a
/// "generated" source may ask for at most <see cref="MaxGeneratedValues"/> values (n·d).
/// </summary>
/// <param name="DataRoots">Absolute directories files may come from.</param>
/// <param name="MaxGeneratedValues">Largest n·d of a generated instance.</param>
public sealed record SourcePolicy(IReadOnlyList<string> DataRoots, long MaxGeneratedValues)
{
    public const long DefaultMaxGeneratedValues = 200_000_000; // 1.6 GB of doubles for the whole instance

    /// <summary>The policy of a worker node: <paramref name="roots"/> when given, else the configured
    /// data-roots, else the worker's current directory.</summary>
    public static SourcePolicy FromConfig(Config config, IReadOnlyList<string>? roots = null)
    {
        IReadOnlyList<string> configured = roots is { Count: > 0 } ? roots
            : config.HasPath("distsoftmax.worker.data-roots") ? config.GetStringList("distsoftmax.worker.data-roots").ToArray() : Array.Empty<string>();
        if (configured.Count == 0) configured = [Directory.GetCurrentDirectory()];
        long max = config.GetLong("distsoftmax.worker.max-generated-values", DefaultMaxGeneratedValues);
        if (max < 1) throw new ArgumentException("distsoftmax.worker.max-generated-values must be ≥ 1");
        return new SourcePolicy(configured.Select(Root).ToArray(), max);
    }

    /// <summary>A data root as the policy keeps it: absolute, ending in a directory separator.</summary>
    public static string Root(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("a data root must not be empty");
        var full = Path.GetFullPath(path);
        return Path.EndsInDirectorySeparator(full) ? full : full + Path.DirectorySeparatorChar;
    }

    /// <summary>Throws <see cref="UnauthorizedAccessException"/> (a path) or <see cref="ArgumentException"/> (a size)
    /// when the source is not admitted.</summary>
    public void Check(ProblemSource source)
    {
        foreach (var (key, value) in source.Parameters)
        {
            if (!value.Contains('/') && !value.Contains('\\')) continue;
            string? reason = Path.IsPathFullyQualified(value) ? OutsideReason(Path.GetFullPath(value)) : "is outside";
            if (reason is not null)
                throw new UnauthorizedAccessException($"parameter {key}: the path {reason} this worker's data roots ({string.Join(", ", DataRoots)})");
        }
        if (source.Kind == "generated"
            && long.TryParse(source.Get("n"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n)
            && long.TryParse(source.Get("d"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long d)
            && (n < 0 || d < 0 || (d > 0 && n > MaxGeneratedValues / d)))
            throw new ArgumentException($"a generated instance of {n}×{d} exceeds this worker's {MaxGeneratedValues} values (distsoftmax.worker.max-generated-values)");
    }

    /// <summary>
    /// Null when the absolute path <paramref name="full"/> is inside a data root — lexically, and, where it exists,
    /// after following symbolic links; else why not ("is outside", "links outside").
    /// </summary>
    public string? OutsideReason(string full)
    {
        if (!Inside(full)) return "is outside";
        var info = new FileInfo(full);
        var target = info.Exists ? info.ResolveLinkTarget(returnFinalTarget: true) : null;
        return target is not null && !Inside(Path.GetFullPath(target.FullName)) ? "links outside" : null;
    }

    private bool Inside(string full) =>
        DataRoots.Any(r => full.StartsWith(r, StringComparison.Ordinal) || full + Path.DirectorySeparatorChar == r);
}
