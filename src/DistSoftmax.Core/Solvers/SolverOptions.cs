using System.Text.Json.Serialization;
using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Options shared by all solvers. Stopping: converged when ‖∇L‖ ≤ max(AbsoluteTolerance, RelativeTolerance·‖∇L(x0)‖)
/// (‖∇L‖ at <see cref="ToleranceReference"/> instead of x0 when one is given);
/// stalled when a line search finds no decrease or the loss has not decreased for StallIterations iterations.
/// </summary>
public sealed record SolverOptions
{
    /// <summary>
    /// Relative rounding of a loss value: a change of the loss smaller than this·|L| is not trusted (line searches
    /// accept trials within it, trust regions judge ratios with it, stagnation detection ignores decreases below it).
    /// </summary>
    public const double LossRoundingSlack = 1e-12;

    public double RelativeTolerance { get; init; } = 1e-8;
    public double AbsoluteTolerance { get; init; } = 0.0;
    public int MaxIterations { get; init; } = 200;

    /// <summary>The stopping threshold on ‖∇L‖: max(AbsoluteTolerance, RelativeTolerance·‖∇L(x0)‖).</summary>
    public double StoppingTarget(double initialGradientNorm) => Kernels.Extremes.Max(AbsoluteTolerance, RelativeTolerance * initialGradientNorm);

    public int StallIterations { get; init; } = 10;
    /// <summary>Seed of every random choice (sketches, projections, row samples).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Which z-Hessian Newton-type solvers use (see <see cref="HessianMode"/>).</summary>
    public HessianMode Hessian { get; init; } = HessianMode.Auto;
    /// <summary>Line search or trust region for Newton-type solvers (see <see cref="GlobalizationMode"/>).</summary>
    public GlobalizationMode Globalization { get; init; } = GlobalizationMode.Auto;

    /// <summary>
    /// Newton-type solvers: the longest first trial step ‖t·p‖ (in the units of x) of the next line search. It starts
    /// here, doubles after a capped step is accepted as it stands and becomes the accepted length after a backtrack,
    /// so it only binds while the quadratic model is far off. It keeps the first steps from x0, where the
    /// softmax's curvature is flattest, from jumping into a saturated region (one row taking all the mass) whose
    /// vanishing gradient would read as convergence. With rows of A of norm ≈ 1 it bounds the first step's change of
    /// any z_i = a_iᵀx by about this much. PositiveInfinity turns the cap off (backtracking still shrinks it).
    /// </summary>
    public double TrustRadius { get; init; } = 10.0;

    /// <summary>Spectral accuracy ε of the sampled Hessian, (1−ε)H ⪯ H̃ ⪯ (1+ε)H.</summary>
    public double SamplingEpsilon { get; init; } = 0.5;
    /// <summary>Failure probability δ of the spectral guarantee.</summary>
    public double SamplingDelta { get; init; } = 0.01;
    /// <summary>
    /// The constant c of the sample size s = ⌈c·ε⁻² d ln(d/δ)⌉. The default 2 pays for leverage scores that are
    /// only approximated (JL projection of k columns) to a constant factor.
    /// </summary>
    public double Oversampling { get; init; } = 2.0;
    /// <summary>
    /// CountSketch rows per column of A for the sampled Newton step's first leverage estimates (m = max(factor·d, d + 1),
    /// each shard's sketch reduced to its R, merged by TSQR), and for its estimates again after a sampled Gram that does
    /// not factor. 0 (the default since the twelfth session) sketches nothing: the first sample is uniform and later
    /// estimates come from the last sampled Gram that factored (<see cref="Curvature.SampledGramCurvature"/>); the
    /// preconditioned form never sketches.
    /// </summary>
    public int SketchRowsPerColumn { get; init; } = 0;
    /// <summary>
    /// Matrix problems' approx-newton: the Kronecker factors that precondition its CG are summed over a leverage-score
    /// sample of about this many rows per column of X (s = factor·d rows of the N in expectation, each weighted by
    /// 1/p_j; <see cref="Statistics.KroneckerFactorsRequest.RowShare"/> = min(1, s/N)) instead of every row. 0 (the
    /// default) sums every row: on the generated attention-head instances every sample measured cost more CG products
    /// than its cheaper factors saved — 4096×128 29 products with every row against 32, 36 and 44 with 16, 8 and 4 rows
    /// per column, 8192×64 14 against 16 and 20, 2048×128 44 against 51 with 8 (README, #12, thirtieth session).
    /// </summary>
    public int KroneckerRowsPerColumn { get; init; } = 0;
    /// <summary>Columns k of the Gaussian projection for leverage scores; 0 means ⌈ln n⌉ clamped to [8, 32].</summary>
    public int ProjectionColumns { get; init; } = 0;
    /// <summary>Sample rows uniformly instead of by leverage score (for comparison only).</summary>
    public bool UniformSampling { get; init; } = false;

    /// <summary>L-BFGS memory.</summary>
    public int LbfgsMemory { get; init; } = 10;
    /// <summary>Newton-CG: most CG iterations per Newton step (0 means d).</summary>
    public int MaxCgIterations { get; init; } = 0;
    /// <summary>
    /// Newton-CG: ask for the inner solve's Hessian-vector products in single precision where the shards can
    /// (<see cref="Statistics.HessianVectorRequest.SinglePrecision"/>: a matrix problem's products, exact or Gauss–Newton), and
    /// the Kronecker factors that precondition it (<see cref="Statistics.KroneckerFactorsRequest.SinglePrecision"/>), and on
    /// a matrix problem the loss-and-gradient passes of the early iterates (<see cref="Solver.SinglePassGradientRatio"/>);
    /// the solve stops only on a gradient in double and every other product stays in double, so the answer's accuracy is
    /// the tolerance's.
    /// </summary>
    public bool SingleCgProducts { get; init; } = true;

