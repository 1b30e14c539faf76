using DistSoftmax.Core;
using Akka.Actor;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>One independent whole job for <see cref="LocalSimulation.SolveJobsAsync"/>.</summary>
public sealed record LocalJob(ProblemSource Source, Solver Solver, double[] X0, SolverOptions Options);

/// <summary>Knobs of a local simulation beyond the common arguments.</summary>
public sealed record LocalSimulationOptions
{
    /// <summary>Worker actors (≥ 1).</summary>
    public int Workers { get; init; } = 1;
    /// <summary>Row shards; null means one per worker.</summary>
    public int? Shards { get; init; }
    /// <summary>Every coordinator event (worker joined/lost, shard assigned/ready, progress, end), in order.</summary>
    public Action<SolveEvent>? Events { get; init; }
    /// <summary>HOCON text layered over local.conf (timeouts, chunk size, logging).</summary>
    public string? ExtraHocon { get; init; }
    /// <summary>Called with the name of each start-up phase as it ends (the CLI's DISTSOFTMAX_TIMING lines).</summary>
    public Action<string>? Phase { get; init; }
    /// <summary>What runs on the workers' shards after the solver, before the result is reported (<see cref="SolveSpec.AfterSolve"/>).</summary>
    public Func<SolverResult, Core.Drivers.IRequestProgram?>? AfterSolve { get; init; }
    /// <summary>
    /// An ActorSystem already being started by <see cref="LocalSimulation.StartSystem"/> (with its own HOCON, so
    /// <see cref="ExtraHocon"/> must then be null); the solve takes it over and terminates it. Null: the solve starts its own.
    /// </summary>
    public Task<ActorSystem>? StartedSystem { get; init; }
}

/// <summary>
/// The cluster's code in one process: one ActorSystem with N <see cref="WorkerActor"/>s and a
/// <see cref="CoordinatorActor"/>, messages through mailboxes exactly as across nodes (the default of the CLI's
/// <c>solve</c>). The result equals <see cref="InProcessDriver"/> with the same number of shards.
/// </summary>
public static class LocalSimulation
{
    /// <summary>Solves with <paramref name="workers"/> worker actors and as many shards.</summary>
    public static Task<SolverResult> SolveAsync(IShardLoader loader, ProblemSource source, Solver solver, double[] x0,
        SolverOptions options, int workers, Action<TraceEntry>? progress = null, CancellationToken ct = default) =>
        SolveAsync(loader, source, solver, x0, options, new LocalSimulationOptions
        {
            Workers = workers,
            Events = progress is null ? null : e => { if (e is SolveProgress p) progress(p.Entry); },
        }, ct);

    public static async Task<SolverResult> SolveAsync(IShardLoader loader, ProblemSource source, Solver solver, double[] x0,
        SolverOptions options, LocalSimulationOptions simulation, CancellationToken ct = default)
    {
        ActorSystem? system = null;
        try
        {
            if (simulation.StartedSystem is { } started)
            {
                // Awaited before anything can throw, so that a system handed over is always terminated here.
                system = await started.ConfigureAwait(false);
                if (simulation.ExtraHocon is not null)
                    throw new ArgumentException("give the extra HOCON to StartSystem, not beside a started system", nameof(simulation));
            }
            if (simulation.Workers < 1) throw new ParameterException(nameof(simulation.Workers), simulation.Workers, "must be at least 1");
            var shape = loader.Describe(source);
            var spec = new SolveSpec(SolveSpec.NewSolveId(), source, shape, solver, x0, options,
                simulation.Shards ?? simulation.Workers, simulation.Workers, ct) { AfterSolve = simulation.AfterSolve }.Validate();

            if (system is null)
            {
                var local = DistSoftmaxConfig.Local(simulation.ExtraHocon);
                simulation.Phase?.Invoke("local configuration parsed");
                system = ActorSystem.Create(SystemName, local);
            }
            var running = system;
            var config = running.Settings.Config;
            var workerSettings = SharedMachineSettings(config, simulation.Workers);
            simulation.Phase?.Invoke("actor system started");
            var workers = Enumerable.Range(1, simulation.Workers)
                .Select(i => running.ActorOf(WorkerActor.Props(loader, workerSettings), $"worker-{i}"))
                .ToArray();
            simulation.Phase?.Invoke($"{workers.Length} worker actors created");
            return await SolveSession.RunAsync(running, spec, CoordinatorSettings.FromConfig(config), simulation.Events,
                coordinator =>
                {
                    foreach (var w in workers) w.Tell(new CoordinatorHello(spec.SolveId), coordinator);
                }, ct).ConfigureAwait(false);
        }
        finally
        {
            // Awaited: the workers hold the rows until their actors stop, and the CLI's post-solve analysis loads
            // them again right after (returning before termination peaked a 100000×1000 solve at 2.5× A, not 1.5×).
            if (system is not null)
            {
                await system.Terminate().ConfigureAwait(false);
                system.Dispose();
            }
        }
    }

