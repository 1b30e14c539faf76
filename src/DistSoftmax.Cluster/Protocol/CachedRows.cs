namespace DistSoftmax.Cluster.Protocol;

/// <summary>
/// Rows a worker holds in its shard cache: the source's content identity (<c>SourceIdentity.Of</c>: kind, parameters,
/// each named file's size and modification time) and the row range [RowStart, RowStart + Rows). Sent with
/// <see cref="RegisterWorker"/> so the coordinator can give a worker the shards it already holds.
/// </summary>
public sealed record CachedRows(string Source, long RowStart, int Rows);