    /// <summary>
    /// Multiple normalized softmax regression: start from the log-linear least-squares fit of the rows' centred log B
    /// (<see cref="LogLinearStart"/>), computed on the shards by the solve's first request, instead of x0. Off by
    /// default here; the command line turns it on for a matrix solve without --x0 (`solve --start`). Ignored when
    /// resuming (the checkpoint holds the point).
    /// </summary>
    public bool LogLinearStart { get; init; } = false;

    /// <summary>
    /// The point whose gradient norm scales the relative tolerance when the solve starts elsewhere — the problem's
    /// default start (zeros; cosh's small random start) when the caller gave x0. Measured at x0 itself, a far start's
    /// huge gradient made "1e-8 of it" a loose target that an iterate still far from the minimiser met (hyperbolic exp
    /// regression from x0 = 5·N(0, 1): "converged" at loss 3284 where the minimum is 50.95, ‖∇L‖ = 3.2e3), and a warm
    /// start's tiny one an unreachable target. Costs one pass at this point (two where the objective needs a reference
    /// for its gradient) before x0's; ignored when it equals x0, when resuming (the checkpoint holds the scale) and with
    /// the log-linear start. Null (the default) measures at x0. Not part of the report (its start says so).
    /// </summary>
    [JsonIgnore]
    public double[]? ToleranceReference { get; init; }

    /// <summary>
    /// Called once per iteration that does not end the solve, on the thread that runs the solver (a coordinator's
    /// actor thread in the cluster), with the state after that iteration; a solve started with it as
    /// <see cref="ResumeFrom"/> continues exactly. The callback must return at once (hand the checkpoint to another
    /// thread to write it). Null (the default) takes no checkpoints. Not part of the report.
    /// </summary>
    [JsonIgnore]
    public Action<SolverCheckpoint>? Checkpoint { get; init; }

    /// <summary>
    /// Resume from this checkpoint instead of starting at x0: the solve continues after the checkpoint's iteration
    /// with its L-BFGS pairs, trust radius, relative-tolerance base and trace (same solver and problem required,
    /// <see cref="SolverCheckpoint.CheckFits"/>). Not part of the report.
    /// </summary>
    [JsonIgnore]
    public SolverCheckpoint? ResumeFrom { get; init; }

    public SolverOptions Validate()
    {
        Check(RelativeTolerance >= 0 && double.IsFinite(RelativeTolerance), nameof(RelativeTolerance), RelativeTolerance, "must be a finite number ≥ 0");
        Check(AbsoluteTolerance >= 0 && double.IsFinite(AbsoluteTolerance), nameof(AbsoluteTolerance), AbsoluteTolerance, "must be a finite number ≥ 0");
        Check(MaxIterations >= 0, nameof(MaxIterations), MaxIterations, "must be ≥ 0");
        Check(StallIterations >= 1, nameof(StallIterations), StallIterations, "must be ≥ 1");
        Check(TrustRadius > 0, nameof(TrustRadius), TrustRadius, "must be > 0");
        Check(SamplingEpsilon > 0 && SamplingEpsilon < 1, nameof(SamplingEpsilon), SamplingEpsilon, "must be in (0, 1)");
        Check(SamplingDelta > 0 && SamplingDelta < 1, nameof(SamplingDelta), SamplingDelta, "must be in (0, 1)");
        Check(Oversampling > 0 && double.IsFinite(Oversampling), nameof(Oversampling), Oversampling, "must be > 0");
        Check(SketchRowsPerColumn >= 0, nameof(SketchRowsPerColumn), SketchRowsPerColumn, "must be ≥ 0");
        Check(KroneckerRowsPerColumn >= 0, nameof(KroneckerRowsPerColumn), KroneckerRowsPerColumn, "must be ≥ 0");
        Check(ProjectionColumns >= 0, nameof(ProjectionColumns), ProjectionColumns, "must be ≥ 0");
        Check(LbfgsMemory >= 1, nameof(LbfgsMemory), LbfgsMemory, "must be ≥ 1");
        Check(MaxCgIterations >= 0, nameof(MaxCgIterations), MaxCgIterations, "must be ≥ 0");
        return this;
    }

    /// <summary>Throws a <see cref="ParameterException"/> naming the property unless <paramref name="ok"/>.</summary>
    private static void Check(bool ok, string parameter, object value, string requirement)
    {
        if (!ok) throw new ParameterException(parameter, value, requirement);
    }

    /// <summary>s = ⌈c·ε⁻²·d·ln(d/δ)⌉ (c = Oversampling), the documented expected number of sampled rows.</summary>
    public double SampleSize(int d) =>
        Math.Ceiling(Oversampling * d * Math.Log(Math.Max(d, 2) / SamplingDelta) / (SamplingEpsilon * SamplingEpsilon));

    public int ProjectionColumnsFor(long rows) =>
        ProjectionColumns > 0 ? ProjectionColumns : Math.Clamp((int)Math.Ceiling(Math.Log(Math.Max(rows, 3))), 8, 32);
}
