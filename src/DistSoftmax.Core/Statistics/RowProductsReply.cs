namespace DistSoftmax.Core.Statistics;

/// <param name="Products">The shard's rows of z = Ax (vector problem, one value a row) or of M = A1 X A2ᵀ (matrix problem,
/// <paramref name="Columns"/> values a row), row-major.</param>
/// <param name="Targets">The same rows of b or B.</param>
/// <param name="Columns">Values a row: 1 for a vector problem, n for a matrix problem's n×n B.</param>
public sealed record RowProductsReply(double[] Products, double[] Targets, int Columns) : ShardReply
{
    /// <summary>Replies merge in shard order by appending the other's rows.</summary>
    public override ShardReply Merge(ShardReply other)
    {
        var o = Cast<RowProductsReply>(other);
        if (o.Columns != Columns) throw new ArgumentException($"cannot merge rows of {Columns} values with rows of {o.Columns}");
        return new RowProductsReply([.. Products, .. o.Products], [.. Targets, .. o.Targets], Columns);
    }
}
