using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Shards;

/// <summary>Contiguous row ranges [Start, Start + Count) of an n-row problem split into K shards.</summary>
public readonly record struct RowRange(long Start, int Count);

public static class ShardLayout
{
    /// <summary>The neutral name of the shard count K in <see cref="ParameterException"/>s.</summary>
    public const string ShardsParameter = "Shards";

    /// <summary>Shards of a cluster solve when none are asked for, and the most a solve on this machine takes by default.</summary>
    public const int MostDefaultShards = 4;

    /// <summary>
    /// The most shards (workers) a solve may ask for: each is a worker actor with its own rows, and every request fans
    /// out to all of them. A million crashed a local solve (out of memory mappings for the actors) and, on a service,
    /// 20000 one-row shards kept two workers too busy to send heartbeats, so the cluster downed them.
    /// </summary>
    public const int MaxShards = 1024;

    /// <summary>
    /// Shards when none are asked for. On this machine (local simulation, in process) one per core, at most
    /// <see cref="MostDefaultShards"/>: more workers than cores only take turns on them (README's 200000×100 benchmark on
    /// 2 cores: 1.290 s whole with 2 workers against 1.373 s with 4, the same 12 iterations and x to 1e-15; medians of
    /// ten alternated runs). On a cluster <see cref="MostDefaultShards"/>, spread over its worker nodes.
    /// </summary>
    public static int DefaultShards(bool onThisMachine) =>
        onThisMachine ? Math.Clamp(Environment.ProcessorCount, 1, MostDefaultShards) : MostDefaultShards;

    /// <summary>K nearly equal contiguous ranges (the first n mod K get one row more).</summary>
    public static RowRange[] Split(long rows, int shards)
    {
        if (shards < 1) throw new ParameterException(ShardsParameter, shards, "must be at least 1");
        if (rows < shards) shards = (int)Math.Max(1, rows);
        var result = new RowRange[shards];
        long start = 0;
        for (int k = 0; k < shards; k++)
        {
            long count = rows / shards + (k < rows % shards ? 1 : 0);
            result[k] = new RowRange(start, (int)count);
            start += count;
        }
        return result;
    }

    /// <summary>Vector shards of a whole in-memory problem, one per range.</summary>
    public static VectorShard[] VectorShards(IVectorFamily family, IRowMatrix a, double[] b, Regularizer reg, int shards,
        ShardComputeOptions? compute = null) =>
        Split(a.Rows, shards).Select(r => new VectorShard(family, a.SliceRows((int)r.Start, r.Count),
            b.AsSpan((int)r.Start, r.Count).ToArray(), reg.Slice((int)r.Start, r.Count), r.Start, compute)).ToArray();
}
