using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using DistSoftmax.Cli.Service;
using DistSoftmax.Cli.Solving;
using DistSoftmax.Cluster.Hosting;
using Microsoft.AspNetCore.Hosting;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// The <c>serve</c> command: a long-running node with the coordinator role (it joins the cluster once, or founds it so
/// that workers may name it as their seed) hosting the job API, /metrics and the dashboard (<see cref="ServiceHost"/>)
/// until Ctrl+C or SIGTERM. Building the command touches no ASP.NET Core type; only running it does.
/// </summary>
internal static class ServeCommand
{
    /// <summary>Defaults: the HTTP address, jobs at once, jobs waiting, the state directory.</summary>
    public const string DefaultHttpHost = "127.0.0.1", DefaultStateDirectory = "dist-softmax-service";
    public const int DefaultMaxJobs = 1, DefaultMaxQueued = 100;

    public static Command Build(CliContext ctx)
    {
        var httpPort = OptionFactory.OptionalInt("--http-port", "Port of the HTTP API and dashboard (required; 0 = any free port, printed at start).", "PORT");
        var httpHost = OptionFactory.Text("--http-host", "Address the HTTP API binds (a non-loopback address needs --insecure: the API has no authentication).", DefaultHttpHost, "HOST");
        var host = OptionFactory.File("--host", "Address the service's cluster node binds (default: DISTSOFTMAX_HOST, then 127.0.0.1).", "HOST");
        var port = OptionFactory.OptionalInt("--port", "Port of the service's cluster node (default: DISTSOFTMAX_PORT, then 4053; workers may name HOST:PORT as their seed).", "PORT");
        var seeds = OptionFactory.File("--seeds",
            "Comma-separated seed nodes, HOST:PORT or akka.tcp://distsoftmax@HOST:PORT (default: DISTSOFTMAX_SEEDS; none: the service founds the cluster).", "ADDRESSES");
        var credentials = CredentialsCommand.CredentialsOption();
        var insecure = CredentialsCommand.InsecureOption();
        var stateDir = OptionFactory.Text("--state-dir", "Directory of the job database and the jobs' files (jobs/<id>/x.npy, report.json, convergence.png).", DefaultStateDirectory, "DIR");
        var db = OptionFactory.File("--db", "The SQLite job database (default: <state-dir>/jobs.db).", "PATH");
        var maxJobs = OptionFactory.Int("--max-jobs", "Jobs that run at once; later ones wait in the queue.", DefaultMaxJobs);
        var maxQueued = OptionFactory.Int("--max-queued", "Jobs that may wait; a submission beyond that is refused (HTTP 503).", DefaultMaxQueued);
        var minWorkers = OptionFactory.Int("--min-workers", "Worker nodes a job waits for before its shards are assigned.", 1, "K");
        var log = WorkerCommand.LogOption();
        var dataRoots = new Option<string[]>("--data-root")
        {
            Description = "A directory jobs may name input files in (repeatable; default: DISTSOFTMAX_DATA_ROOTS, then the working directory). " +
                "A spec naming a file outside every root is refused (HTTP 400) before anything reads it.",
            HelpName = "DIR",
        };

        var command = new Command("serve",
            "Run the cluster as a service: a coordinator node that stays in the cluster and an HTTP job API (POST /api/jobs, " +
            "GET /api/jobs/{id}/events, …), /metrics and a dashboard at /, until Ctrl+C or SIGTERM. Submit with 'dist-softmax solve --server URL'.");
        foreach (Option o in new Option[] { httpPort, httpHost, host, port, seeds, credentials, insecure, stateDir, db, maxJobs, maxQueued, minWorkers, dataRoots, log })
            command.Add(o);
        command.SetAction((parse, _) =>
        {
            ServiceOptions options;
            string http;
            try
            {
                if (parse.GetValue(httpPort) is not int hp) throw new CliInputException("--http-port", "is required (0 = any free port)");
                foreach (var (name, value) in new[] { ("--http-port", (int?)hp), ("--port", parse.GetValue(port)) })
                    if (value is < 0 or > 65535) throw new CliInputException(name, $"must be in [0, 65535] (got {value})");
                string hh = parse.GetValue(httpHost)!;
                if (string.IsNullOrWhiteSpace(hh)) throw new CliInputException("--http-host", "must not be empty");
                if (!DistSoftmaxConfig.IsLoopback(hh) && !parse.GetValue(insecure))
                    throw new CliInputException("--http-host", $"{hh} is not a loopback address and the API has no authentication: give --insecure to serve it there anyway");
                if (parse.GetValue(host) is string h && string.IsNullOrWhiteSpace(h)) throw new CliInputException("--host", "must not be empty");
                foreach (var (name, value, least) in new[] { ("--max-jobs", parse.GetValue(maxJobs), 1), ("--max-queued", parse.GetValue(maxQueued), 0), ("--min-workers", parse.GetValue(minWorkers), 1) })
                    if (value < least) throw new CliInputException(name, $"must be at least {least} (got {value})");
                var seedList = parse.GetValue(seeds) is string s ? SolvePlanner.ParseSeeds(s) : null;
                var node = new NodeOptions { Host = parse.GetValue(host), Port = parse.GetValue(port), Seeds = seedList }.FromEnvironment();
                node = node with
                {
                    CredentialsDirectory = CredentialsCommand.Check(ctx, parse.GetValue(credentials) ?? node.CredentialsDirectory),
                    Insecure = parse.GetValue(insecure),
                    ExtraHocon = Hocon.SolveOwnsShutdown + Hocon.NodeLog(WorkerCommand.CheckLog(ctx, parse.GetValue(log))),
                };
                string state = ctx.Resolve(parse.GetValue(stateDir)!);
                if (File.Exists(state)) throw new CliInputException("--state-dir", $"{state} is a file, not a directory");
                // The node's options already read DISTSOFTMAX_DATA_ROOTS (NodeOptions.FromEnvironment), as a worker's do.
                var roots = parse.GetValue(dataRoots) is { Length: > 0 } given ? given : node.DataRoots;
                foreach (var root in roots ?? [])
                    if (!Directory.Exists(ctx.Resolve(root))) throw new CliInputException("--data-root", $"{root}: no such directory");
                options = new ServiceOptions(node, state, parse.GetValue(db) is string d ? ctx.Resolve(d) : Path.Combine(state, "jobs.db"),
                    parse.GetValue(maxJobs), parse.GetValue(maxQueued), parse.GetValue(minWorkers), ctx.WorkingDirectory,
                    roots?.Select(ctx.Resolve).ToArray(), LoopbackHttp: DistSoftmaxConfig.IsLoopback(hh));
                http = $"http://{(hh.Contains(':') ? $"[{hh}]" : hh)}:{hp}";
            }
            catch (Exception e) when (e is CliInputException or ArgumentException)
            {
                return Task.FromResult(ErrorReport.Write(ctx, e, validating: true));
            }
            return RunAsync(ctx, options, http);
        });
        return command;
    }

