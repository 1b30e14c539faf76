namespace DistSoftmax.Core.Sensitivity;

/// <summary>Per ε: the largest and mean ratio over the draws (the largest is the empirical Lipschitz constant).</summary>
public sealed record EpsilonSummary(double Epsilon, double MaxSolutionRatio, double MeanSolutionRatio, double MaxOutputRatio, double MeanOutputRatio);
