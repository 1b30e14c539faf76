namespace DistSoftmax.Core.Solvers;

/// <summary>One row of the per-iteration trace (iteration 0 is the starting point).</summary>
/// <param name="StepLength">Accepted line-search step t; for trust-region solvers the length ‖p‖ of the accepted step (0 at iteration 0).</param>
/// <param name="RowsSampled">Rows in the sampled Hessian of this iteration (0 for solvers that do not sample).</param>
/// <param name="Seconds">Wall-clock seconds since the solve started.</param>
/// <param name="Requests">Shard requests issued so far (each a pass over the rows or part of one).</param>
/// <param name="NegativeCurvature">Most negative eigenvalue of the model Hessian that the step had to flip (0 when it was positive definite).</param>
/// <param name="CgIterations">Hessian-vector products CG spent on the step that led here (Newton-CG; 0 otherwise).</param>
public sealed record TraceEntry(int Iteration, double Loss, double GradientNorm, double StepLength, long RowsSampled,
    double Seconds, long Requests, double NegativeCurvature = 0.0, int CgIterations = 0);