    /// <summary>Starts the node and the HTTP server, then serves until cancelled. Kept out of <see cref="Build"/>: ASP.NET Core loads here.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<int> RunAsync(CliContext ctx, ServiceOptions options, string url)
    {
        CoordinatorNode node;
        try { node = CoordinatorNode.Start(options.Node); }
        catch (InsecureNodeException e) { return ErrorReport.Write(ctx, new CliInputException("--host", e.Message), validating: true); }
        catch (Exception e) when (WorkerCommand.FindSocketError(e) is SocketException se)
        {
            return ErrorReport.Write(ctx, new CliInputException("--port", $"cannot bind the cluster node: {se.Message}"), validating: true);
        }
        await using (node)
        {
            ServiceHost service;
            try
            {
                Directory.CreateDirectory(options.StateDirectory);
                service = ServiceHost.Create(options, node, b => b.WebHost.UseUrls(url));
                await service.StartAsync(ctx.Cancellation);
            }
            catch (Exception e) when (e is CliInputException or IOException or UnauthorizedAccessException)
            {
                return ErrorReport.Write(ctx, e is CliInputException ? e : new CliInputException("--http-port", e.Message), validating: true);
            }
            await using (service)
            {
                string listening = string.Join(", ", service.App.Urls);
                string seedsText = options.Node.Seeds is { Count: > 0 } s ? string.Join(", ", s) : "none (this node founds the cluster)";
                ctx.Out.WriteLine($"dist-softmax serve: API and dashboard on {listening}; cluster node {node.Address}, seeds: {seedsText}; Ctrl+C or SIGTERM stops it");
                ctx.Out.Flush();
                // The API serves from the start; the node may take a while to join (a seed that is still removing this
                // node's previous incarnation after a crash): say so, and say when it is up.
                bool up = false, warned = false;
                while (!up && !ctx.Cancellation.IsCancellationRequested && !node.System.WhenTerminated.IsCompleted)
                {
                    try { up = await node.WaitUntilUpAsync(node.Settings.JoinTimeout, ctx.Cancellation); }
                    catch (OperationCanceledException) { break; }
                    if (!up && node.AssociationFailures.TlsRefused) return WorkerCommand.TlsRefused(ctx, node.AssociationFailures, seedsText);
                    if (node.System.WhenTerminated.IsCompleted) break;   // reported below as a node that stopped on its own
                    if (!up && !warned && !ctx.Cancellation.IsCancellationRequested)
                    {
                        ctx.Err.WriteLine(WorkerCommand.NotUpWarning(node.Settings.JoinTimeout, node.AssociationFailures, options.Node.CredentialsDirectory is not null));
                        warned = true;
                    }
                }
                if (up) ctx.Out.WriteLine($"dist-softmax serve: {node.Address} is up; jobs: {options.StateDirectory}");
                ctx.Out.Flush();
                var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                await using var registration = ctx.Cancellation.Register(() => stop.TrySetResult());
                await Task.WhenAny(stop.Task, node.System.WhenTerminated);
                if (!stop.Task.IsCompleted)
                {
                    ctx.Err.WriteLine($"error: service node {node.Address}: its actor system stopped on its own (downed or removed from the cluster)");
                    return ExitCodes.Internal;
                }
                ctx.Out.WriteLine("dist-softmax serve: stopping (running jobs stop at their next iteration and continue from their checkpoint at the next start)");
            }
        }
        ctx.Out.WriteLine("dist-softmax serve: stopped");
        return ExitCodes.Ok;
    }
}
