namespace DistSoftmax.Cli.Service;

/// <summary>Where a service job is: queued → running → succeeded | failed | cancelled (a queued job may be cancelled).</summary>
internal enum JobState { Queued, Running, Succeeded, Failed, Cancelled }

/// <summary>The API's spelling of <see cref="JobState"/> (lower case) and its parser.</summary>
internal static class JobStates
{
    public static string Name(this JobState state) => state.ToString().ToLowerInvariant();

    public static JobState Parse(string name) => Enum.Parse<JobState>(name, ignoreCase: true);

    /// <summary>Whether the job has ended (its event stream ends after this state).</summary>
    public static bool IsFinal(this JobState state) => state is JobState.Succeeded or JobState.Failed or JobState.Cancelled;
}
