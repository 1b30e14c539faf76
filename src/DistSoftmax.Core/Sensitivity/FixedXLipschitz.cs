namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The Lipschitz constants in the data θ at a fixed x that the papers state, each the operator norm over
/// ‖Δθ‖_F = 1 of the derivative at x: of the model output f (the attention row or rows), of the loss L and of ∇L.
/// </summary>
public sealed record FixedXLipschitz(LipschitzConstant Output, LipschitzConstant Loss, LipschitzConstant Gradient);
