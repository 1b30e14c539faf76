namespace DistSoftmax.Cli.Service;

/// <summary>A job's row shard: its index, its row count and the address of the worker node that holds it.</summary>
internal sealed record ShardInfo(int Index, long Rows, string Owner);
