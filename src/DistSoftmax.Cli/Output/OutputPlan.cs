namespace DistSoftmax.Cli.Output;

/// <summary>The checked outputs of a run: the directory, the full paths it writes (the report's "files"), and the earlier run's files to remove.</summary>
internal sealed record OutputPlan(string Directory, IReadOnlyList<string> Files, IReadOnlyList<string> Stale);
