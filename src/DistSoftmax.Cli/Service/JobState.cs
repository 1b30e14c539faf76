namespace DistSoftmax.Cli.Service;

/// <summary>
/// Where a service job is: queued → running → succeeded | stopped | failed | cancelled (a queued job may be cancelled).
/// <c>stopped</c> is a solve that ran and wrote its files but ended without meeting the tolerance (the command line's
/// exit 3: max-iterations, stalled, diverged; the job's <c>condition</c> says which); <c>failed</c> is a job that could
/// not be carried out (bad input found late, no workers, a write that failed, an internal error).
/// </summary>
internal enum JobState { Queued, Running, Succeeded, Stopped, Failed, Cancelled }

/// <summary>The API's spelling of <see cref="JobState"/> (lower case) and its parser.</summary>
internal static class JobStates
{
    public static string Name(this JobState state) => state.ToString().ToLowerInvariant();

    public static JobState Parse(string name) => Enum.Parse<JobState>(name, ignoreCase: true);

    /// <summary>Whether the job has ended (its event stream ends after this state).</summary>
    public static bool IsFinal(this JobState state) =>
        state is JobState.Succeeded or JobState.Stopped or JobState.Failed or JobState.Cancelled;
}
