using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The state at an accepted iterate, handed to the direction or model step: the point, ∇L (d), the low-rank vectors
/// Aᵀq_j (LowRankCount × d, row-major; empty for first-order solvers), ‖∇L‖, and the curvature model of this iteration.
/// </summary>
public sealed record Iterate(int Iteration, PointEvaluation Point, double[] Gradient, double[] LowRank, double GradientNorm, HessianKind Kind);
