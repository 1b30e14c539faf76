using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>One independent re-solve: the perturbed problem, the solver and the warm start.</summary>
public sealed record ResolveJob(ISensitivityProblem Problem, string Solver, double[] X0, SolverOptions Options);
