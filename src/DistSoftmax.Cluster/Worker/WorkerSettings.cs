using Akka.Configuration;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Core.Shards;

namespace DistSoftmax.Cluster.Worker;

/// <summary>How a worker computes and replies (HOCON distsoftmax.worker).</summary>
/// <param name="ComputeThreads">Dedicated threads for shard loads and evaluations (≥ 1).</param>
/// <param name="ShardParallelism">Degree of parallelism of one shard's row-block kernels (≥ 1).</param>
/// <param name="ChunkSize">Replies whose encoding exceeds this many bytes travel as chunks of at most this size.</param>
public sealed record WorkerSettings(int ComputeThreads, int ShardParallelism, int ChunkSize)
{
    public const int MinChunkSize = 1024;

    /// <summary>Bounds on the requests this worker reassembles from <see cref="Protocol.RequestChunk"/>s.</summary>
    public ChunkLimits Limits { get; init; } = ChunkLimits.Default;

    /// <summary>Memory budget of the shard cache (<see cref="ShardCache"/>) in bytes; 0 keeps no shard across solves.
    /// HOCON distsoftmax.worker.cache-size ("auto": <see cref="DefaultCacheBytes"/>), the worker command's --cache-mb.</summary>
    public long CacheBytes { get; init; }

    /// <summary>Source kinds whose shards may be cached (<see cref="SourceIdentity"/>).</summary>
    public IReadOnlyCollection<string> CacheableKinds { get; init; } = DefaultCacheableKinds;

    public static readonly IReadOnlyCollection<string> DefaultCacheableKinds = ["files", "generated"];

    /// <summary>The default shard-cache budget: a quarter of the memory available to this process.</summary>
    public static long DefaultCacheBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4;

    public static WorkerSettings FromConfig(Config config)
    {
        int threads = config.GetInt("distsoftmax.worker.compute-threads", 0);
        int parallelism = config.GetInt("distsoftmax.worker.shard-parallelism", 0);
        long chunk = config.GetByteSize("distsoftmax.worker.chunk-size") ?? 1 << 20;
        return new WorkerSettings(
            threads > 0 ? threads : Environment.ProcessorCount,
            parallelism > 0 ? parallelism : Environment.ProcessorCount,
            (int)Math.Min(chunk, int.MaxValue)) { Limits = ChunkLimits.FromConfig(config), CacheBytes = CacheSize(config) }.Validate();
    }

    /// <summary>distsoftmax.worker.cache-size: "auto" (or absent) → <see cref="DefaultCacheBytes"/>, else a byte size.</summary>
    private static long CacheSize(Config config)
    {
        string? value = config.HasPath("distsoftmax.worker.cache-size") ? config.GetString("distsoftmax.worker.cache-size") : null;
        if (value is null || value.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase)) return DefaultCacheBytes;
        return config.GetByteSize("distsoftmax.worker.cache-size") ?? DefaultCacheBytes;
    }

    public WorkerSettings Validate()
    {
        if (CacheBytes < 0) throw new ArgumentException("distsoftmax.worker.cache-size must be ≥ 0 bytes (0: no shard cache)");
        if (ComputeThreads < 1) throw new ArgumentException("distsoftmax.worker.compute-threads must be ≥ 1 (or 0 for the processor count)");
        if (ShardParallelism < 1) throw new ArgumentException("distsoftmax.worker.shard-parallelism must be ≥ 1 (or 0 for the processor count)");
        if (ChunkSize < MinChunkSize) throw new ArgumentException($"distsoftmax.worker.chunk-size must be at least {MinChunkSize} bytes");
        return this;
    }

    internal ShardComputeOptions Compute => new(ShardParallelism);
}
