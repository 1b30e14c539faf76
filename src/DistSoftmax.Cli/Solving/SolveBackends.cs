using DistSoftmax.Cli.Commands;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cli.Solving;

/// <summary>One solve to run: where the rows come from (only the description travels), the solver and its start.</summary>
/// <param name="Solver">The solver itself (<see cref="SolverCatalog.Create"/> for the solve command, a
/// <c>NetworkTrainer</c> for train): every backend runs whatever it is given.</param>
/// <param name="Workers">Row shards, one per worker.</param>
internal sealed record SolveJob(IShardLoader Loader, ProblemSource Source, ProblemShape Shape, Solver Solver,
    SolverOptions Options, double[] X0, int Workers)
{
    /// <summary>
    /// Requests to run on the cluster's shards once the solver has finished (the post-solve analysis; a cluster
    /// backend hands it to its coordinator), or null. Backends whose shards live in this process ignore it.
    /// </summary>
    public Func<SolverResult, IRequestProgram?>? AfterSolve { get; init; }
}

/// <summary>
/// Runs a solve somewhere. The solve command is written once against this interface; backends differ only in
/// who evaluates the shards' statistics (a loop in this process, worker actors, or cluster nodes).
/// </summary>
internal interface ISolveBackend
{
    /// <summary>Name for the report: "inprocess", "local" or "cluster".</summary>
    string Name { get; }

    /// <summary>
    /// Solves the job; <paramref name="progress"/> is called once per iteration and <paramref name="note"/> for events
    /// worth a line (a worker joined or was lost, a shard moved), both from any thread.
    /// Cancellation ends the solve at the next iteration boundary with exit condition Cancelled.
    /// </summary>
    Task<SolverResult> SolveAsync(SolveJob job, Action<TraceEntry> progress, Action<string> note, CancellationToken cancellation);
}

/// <summary>
/// The plain in-process driver: every shard is loaded here (through the same loader the workers use) and the
/// solver's requests are answered by a loop over them, shards in parallel — the library's in-process backend
/// (<see cref="SoftmaxRegression"/>), given the file loader.
/// </summary>
internal sealed class InProcessBackend : ISolveBackend
{
    public string Name => "inprocess";

    public Task<SolverResult> SolveAsync(SolveJob job, Action<TraceEntry> progress, Action<string> note, CancellationToken cancellation) =>
        Task.Run(() => SoftmaxRegression.InProcess(job.Loader, job.Source, job.Solver, job.X0, job.Options, job.Workers, progress, cancellation),
            CancellationToken.None);
}

/// <summary>
/// The local simulation (the default): worker actors and a coordinator in one Akka.NET ActorSystem, the same actors
/// and protocol as across nodes, messages passed by reference through mailboxes (nothing is serialized or chunked
/// inside one ActorSystem); each worker loads its own rows from the source.
/// </summary>
/// <param name="started">The ActorSystem <see cref="StartEarly"/> began while the inputs were checked; null: the solve starts its own.</param>
internal sealed class LocalSimulationBackend(Task<Akka.Actor.ActorSystem>? started = null) : ISolveBackend
{
    public string Name => "local";

    /// <summary>The HOCON a solve's local ActorSystem runs with.</summary>
    private static string ExtraHocon => Hocon.SolveOwnsShutdown + Hocon.Quiet;

    /// <summary>
    /// Starts the ActorSystem of a local solve on another core (<see cref="LocalSimulation.StartSystem"/>), so that its
    /// 0.35–0.4 s overlap the reading and checking of the inputs; hand it to the backend, or to
    /// <see cref="LocalSimulation.DiscardStartedSystem"/> when the solve does not run.
    /// </summary>
    public static Task<Akka.Actor.ActorSystem> StartEarly() => LocalSimulation.StartSystem(ExtraHocon);

    public Task<SolverResult> SolveAsync(SolveJob job, Action<TraceEntry> progress, Action<string> note, CancellationToken cancellation) =>
        LocalSimulation.SolveAsync(job.Loader, job.Source, job.Solver, job.X0, job.Options,
            new LocalSimulationOptions
            {
                Workers = job.Workers,
                Events = e =>
                {
                    if (e is ShardReady ready) PhaseTiming.Mark($"shard {ready.ShardIndex} loaded ({ready.Seconds * 1e3:F0} ms on its worker)");
                    if (e is SolveProgress { Entry.Iteration: 0 }) PhaseTiming.Mark("first iteration (shards loaded)");
                    Events.Forward(e, progress, note, joins: false);
                },
                ExtraHocon = started is null ? ExtraHocon : null,
                StartedSystem = started,
                Phase = PhaseTiming.Mark,
            },
            cancellation);
}

/// <summary>
/// A job on a running cluster: this process joins the seeds as the coordinator, waits for --min-workers worker
/// nodes, tells them where their rows are (the source, never the data), solves, and leaves the cluster.
/// </summary>
internal sealed class ClusterBackend(BackendPlan plan) : ISolveBackend
{
    public string Name => "cluster";

