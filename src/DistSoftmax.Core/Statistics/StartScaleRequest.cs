namespace DistSoftmax.Core.Statistics;

/// <summary>
/// The loss of a multiple normalized softmax problem along the ray t ↦ t·X through its log-linear start X
/// (<see cref="Solvers.LogLinearStart.FitScale"/>): each shard's φ(t) = L(t·X) and its first two derivatives in t at
/// t = <paramref name="Scale"/> (<see cref="StartScaleReply"/>). M = A1 X A2ᵀ does not depend on t, so a shard that
/// caches it answers every scale after the first with element-wise work alone.
/// </summary>
public sealed record StartScaleRequest(double[] X, double Scale) : ShardRequest(X);
