namespace DistSoftmax.Core.Statistics;

/// <summary>
/// The post-solve analysis's facts about the data itself (no x: <see cref="ShardRequest.X"/> is empty): ‖b‖₁ over the
/// shard's targets and the smallest squared weight of its regulariser (<see cref="TargetSummaryReply"/>).
/// </summary>
public sealed record TargetSummaryRequest() : ShardRequest(Array.Empty<double>());
