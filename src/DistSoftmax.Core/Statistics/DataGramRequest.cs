namespace DistSoftmax.Core.Statistics;

/// <summary>
/// The data Gram AᵀA of a vector problem (no x: <see cref="ShardRequest.X"/> is empty), for σ_min(A) in the post-solve
/// analysis: each shard answers A_kᵀA_k as a packed upper triangle (<see cref="GramReply"/>).
/// </summary>
public sealed record DataGramRequest() : ShardRequest(Array.Empty<double>());