    /// <summary>The local simulation's ActorSystem name.</summary>
    private const string SystemName = "distsoftmax-local";

    /// <summary>
    /// Starts a local simulation's ActorSystem on a pool thread (HOCON parsing, Akka's extensions, and compiling their
    /// code: 0.35–0.4 s of a process's start), so that it overlaps the caller's own work; hand it to
    /// <see cref="SolveAsync(IShardLoader, ProblemSource, Solver, double[], SolverOptions, LocalSimulationOptions, CancellationToken)"/>
    /// as <see cref="LocalSimulationOptions.StartedSystem"/>, or end it with <see cref="DiscardStartedSystem"/>.
    /// </summary>
    /// <param name="extraHocon">HOCON layered over local.conf (as <see cref="LocalSimulationOptions.ExtraHocon"/>).</param>
    public static Task<ActorSystem> StartSystem(string? extraHocon = null) =>
        Task.Run(() => ActorSystem.Create(SystemName, DistSoftmaxConfig.Local(extraHocon)));

    /// <summary>Terminates a system from <see cref="StartSystem"/> that no solve took over (its start's failure is ignored: nothing ran on it).</summary>
    public static async Task DiscardStartedSystem(Task<ActorSystem> started)
    {
        ActorSystem system;
        try { system = await started.ConfigureAwait(false); }
        catch (Exception) { return; }
        await system.Terminate().ConfigureAwait(false);
        system.Dispose();
    }

    /// <summary>N workers share this machine: unless configured, split its cores between them, one compute thread each.</summary>
    private static WorkerSettings SharedMachineSettings(Akka.Configuration.Config config, int workers)
    {
        var settings = WorkerSettings.FromConfig(config);
        if (config.GetInt("distsoftmax.worker.shard-parallelism", 0) == 0)
            settings = settings with { ShardParallelism = Math.Max(1, Environment.ProcessorCount / workers) };
        if (config.GetInt("distsoftmax.worker.compute-threads", 0) == 0)
            settings = settings with { ComputeThreads = 1 };
        return settings;
    }

    /// <summary>
    /// Independent whole jobs (e.g. the re-solves of a sensitivity experiment) on one pool of
    /// <paramref name="workers"/> worker actors: job j is a one-shard solve whose coordinator is introduced to worker
    /// j mod N only, so the whole job — its rows and every statistics request — runs on that one worker, through
    /// the same protocol as any solve. At most N jobs run at once; results come back in job order, and each equals
    /// <see cref="InProcessDriver"/> with one shard.
    /// </summary>
    public static async Task<SolverResult[]> SolveJobsAsync(IShardLoader loader, IReadOnlyList<LocalJob> jobs, int workers,
        string? extraHocon = null, CancellationToken ct = default)
    {
        if (workers < 1) throw new ParameterException(nameof(LocalSimulationOptions.Workers), workers, "must be at least 1");
        var config = DistSoftmaxConfig.Local(extraHocon);
        var settings = CoordinatorSettings.FromConfig(config);
        var workerSettings = SharedMachineSettings(config, workers);
        using var system = ActorSystem.Create("distsoftmax-jobs", config);
        try
        {
            var pool = Enumerable.Range(1, workers)
                .Select(i => system.ActorOf(WorkerActor.Props(loader, workerSettings), $"worker-{i}"))
                .ToArray();
            using var slots = new SemaphoreSlim(workers);
            var tasks = jobs.Select(async (job, j) =>
            {
                await slots.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    var spec = new SolveSpec(SolveSpec.NewSolveId(), job.Source, loader.Describe(job.Source), job.Solver, job.X0,
                        job.Options, 1, 1, ct).Validate();
                    var worker = pool[j % workers];
                    return await SolveSession.RunAsync(system, spec, settings, null,
                        coordinator => worker.Tell(new CoordinatorHello(spec.SolveId), coordinator), ct).ConfigureAwait(false);
                }
                finally
                {
                    slots.Release();
                }
            }).ToArray();
            return await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        finally
        {
            await system.Terminate().ConfigureAwait(false);
        }
    }
}
