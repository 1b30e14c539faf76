namespace DistSoftmax.Core.Statistics;

/// <summary>
/// A multiple normalized softmax problem's log-linear start (no x: <see cref="ShardRequest.X"/> is empty): each shard's
/// sums for the least-squares fit of A1 X A2ᵀ to the rows' centred log B (<see cref="LogLinearStartReply"/>,
/// <see cref="Solvers.LogLinearStart"/>).
/// </summary>
public sealed record LogLinearStartRequest() : ShardRequest(Array.Empty<double>());
