using DistSoftmax.Core;
using System.Diagnostics;
using System.Numerics.Tensors;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>One independent re-solve: the perturbed problem, the solver and the warm start.</summary>
public sealed record ResolveJob(ISensitivityProblem Problem, string Solver, double[] X0, SolverOptions Options);
