using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Shards;

/// <summary>Cuts a <see cref="MatrixProblem"/> held in memory into <see cref="MatrixShard"/>s of its rows j.</summary>
public static class MatrixProblemShards
{
    /// <summary>The shard owning rows [range.Start, range.Start + range.Count) of A1, B and W (and all of A2).</summary>
    public static MatrixShard Shard(this MatrixProblem problem, RowRange range, ShardComputeOptions? compute = null)
    {
        int start = checked((int)range.Start);
        if (start < 0 || range.Count < 0 || start + range.Count > problem.Rows)
            throw new ArgumentOutOfRangeException(nameof(range), $"rows {range.Start}..{range.Start + range.Count} are outside 0..{problem.Rows}");
        return new MatrixShard(problem.RowFamily, problem.A1.SliceDense(start, range.Count), problem.A2,
            problem.B.SliceDense(start, range.Count), problem.W?.SliceDense(start, range.Count), range.Start, compute);
    }

    /// <summary>Nearly equal contiguous row shards (<see cref="ShardLayout.Split"/>).</summary>
    public static MatrixShard[] Shards(this MatrixProblem problem, int shards, ShardComputeOptions? compute = null) =>
        ShardLayout.Split(problem.Rows, shards).Select(r => problem.Shard(r, compute)).ToArray();
}
