namespace DistSoftmax.Cli.Output;

/// <summary>The checked outputs of a run: the directory, the full paths it writes (the report's "files"), and the earlier run's files to remove.</summary>
internal sealed record OutputPlan(string Directory, IReadOnlyList<string> Files, IReadOnlyList<string> Stale)
{
    /// <summary>
    /// The plan of a run that wrote only <paramref name="names"/> of its files (it was cancelled): the others leave
    /// "files", and an earlier run's copy of them becomes stale, so the directory never mixes two runs. (Every planned
    /// name was checked to be absent or the earlier run's before any work.)
    /// </summary>
    public OutputPlan Only(IEnumerable<string> names)
    {
        var kept = names.ToHashSet(StringComparer.Ordinal);
        var dropped = Files.Select(Path.GetFileName).OfType<string>().Where(n => !kept.Contains(n));
        return this with { Files = Files.Where(f => kept.Contains(Path.GetFileName(f))).ToArray(), Stale = [.. Stale, .. dropped] };
    }
}
