using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers.Checkpoints;

/// <summary>
/// Everything that makes the continuation of a solve after iteration <see cref="Iteration"/> exact: the accepted
/// iterate (x, L(x), the objective's global scalars, ∇L, the low-rank vectors Aᵀq_j and the sketch that came with the
/// gradient), the curvature model of that iteration, ‖∇L(x0)‖ of the relative tolerance, the stagnation monitor, the
/// curvature schedule, the trust radius, the solver's own state (L-BFGS pairs, a Kronecker preconditioner's factors),
/// and the trace, request count and solver seconds so far. A solve resumed from it
/// (<see cref="SolverOptions.ResumeFrom"/>) issues the same requests and reaches bit-identical iterates, since every
/// random draw is keyed by (seed, iteration, purpose). Taken after the stopping rules of an iteration found the solve
/// still running (<see cref="SolverOptions.Checkpoint"/>). Written and read by <see cref="CheckpointFormat"/>.
/// Immutable: its arrays are never written to after it is made.
/// </summary>
public sealed record SolverCheckpoint
{
    /// <summary>The solver's name (<see cref="Solver.Name"/>) and globalisation (<see cref="Solver.Globalization"/>).</summary>
    public required string Solver { get; init; }
    public required string Globalization { get; init; }
    /// <summary>Unknowns d and rows n of the objective it was taken on (checked on resume).</summary>
    public required int Dimension { get; init; }
    public required long Rows { get; init; }

    /// <summary>The accepted iteration this is the state after (its trace row is the last of <see cref="Trace"/>).</summary>
    public required int Iteration { get; init; }
    public required double[] X { get; init; }
    public required double Loss { get; init; }
    public required double[] Globals { get; init; }
    /// <summary>∇L (d), the low-rank vectors (LowRankCount × d, row-major) and the gradient pass's sketch.</summary>
    public required double[] Gradient { get; init; }
    public required double[] LowRank { get; init; }
    public required double[] Sketch { get; init; }
    public required int SketchColumns { get; init; }
    public required double GradientNorm { get; init; }
    /// <summary>The curvature model of this iteration (the schedule's current kind).</summary>
    public required HessianKind Kind { get; init; }

    /// <summary>‖∇L(x0)‖, the base of the relative tolerance.</summary>
    public required double InitialGradientNorm { get; init; }
    /// <summary>The stagnation monitor: its reference gradient norm and the iterations without progress.</summary>
    public required double StagnationReference { get; init; }
    public required int StagnationQuiet { get; init; }
    /// <summary>The curvature schedule's Gauss–Newton cut-backs so far.</summary>
    public required int ScheduleCutBacks { get; init; }
    /// <summary>The trust radius of the next step (line search: the cap of the first trial; trust region: Δ).</summary>
    public required double Radius { get; init; }
    /// <summary>The solver's own state (null when it keeps none).</summary>
    public CheckpointState? SolverState { get; init; }

    public required IReadOnlyList<TraceEntry> Trace { get; init; }
    public required long Requests { get; init; }
    public required double Seconds { get; init; }

    /// <summary>The accepted iterate as a solver sees it.</summary>
    internal Iterate ToIterate() => new(Iteration, new PointEvaluation(X, Loss, Globals), Gradient, LowRank, GradientNorm, Kind);

    /// <summary>The gradient reply of the accepted iterate (what the curvature saw, <c>CurvatureSource.OnGradient</c>).</summary>
    internal GradientReply ToGradientReply() => new(Gradient, LowRank, Sketch, SketchColumns);

    /// <summary>Throws a <see cref="CheckpointFormatException"/> unless this checkpoint belongs to a solve of that solver on that objective.</summary>
    public void CheckFits(Solver solver, IObjective objective)
    {
        if (!string.Equals(Solver, solver.Name, StringComparison.Ordinal) || !string.Equals(Globalization, solver.Globalization, StringComparison.Ordinal))
            throw new CheckpointFormatException($"the checkpoint is of solver {Solver} ({Globalization}), not {solver.Name} ({solver.Globalization})");
        if (Dimension != objective.Dimension || Rows != objective.Rows)
            throw new CheckpointFormatException($"the checkpoint is of a problem with {Rows} rows and {Dimension} unknowns, not {objective.Rows} and {objective.Dimension}");
        if (X.Length != Dimension || Gradient.Length != Dimension)
            throw new CheckpointFormatException($"the checkpoint's x or gradient does not have {Dimension} entries");
        if (Trace.Count == 0 || Trace[^1].Iteration != Iteration)
            throw new CheckpointFormatException($"the checkpoint's trace does not end at its iteration {Iteration}");
    }
}
