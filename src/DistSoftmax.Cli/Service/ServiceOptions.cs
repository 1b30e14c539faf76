using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Worker;

namespace DistSoftmax.Cli.Service;

/// <summary>How a service runs (the serve command's options, checked).</summary>
/// <param name="Node">The service's cluster node: bind address, seeds, credentials.</param>
/// <param name="StateDirectory">Where job files go (&lt;state-dir&gt;/jobs/&lt;id&gt;/); absolute.</param>
/// <param name="Database">The SQLite job database; absolute.</param>
/// <param name="MaxJobs">Jobs that run at once; the others wait in the queue.</param>
/// <param name="MaxQueued">Jobs that may wait; a submission beyond that is refused (HTTP 503).</param>
/// <param name="MinWorkers">Worker nodes a job waits for before its shards are assigned.</param>
/// <param name="WorkingDirectory">What relative paths in job specs are resolved against.</param>
/// <param name="DataRoots">Directories a job's input files may come from (serve --data-root); null: the working directory.</param>
/// <param name="LoopbackHttp">The HTTP API is bound to a loopback address: it answers only requests whose Host is a
/// loopback name (localhost, 127.x, ::1), so a DNS-rebinding page — the service's address under another name — cannot
/// use it.</param>
internal sealed record ServiceOptions(NodeOptions Node, string StateDirectory, string Database, int MaxJobs, int MaxQueued,
    int MinWorkers, string WorkingDirectory, IReadOnlyList<string>? DataRoots = null, bool LoopbackHttp = false)
{
    /// <summary>The policy a job's input paths are checked against before anything reads them (<see cref="JobSpec.CheckInputs"/>).</summary>
    public SourcePolicy InputPolicy => new((DataRoots is { Count: > 0 } roots ? roots : [WorkingDirectory]).Select(SourcePolicy.Root).ToArray(),
        SourcePolicy.DefaultMaxGeneratedValues);
}
