using System.CommandLine;
using System.Net.Sockets;
using DistSoftmax.Cli.Solving;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Data.Sources;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// The <c>worker</c> command: a long-lived cluster worker node (<see cref="WorkerNode"/>) that serves solve jobs
/// until Ctrl+C / SIGTERM, then leaves the cluster gracefully. It loads its rows itself with a
/// <see cref="DataShardLoader"/> (solve jobs) or a network loader (train jobs) — <see cref="TrainCommand.WorkerLoader"/> —
/// so it must see the data files at the paths the job names.
/// </summary>
internal static class WorkerCommand
{
    public static Command Build(CliContext ctx)
    {
        var port = OptionFactory.OptionalInt("--port", "Port to bind (default: DISTSOFTMAX_PORT, then 4053; 0 = any free port).", "PORT");
        var host = OptionFactory.File("--host", "Address to bind (default: DISTSOFTMAX_HOST, then 127.0.0.1; 0.0.0.0 in containers).", "HOST");
        var seeds = OptionFactory.File("--seeds",
            "Comma-separated seed nodes, HOST:PORT or akka.tcp://distsoftmax@HOST:PORT (default: DISTSOFTMAX_SEEDS; none: found a new cluster).", "ADDRESSES");
        var publicHost = OptionFactory.File("--public-host", "Address other nodes use to reach this one, when it differs from --host (NAT, Docker).", "HOST");
        var publicPort = OptionFactory.OptionalInt("--public-port", "Advertised port, when it differs from --port.", "PORT");
        var dataRoots = new Option<string[]>("--data-root")
        {
            Description = "A directory jobs may name files in (repeatable; default: DISTSOFTMAX_DATA_ROOTS, then the working directory). " +
                "Paths outside every root are refused.",
            HelpName = "DIR",
        };

        var log = LogOption();
        var cacheMb = OptionFactory.OptionalInt("--cache-mb",
            "Memory budget of the shard cache in MiB: loaded shards are kept across jobs (same files, size and modification time, or the same " +
            "generator, and the same rows) and evicted least recently used first; 0 = no cache. Default: a quarter of the memory available to the process.", "N");

        var command = new Command("worker",
            "Run a cluster worker node: it joins the seeds, serves solve jobs (dist-softmax solve --seeds …) and training jobs (dist-softmax train --seeds …) until Ctrl+C or SIGTERM, " +
            "then leaves the cluster. Every worker must see the data files at the paths the jobs name.");
        var credentials = CredentialsCommand.CredentialsOption();
        var insecure = CredentialsCommand.InsecureOption();
        foreach (Option o in new Option[] { port, host, seeds, publicHost, publicPort, dataRoots, credentials, insecure, cacheMb, log }) command.Add(o);
        command.SetAction((parse, _) => RunAsync(ctx, parse.GetValue(host), parse.GetValue(port), parse.GetValue(seeds),
            parse.GetValue(publicHost), parse.GetValue(publicPort), parse.GetValue(dataRoots), parse.GetValue(credentials), parse.GetValue(insecure),
            parse.GetValue(cacheMb), parse.GetValue(log)));
        return command;
    }