    public Task<SolverResult> SolveAsync(SolveJob job, Action<TraceEntry> progress, Action<string> note, CancellationToken cancellation) =>
        ClusterSolveJob.RunAsync(new ClusterJobOptions
            {
                Node = new NodeOptions
                {
                    Seeds = plan.Seeds, Host = plan.Host, Port = plan.Port, ExtraHocon = Hocon.SolveOwnsShutdown + Hocon.Quiet,
                    CredentialsDirectory = plan.Credentials, Insecure = plan.Insecure,
                }.FromEnvironment(),
                MinWorkers = plan.MinWorkers,
                SeedTimeout = plan.SeedTimeout,
                Shards = job.Workers,
                Events = e => Events.Forward(e, progress, note, joins: true),
                AfterSolve = job.AfterSolve,
            }, job.Loader, job.Source, job.Solver, job.X0, job.Options, cancellation);
}

/// <summary>HOCON the solve command layers over the cluster's configuration.</summary>
internal static class Hocon
{
    /// <summary>
    /// Ctrl+C / SIGTERM must stop the solve at an iteration boundary (exit 3, files written) and then leave the cluster,
    /// so Akka's own shutdown-on-SIGTERM hook, which would tear the ActorSystem down mid-solve, is off for solves.
    /// </summary>
    public const string SolveOwnsShutdown = "akka.coordinated-shutdown.run-by-clr-shutdown-hook = off\n";

    /// <summary>
    /// The solve's own output is the interface: Akka's INFO lines (joining, gossip) would interleave with it, and its
    /// standard logger writes to stdout. Warnings and errors go to stderr, one line each (<see cref="OneLineLogger"/>).
    /// </summary>
    public static readonly string Quiet = OneLineLogger.Hocon();

    /// <summary>A long-running node's log (worker, serve): WARNING and above on stderr, or INFO and above appended to <paramref name="file"/> (--log).</summary>
    public static string NodeLog(string? file) => file is null ? OneLineLogger.Hocon() : OneLineLogger.Hocon("INFO", file);
}

/// <summary>Turns coordinator events into progress rows and one-line notes.</summary>
internal static class Events
{
    public static void Forward(SolveEvent e, Action<TraceEntry> progress, Action<string> note, bool joins)
    {
        switch (e)
        {
            case SolveProgress p:
                progress(p.Entry);
                break;
            case WorkerJoined j when joins:
                note($"worker {j.WorkerId} joined from {j.Address} ({j.ProcessorCount} cores)");
                break;
            case WorkerLost l:
                note($"worker {l.WorkerId} lost: {l.Reason}");
                break;
            case ShardAssigned { PreviousWorkerId: not null } a:
                note($"shard {a.ShardIndex} (rows {a.Rows.Start}..{a.Rows.Start + a.Rows.Count - 1}) moved from worker {a.PreviousWorkerId} to {a.WorkerId}");
                break;
        }
    }
}

/// <summary>The one backend switch of every command that runs a <see cref="Solver"/> over row shards (solve, train).</summary>
internal static class SolveBackends
{
    /// <summary>
    /// Where a job runs, from the command's options: <paramref name="backend"/> ("local" or "inprocess") without
    /// --seeds; a cluster job with them (--backend is then not allowed, and --min-workers, --host, --port only with them).
    /// </summary>
    public static BackendPlan Plan(string backend, bool backendGiven, string? seeds, int? minWorkers, string? host, int? port,
        double? seedTimeout = null)
    {
        if (seeds is null)
        {
            foreach (var (option, given) in new[] { ("--min-workers", minWorkers is not null), ("--host", host is not null), ("--port", port is not null),
                         ("--seed-timeout", seedTimeout is not null) })
                if (given) throw new CliInputException(option, "is only used with --seeds (a cluster job)");
            return new BackendPlan(backend, [], 0, "", 0);
        }
        if (backendGiven)
            throw new CliInputException("--backend", "cannot be combined with --seeds (a job given seed nodes always runs on the cluster)");
        var seedAddresses = SolvePlanner.ParseSeeds(seeds);
        int workersToWait = minWorkers ?? 1;
        if (workersToWait < 1) throw new CliInputException("--min-workers", $"must be at least 1 (got {workersToWait})");
        int? p = port ?? (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("DISTSOFTMAX_PORT")) ? 0 : null);
        if (p is < 0 or > 65535) throw new CliInputException("--port", $"must be in [0, 65535] (got {p})");
        if (host is not null && string.IsNullOrWhiteSpace(host)) throw new CliInputException("--host", "must not be empty");
        if (seedTimeout is double t && !(t > 0 && t <= 3600))
            throw new CliInputException("--seed-timeout", $"must be in (0, 3600] seconds (got {t})");
        return new BackendPlan("cluster", seedAddresses, workersToWait, host, p,
            seedTimeout is double seconds ? TimeSpan.FromSeconds(seconds) : null);
    }

    public static ISolveBackend For(BackendPlan plan) => plan.Kind switch
    {
        JobOptions.InProcess => new InProcessBackend(),
        JobOptions.Local => new LocalSimulationBackend(),
        JobOptions.Cluster => new ClusterBackend(plan),
        _ => throw new CliInputException("--backend", $"unknown backend '{plan.Kind}' (allowed: {string.Join(", ", JobOptions.Backends)})"),
    };
}
