using Akka.Configuration;
using DistSoftmax.Cluster.Serialization;

namespace DistSoftmax.Cluster.Coordinator;

/// <summary>Timeouts of a coordinator (HOCON distsoftmax.coordinator).</summary>
/// <param name="MaxRequestBytes">Largest encoded request the coordinator sends whole in an
/// <see cref="Protocol.EvaluateShard"/> (0: no limit, as in one ActorSystem). The transport silently drops a frame above maximum-frame-size, which would look
/// like a silent worker, so a larger request goes as <see cref="Protocol.RequestChunk"/>s of at most
/// <see cref="RequestChunkBytes"/> each.</param>
public sealed record CoordinatorSettings(TimeSpan WorkerWaitTimeout, TimeSpan LoadTimeout, TimeSpan StepTimeout,
    TimeSpan NoWorkerTimeout, TimeSpan TickInterval, long MaxRequestBytes = 0)
{
    /// <summary>Size of the pieces of a request too large for one frame: 1 MiB, or less under a smaller limit.</summary>
    public int RequestChunkBytes => (int)Math.Clamp(MaxRequestBytes, 1, 1 << 20);

    /// <summary>Bounds on the replies the coordinator reassembles from <see cref="Protocol.ReplyChunk"/>s.</summary>
    public ChunkLimits Limits { get; init; } = ChunkLimits.Default;

    /// <summary>Room left in a frame for Akka's envelope (recipient and sender paths, manifest).</summary>
    public const long FrameOverhead = 64 * 1024;

    public static CoordinatorSettings FromConfig(Config config) => new CoordinatorSettings(
        config.GetTimeSpan("distsoftmax.coordinator.worker-wait-timeout", TimeSpan.FromSeconds(60)),
        config.GetTimeSpan("distsoftmax.coordinator.load-timeout", TimeSpan.FromSeconds(120)),
        config.GetTimeSpan("distsoftmax.coordinator.step-timeout", TimeSpan.FromSeconds(120)),
        config.GetTimeSpan("distsoftmax.coordinator.no-worker-timeout", TimeSpan.FromSeconds(30)),
        config.GetTimeSpan("distsoftmax.coordinator.tick-interval", TimeSpan.FromMilliseconds(200)),
        MaxRequestBytesFrom(config)) { Limits = ChunkLimits.FromConfig(config) }.Validate();

    /// <summary>With remoting (provider remote or cluster): maximum-frame-size less <see cref="FrameOverhead"/>.</summary>
    private static long MaxRequestBytesFrom(Config config)
    {
        var provider = config.GetString("akka.actor.provider", "local").ToLowerInvariant();
        if (provider is "local" || provider.Contains("localactorrefprovider")) return 0;
        long frame = config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size") ?? 128000;
        return Math.Max(frame - FrameOverhead, frame / 2);
    }

    public CoordinatorSettings Validate()
    {
        static void Positive(TimeSpan t, string key)
        {
            if (t <= TimeSpan.Zero) throw new ArgumentException($"distsoftmax.coordinator.{key} must be a positive duration");
        }
        Positive(WorkerWaitTimeout, "worker-wait-timeout");
        Positive(LoadTimeout, "load-timeout");
        Positive(StepTimeout, "step-timeout");
        Positive(NoWorkerTimeout, "no-worker-timeout");
        Positive(TickInterval, "tick-interval");
        if (MaxRequestBytes < 0) throw new ArgumentException("the request size limit must be ≥ 0");
        return this;
    }
}
