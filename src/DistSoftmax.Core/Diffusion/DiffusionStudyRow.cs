namespace DistSoftmax.Core.Diffusion;

/// <summary>One trained network of a <see cref="DiffusionStudy"/>.</summary>
/// <param name="Sweep">"samples" (training points varied at the base width) or "width" (width varied at the base number of points).</param>
/// <param name="WeightedError">The σ_t²-weighted relative score error over the evaluation times.</param>
/// <param name="MiddleError">The relative score error at the middle evaluation time.</param>
/// <param name="EpochsRun">Epochs trained before early stopping (or the limit).</param>
public sealed record DiffusionStudyRow(string Sweep, string Activation, int DataPoints, int Width, double WeightedError, double MiddleError,
    int EpochsRun, int BestEpoch, string Exit);
