using Akka.Actor;
using Akka.Configuration;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// A local simulation's ActorSystem with the configuration it was made from, started ahead of the solve
/// (<see cref="StartAsync"/>) so that its start-up — parsing the HOCON, Akka's dispatchers, scheduler and loggers —
/// overlaps the caller's own work (the CLI reads and checks its inputs meanwhile). Hand it to the solve through
/// <see cref="LocalSimulationOptions.Started"/>; the solve terminates it.
/// </summary>
public sealed class LocalActorSystem
{
    /// <summary>The ActorSystem's name (also that of a system the solve starts itself).</summary>
    public const string SystemName = "distsoftmax-local";

    private LocalActorSystem(Config config, ActorSystem system) { Config = config; System = system; }

    /// <summary>local.conf over base.conf, with the extra HOCON on top.</summary>
    public Config Config { get; }

    public ActorSystem System { get; }

    /// <summary>Starts the system on a pool thread.</summary>
    public static Task<LocalActorSystem> StartAsync(string? extraHocon) => Task.Run(() => Start(extraHocon));

    /// <summary>Starts the system on this thread.</summary>
    public static LocalActorSystem Start(string? extraHocon)
    {
        var config = DistSoftmaxConfig.Local(extraHocon);
        return new LocalActorSystem(config, ActorSystem.Create(SystemName, config));
    }

    /// <summary>Terminates a system started ahead whose solve will not run (bad input, another backend); never throws.</summary>
    public static void Discard(Task<LocalActorSystem>? started) =>
        started?.ContinueWith(t => { if (t.IsCompletedSuccessfully) _ = t.Result.System.Terminate(); }, TaskScheduler.Default);
}
