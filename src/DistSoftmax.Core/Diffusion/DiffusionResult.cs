using DistSoftmax.Core.Linear;

namespace DistSoftmax.Core.Diffusion;

/// <param name="Target">The distribution whose forward marginals give the exact score: the mixture, or the empirical distribution of user samples.</param>
/// <param name="Data">The training points (held-out points excluded).</param>
/// <param name="Models">One per activation, in the order asked.</param>
/// <param name="Samples">Reverse-SDE samples from the network of lowest score error (<see cref="DiffusionExperiment.BestModel"/>; null when sampling was skipped).</param>
/// <param name="SampleFractions">Share of samples nearest each mixture component (null for user samples).</param>
/// <param name="Cancelled">
/// The run was cancelled: <paramref name="Models"/> holds the networks trained until then (the one in training at its best
/// epoch so far, exit "cancelled"; at least the first network), and no samples were drawn.
/// </param>
public sealed record DiffusionResult(DiffusionOptions Options, GaussianMixture Target, bool TargetIsMixture, DenseMatrix Data, int HeldOutPoints,
    DiffusionTimes Times, ScoreFeatures Features, int TrainingRows, double ExactScoreLoss, IReadOnlyList<ScoreModelResult> Models, DenseMatrix? Samples,
    double[]? TargetWeights, double[]? SampleFractions, double Seconds, bool Cancelled = false);
