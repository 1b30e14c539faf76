using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Shards;

/// <summary>
/// A block of rows of a problem that answers the solver's statistics requests. Implementations keep a small cache
/// (z = A x for the last x) but every answer depends only on the request, so any owner of the same rows gives
/// the same reply. Not thread-safe: one request at a time.
/// </summary>
public interface IShard
{
    /// <summary>Global index of the first row (keys row-level random draws, so they do not depend on the layout).</summary>
    long RowOffset { get; }
    int Rows { get; }
    ShardReply Evaluate(ShardRequest request);

    /// <summary>
    /// Bytes this shard holds (its rows and per-row work arrays), for a worker's shard-cache budget; 0 when unknown
    /// (such a shard is not kept across solves).
    /// </summary>
    long Bytes => 0;
}

/// <summary>How a shard computes: the degree of parallelism of its row-block kernels.</summary>
public sealed record ShardComputeOptions(int MaxDegreeOfParallelism)
{
    public static readonly ShardComputeOptions Default = new(Environment.ProcessorCount);
    public static readonly ShardComputeOptions Sequential = new(1);
}

/// <summary>
/// Fixed row blocks of a shard. Block boundaries depend only on the row count, never on the machine, and block
/// results are summed in block order, so replies are bit-for-bit reproducible whatever the thread count.
/// </summary>
public readonly record struct RowBlocks(int Rows, int BlockCount)
{
    public const int MaxBlocks = 8;
    public const int MinRowsPerBlock = 2048;

    public static RowBlocks For(int rows) =>
        new(rows, Math.Clamp(rows / MinRowsPerBlock, 1, MaxBlocks));

    public (int Start, int End) this[int block] =>
        ((int)((long)Rows * block / BlockCount), (int)((long)Rows * (block + 1) / BlockCount));

    public void Run(ShardComputeOptions options, Action<int> body)
    {
        if (BlockCount == 1 || options.MaxDegreeOfParallelism <= 1)
            for (int k = 0; k < BlockCount; k++) body(k);
        else
            Parallel.For(0, BlockCount, new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism }, body);
    }
}
