using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Shards;

/// <summary>Contiguous row ranges [Start, Start + Count) of an n-row problem split into K shards.</summary>
public readonly record struct RowRange(long Start, int Count);

public static class ShardLayout
{
    /// <summary>The neutral name of the shard count K in <see cref="ParameterException"/>s.</summary>
    public const string ShardsParameter = "Shards";

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
