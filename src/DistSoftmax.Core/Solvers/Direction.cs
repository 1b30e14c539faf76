namespace DistSoftmax.Core.Solvers;

/// <summary>What a line-search solver's direction step produced.</summary>
/// <param name="P">The search direction (d values).</param>
/// <param name="InitialStep">The first trial step t of the line search.</param>
/// <param name="RowsSampled">Rows in the sampled Hessian behind the direction (0 when none).</param>
/// <param name="NegativeCurvature">Most negative eigenvalue of the model that had to be modified (0 when positive definite).</param>
/// <param name="CgIterations">Hessian-vector products CG spent on the direction (0 for direct solves).</param>
public sealed record Direction(double[] P, double InitialStep, long RowsSampled = 0, double NegativeCurvature = 0.0, int CgIterations = 0);
