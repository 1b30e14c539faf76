namespace DistSoftmax.Cli.Service;

/// <summary>A job record as the service's database holds it (<see cref="JobStore"/>).</summary>
internal sealed record StoredJob(string Id, string Spec, JobState State, DateTimeOffset SubmittedAt, DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt, string? Message, int? ExitCode, string OutDir, string Problem, string Solver,
    IReadOnlyList<ShardInfo> Shards, IReadOnlyList<string> Trace);
