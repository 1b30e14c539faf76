using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The state at an accepted iterate, handed to the direction or model step: the point, ∇L (d), the low-rank vectors
/// Aᵀq_j (LowRankCount × d, row-major; empty for first-order solvers), ‖∇L‖, and the curvature model of this iteration.
/// <paramref name="SinglePass"/>: the loss and gradient came from a single-precision pass
/// (<see cref="Statistics.ScalarsRequest.SinglePrecision"/>, <see cref="Solver.SinglePassGradientRatio"/>): the
/// iterate's own requests say so (<see cref="Statistics.HessianVectorRequest.SinglePassIterate"/>) and its gradient
/// does not stop the solve.
/// </summary>
public sealed record Iterate(int Iteration, PointEvaluation Point, double[] Gradient, double[] LowRank, double GradientNorm, HessianKind Kind,
    bool SinglePass = false);