    private static async Task<int> RunAsync(CliContext ctx, string? host, int? port, string? seedText, string? publicHost, int? publicPort,
        string[]? dataRoots, string? credentials, bool insecure, int? cacheMb, string? log)
    {
        NodeOptions options;
        try
        {
            foreach (var (name, value) in new[] { ("--port", port), ("--public-port", publicPort) })
                if (value is < 0 or > 65535) throw new CliInputException(name, $"must be in [0, 65535] (got {value})");
            if (cacheMb is < 0 or > MaxCacheMb) throw new CliInputException("--cache-mb", $"must be in [0, {MaxCacheMb}] MiB (got {cacheMb})");
            if (host is { Length: 0 } || (host is not null && string.IsNullOrWhiteSpace(host))) throw new CliInputException("--host", "must not be empty");
            var seeds = seedText is null ? null : SolvePlanner.ParseSeeds(seedText);
            foreach (var root in dataRoots ?? [])
                if (!Directory.Exists(Path.Combine(ctx.WorkingDirectory, root))) throw new CliInputException("--data-root", $"{root}: no such directory");
            options = new NodeOptions
            {
                Host = host, Port = port, Seeds = seeds, PublicHost = publicHost, PublicPort = publicPort,
                DataRoots = dataRoots is { Length: > 0 } ? dataRoots.Select(r => Path.GetFullPath(Path.Combine(ctx.WorkingDirectory, r))).ToArray() : null,
            }.FromEnvironment();
            options = options with
            {
                DataRoots = options.DataRoots ?? [ctx.WorkingDirectory],
                CredentialsDirectory = CredentialsCommand.Check(ctx, credentials ?? options.CredentialsDirectory),
                Insecure = insecure,
                ExtraHocon = Hocon.NodeLog(CheckLog(ctx, log)) + (cacheMb is int mb ? $"{options.ExtraHocon}\ndistsoftmax.worker.cache-size = {(long)mb << 20}b\n" : options.ExtraHocon),
            };
            if (options.Seeds is { Count: > 0 } envSeeds && seedText is null) SolvePlanner.ParseSeeds(string.Join(',', envSeeds));
        }
        catch (Exception e) when (e is CliInputException or ArgumentException)
        {
            return ErrorReport.Write(ctx, e, validating: true);
        }

        WorkerNode node;
        try { node = WorkerNode.Start(options, TrainCommand.WorkerLoader()); }
        catch (InsecureNodeException e)
        {
            return ErrorReport.Write(ctx, new CliInputException("--host", e.Message), validating: true);
        }
        catch (Exception e) when (FindSocketError(e) is SocketException se)
        {
            return ErrorReport.Write(ctx, new CliInputException("--port",
                $"cannot bind {(options.Host is null ? "port " : options.Host + ":")}{options.Port?.ToString() ?? "(configured port)"}: {se.Message}"), validating: true);
        }

        await using (node)
        {
            string seedsText = options.Seeds is { Count: > 0 } s ? string.Join(", ", s) : "none (this node founds the cluster)";
            long cacheBytes = Cluster.Worker.WorkerSettings.FromConfig(node.System.Settings.Config).CacheBytes;
            ctx.Out.WriteLine($"dist-softmax worker: node {node.Address}, seeds: {seedsText}, shard cache {cacheBytes >> 20} MiB; Ctrl+C or SIGTERM stops it");
            bool up;
            try { up = await node.WaitUntilUpAsync(node.Settings.JoinTimeout, ctx.Cancellation); }
            catch (OperationCanceledException) { up = false; }
            if (up) ctx.Out.WriteLine($"dist-softmax worker: {node.Address} is up, serving solve jobs");
            else if (node.AssociationFailures.TlsRefused) return TlsRefused(ctx, node.AssociationFailures, seedsText);
            else if (!ctx.Cancellation.IsCancellationRequested && !node.System.WhenTerminated.IsCompleted)
                ctx.Err.WriteLine(NotUpWarning(node.Settings.JoinTimeout, node.AssociationFailures, options.CredentialsDirectory is not null));

            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var registration = ctx.Cancellation.Register(() => stop.TrySetResult());
            var ended = await Task.WhenAny(stop.Task, node.System.WhenTerminated);
            // A stop request can race with Akka's own shutdown hook: give the request a moment to be seen.
            if (ended != stop.Task) await Task.WhenAny(stop.Task, Task.Delay(TimeSpan.FromSeconds(1)));
            if (!stop.Task.IsCompleted)
            {
                ctx.Err.WriteLine($"error: worker node {node.Address}: its actor system stopped on its own (downed or removed from the cluster)");
                return ExitCodes.Internal;
            }
            ctx.Out.WriteLine("dist-softmax worker: leaving the cluster");
        }
        ctx.Out.WriteLine("dist-softmax worker: stopped");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// A node whose TLS handshake with a seed failed (Akka.Remote stops it): one line naming the credentials, exit 2 —
    /// they are the bad input. Also serve's node.
    /// </summary>
    internal static int TlsRefused(CliContext ctx, AssociationFailureWatch failures, string seeds)
    {
        ctx.Err.WriteLine("error: " + ErrorReport.OneLine("--seeds: " + failures.TlsRefusal(seeds)));
        return ExitCodes.BadInput;
    }

    /// <summary>
    /// The warning of a long-running node (worker, serve) that is not up after the join timeout and keeps trying (its
    /// seeds may come up later): what to check — the seeds' addresses and, since a node without credentials cannot join
    /// a cluster that has them (a TLS seed drops its plain connection; nothing says "TLS" on this side) and the other way
    /// round, the credentials — and the last connection failure, if any.
    /// </summary>
    internal static string NotUpWarning(TimeSpan joinTimeout, AssociationFailureWatch failures, bool hasCredentials)
    {
        string credentials = hasCredentials
            ? "do they hold this node's credentials?"
            : "does the cluster use credentials? this node has none (--credentials or DISTSOFTMAX_CREDENTIALS)";
        string last = failures.LastFailure is { } f ? $"; the last connection failed: {f}" : "";
        return $"warning: the node is not up after {joinTimeout.TotalSeconds:0.#} s (are the seeds reachable? {credentials}{last}); still trying";
    }

    /// <summary>Largest --cache-mb (1 TiB).</summary>
    private const int MaxCacheMb = 1 << 20;

    /// <summary>--log of the long-running nodes (worker, serve): where Akka.NET's log goes.</summary>
    public static Option<string?> LogOption() => OptionFactory.File("--log",
        "Append the node's Akka.NET log (INFO and above, one line each) to this file; default: WARNING and above on stderr. Stack traces only with DISTSOFTMAX_DEBUG=1.", "PATH");

    /// <summary>The absolute --log path, checked (its directory exists, it is not a directory); null when not given.</summary>
    public static string? CheckLog(CliContext ctx, string? log)
    {
        if (log is null) return null;
        string path = ctx.Resolve(log);
        if (Directory.Exists(path)) throw new CliInputException("--log", $"{path} is a directory");
        if (Path.GetDirectoryName(path) is { } dir && !Directory.Exists(dir)) throw new CliInputException("--log", $"{dir}: no such directory");
        return path;
    }

    /// <summary>The socket error inside <paramref name="e"/> (a port that cannot be bound), if any; also used by serve.</summary>
    internal static SocketException? FindSocketError(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is SocketException se) return se;
            if (e is AggregateException ae)
                foreach (var inner in ae.InnerExceptions)
                    if (FindSocketError(inner) is { } found) return found;
        }
        return null;
    }
}
