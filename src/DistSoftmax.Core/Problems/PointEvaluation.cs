namespace DistSoftmax.Core.Problems;

/// <summary>The loss of x and the global scalars that make the phase-2 row terms local.</summary>
public sealed record PointEvaluation(double[] X, double Loss, double[] Globals);
