using DistSoftmax.Core.Solvers.Curvature;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Exact Newton with a line search: H = Aᵀ diag(D + w²) A (one Gram pass) + the exact low-rank part
/// (<see cref="ExactGramCurvature"/>), globalised by <see cref="DenseNewtonLineSearch"/>.
/// </summary>
public sealed class Newton() : DenseNewtonLineSearch(ExactGramCurvature.Instance);
