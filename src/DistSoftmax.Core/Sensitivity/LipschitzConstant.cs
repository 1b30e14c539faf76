namespace DistSoftmax.Core.Sensitivity;

/// <summary>An operator norm over perturbations of unit joint Frobenius norm, and how it was computed.</summary>
/// <param name="Method">"lanczos" (<see cref="OperatorNorm"/>, <paramref name="Steps"/> Lanczos steps) or "closed-form".</param>
public sealed record LipschitzConstant(double Value, string Method, int Steps);
