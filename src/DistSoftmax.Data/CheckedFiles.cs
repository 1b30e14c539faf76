using System.Collections.Concurrent;

namespace DistSoftmax.Data;

/// <summary>
/// The files this process has read whole and found every value of finite, each with the version it read
/// (<see cref="FileIdentity"/>): a later read of part of the same version need not check its values again. In a local
/// solve the planner scans A (its non-zeros, and every value checked) and the workers then map their rows of the same
/// file; checking those rows again was a second pass over A on the way to the first iteration (at 400000×400, 43 % of
/// the CPU between the workers' start and the first iteration). A worker in another process has checked nothing and
/// checks its rows; a file changed since it was scanned (written in place, or replaced) is another version and is
/// checked again.
/// </summary>
internal static class CheckedFiles
{
    private static readonly ConcurrentDictionary<string, FileIdentity> Versions = new();

    /// <summary>
    /// Runs <paramref name="scan"/>, which reads the whole file and throws on any non-finite value, and records the
    /// file as checked when it returns and the file is the same version after as before; returns that version (null
    /// when nothing was recorded).
    /// </summary>
    public static FileIdentity? Scan(string path, Action scan)
    {
        var before = FileIdentity.Of(path);
        scan();
        if (before is not { } version || FileIdentity.Of(path) != version) return null;
        Versions[Key(path)] = version;
        return version;
    }

    /// <summary>Whether the file as it is now is a version this process has checked whole.</summary>
    public static bool Covers(string path) =>
        Versions.TryGetValue(Key(path), out var checkedVersion) && FileIdentity.Of(path) == checkedVersion;

    private static string Key(string path) => Path.GetFullPath(path);
}
