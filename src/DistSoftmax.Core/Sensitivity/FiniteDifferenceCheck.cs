namespace DistSoftmax.Core.Sensitivity;

/// <summary>A re-solve at θ + εΔ* along the worst direction Δ*: <paramref name="Ratio"/> = ‖x*(θ + εΔ*) − x*(θ)‖/ε.</summary>
/// <param name="RelativeDifference">|Ratio − worst-case constant| / worst-case constant (O(ε) plus the solves' error/ε).</param>
public sealed record FiniteDifferenceCheck(double Epsilon, double Ratio, double RelativeDifference, string Exit, int Iterations, double GradientNorm);
