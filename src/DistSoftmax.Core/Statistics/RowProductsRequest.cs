namespace DistSoftmax.Core.Statistics;

/// <summary>
/// The rows of the model at x with their targets, for the post-solve analysis's fitted values and residual
/// (<see cref="RowProductsReply"/>): a vector shard's z = A_k x and b_k, a matrix shard's rows of M = A1_k X A2ᵀ and of B.
/// The fitted model is applied after the merge, since a vector problem's normaliser spans every row.
/// </summary>
public sealed record RowProductsRequest(double[] X) : ShardRequest(X);
