namespace DistSoftmax.Core.Analysis;

/// <summary>One assumption of a convergence theorem, checked at the solution: value ≥ (or ≤) threshold.</summary>
/// <param name="Holds">Whether it holds; null when it could not be decided (not computed, or not applicable).</param>
/// <param name="Value">The measured quantity (null when not computed).</param>
/// <param name="Threshold">What the theorem asks of it.</param>
/// <param name="Note">How it was decided, in words.</param>
public sealed record RegimeCondition(bool? Holds, double? Value, double? Threshold, string Note);
