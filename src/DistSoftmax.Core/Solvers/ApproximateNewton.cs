using DistSoftmax.Core.Solvers.Curvature;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Approximate Newton with a leverage-score-sampled Hessian (<see cref="SampledGramCurvature"/>, seed 001) and a
/// line search (<see cref="DenseNewtonLineSearch"/>).
/// </summary>
public sealed class ApproximateNewton() : DenseNewtonLineSearch(SampledGramCurvature.Instance);
