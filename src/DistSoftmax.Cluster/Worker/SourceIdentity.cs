using System.Globalization;
using System.Text;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cluster.Worker;

/// <summary>
/// The identity of a problem source's content, for the shard cache: the source's kind and sorted parameters, and for
/// each parameter that names a file (it contains a directory separator, as in <see cref="SourcePolicy"/>) the file's
/// size and last write time, so a file rewritten in place is a different source. Only kinds whose content is fixed by
/// that are cacheable (<see cref="WorkerSettings.CacheableKinds"/>: "files", "generated"); an in-memory registration
/// can change under the same name and is not. Touches the file system: call it on a compute thread.
/// </summary>
public static class SourceIdentity
{
    /// <summary>The identity, or null when the source is not cacheable (its kind, or a file that does not exist).</summary>
    public static string? Of(ProblemSource source, IReadOnlyCollection<string> cacheableKinds)
    {
        if (!cacheableKinds.Contains(source.Kind)) return null;
        var id = new StringBuilder(source.Kind);
        foreach (var (key, value) in source.Parameters)
        {
            id.Append('\n').Append(key).Append('=').Append(value);
            if (!value.Contains('/') && !value.Contains('\\')) continue;
            var file = new FileInfo(value);
            if (!file.Exists) return null;
            id.Append(CultureInfo.InvariantCulture, $" [{file.Length} bytes, modified {file.LastWriteTimeUtc.Ticks}]");
        }
        return id.ToString();
    }

    /// <summary>
    /// What differs between two identities of one source, for a message: the value (for a file, its path) of the first
    /// parameter whose line differs, or null when they are equal or not of the same kind and parameters.
    /// </summary>
    public static string? FirstChange(string recorded, string current)
    {
        var before = recorded.Split('\n');
        var now = current.Split('\n');
        if (before.Length != now.Length || before[0] != now[0]) return null;
        for (int i = 1; i < now.Length; i++)
        {
            if (before[i] == now[i]) continue;
            string line = now[i];
            int equals = line.IndexOf('=');
            int details = line.LastIndexOf(" [", StringComparison.Ordinal);
            if (equals < 0) return null;
            return details > equals ? line[(equals + 1)..details] : line[(equals + 1)..];
        }
        return null;
    }
}
