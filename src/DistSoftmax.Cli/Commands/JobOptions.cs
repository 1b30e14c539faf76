using System.CommandLine;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// The options that say where a job's shards run, declared once for every command that runs jobs (solve, train,
/// sensitivity): --backend and the cluster options --seeds, --min-workers, --host, --port.
/// </summary>
internal static class JobOptions
{
    /// <summary>Backends: worker actors in this process (the Akka.NET local simulation), a plain loop, a cluster.</summary>
    public const string Local = "local", InProcess = "inprocess", Cluster = "cluster";

    /// <summary>The backends --backend accepts (a cluster is chosen by --seeds).</summary>
    public static IReadOnlyList<string> Backends { get; } = [Local, InProcess];

    public static Option<string> Backend(string description) => OptionFactory.Choice("--backend", description, Local, Backends);

    /// <summary>--seeds; <paramref name="verb"/> is what the command does as a job ("solve", "train").</summary>
    public static Option<string?> Seeds(string verb) => OptionFactory.File("--seeds",
        $"Comma-separated cluster seed nodes (akka.tcp://distsoftmax@HOST:PORT,…): {verb} as a job on that cluster.", "ADDRESSES");

    public static Option<int?> MinWorkers() =>
        OptionFactory.OptionalInt("--min-workers", "Cluster: worker nodes to wait for before starting (default 1).", "K");

    public static Option<double?> SeedTimeout() => OptionFactory.OptionalDouble("--seed-timeout",
        "Cluster: seconds to wait for any seed node to accept a connection; none does: exit 2 (default: distsoftmax.cluster.seed-timeout, 5 s).", "SECONDS");

    public static Option<string?> Host() =>
        OptionFactory.File("--host", "Cluster: the address this job's node binds (default: DISTSOFTMAX_HOST, then 127.0.0.1).", "HOST");

    public static Option<int?> Port() =>
        OptionFactory.OptionalInt("--port", "Cluster: the port this job's node binds (default: DISTSOFTMAX_PORT, then 0 = any free port).", "PORT");
}
