namespace DistSoftmax.Cli.Service;

/// <summary>
/// A job record as the service's database holds it (<see cref="JobStore"/>); <paramref name="Condition"/> is the
/// solver's exit condition of an ended job (null before schema version 2 and for a job that never solved).
/// </summary>
internal sealed record StoredJob(string Id, string Spec, JobState State, DateTimeOffset SubmittedAt, DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt, string? Message, int? ExitCode, string? Condition, string OutDir, string Problem, string Solver,
    IReadOnlyList<ShardInfo> Shards, IReadOnlyList<string> Trace);
