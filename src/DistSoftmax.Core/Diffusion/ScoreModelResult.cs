using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Diffusion;

/// <summary>One trained score network of a diffusion run.</summary>
/// <param name="RelativeErrors">Relative L2 score error at each evaluation time (t descending).</param>
/// <param name="WeightedError">The σ_t²-weighted relative error over all evaluation times (<see cref="DenoisingScoreMatching.ScoreErrors"/>).</param>
/// <param name="BestEpoch">The epoch whose weights were kept (lowest held-out loss).</param>
public sealed record ScoreModelResult(Activation Activation, ScoreNetwork Network, double LearningRate, IReadOnlyList<EpochRecord> History,
    double[] RelativeErrors, double WeightedError, int BestEpoch, SolverResult Training, double Seconds);
