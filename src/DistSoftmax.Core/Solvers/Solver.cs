using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The contract every solver keeps: a name, and the whole method as a sequence of statistics requests
/// (<see cref="Steps"/>), each answered through <see cref="SolveRun.Submit"/> before the next is produced. The two
/// globalisation templates, <see cref="LineSearchSolver"/> and <see cref="TrustRegionSolver"/>, are siblings under it;
/// iterative methods of another shape (the network trainers of Networks/) implement <see cref="Steps"/> directly and
/// still run through every driver. Solvers hold no per-solve state (the run does), so one instance can drive any
/// number of solves.
/// </summary>
public abstract partial class Solver
{
    public abstract string Name { get; }

    /// <summary>
    /// A start whose ‖∇L‖ ≤ this·ε·max(1, √(2|L|)) is a stationary point to rounding: L = ½‖r‖², so ∇L = Jᵀr sums terms
    /// of the residual r (‖r‖ = √(2L)) and carries rounding errors of order ε‖r‖ (times the Jacobian's scale), no
    /// relative tolerance on it can be met, and the solve reports converged with that reason. (Proportional to |L|
    /// itself, as it was, the threshold let a start with ‖∇L‖ = 5.7e14 at L = 4.9e28 pass as stationary: hyperbolic exp
    /// regression, `generate --problem hyperbolic --unit exp --x-scale 10`. A start it misses still ends as stationary
    /// when no step lowers the loss, <see cref="StartIsStationary"/>.)
    /// </summary>
    public const double StationaryStartFactor = 1000;

    /// <summary>How this solver globalises its steps ("line-search", "trust-region"; "none" for fixed schedules).</summary>
    public virtual string Globalization => "none";

    /// <summary>Begins a solve; drive it with <see cref="SolveRun.Start"/> / <see cref="SolveRun.Submit"/>.</summary>
    public SolveRun Start(IObjective objective, double[] x0, SolverOptions options, CancellationToken cancellation = default) =>
        new(this, objective, x0, options, cancellation);

    /// <summary>The whole method as a sequence of requests.</summary>
    internal abstract IEnumerable<ShardRequest> Steps(SolveRun run);

    /// <summary>This solve's state of type T, created on first use (solvers themselves hold no per-solve state).</summary>
    protected static T StateOf<T>(SolveRun run) where T : class, new() => (T)(run.SolverState ??= new T());

    /// <summary>
    /// A Newton-CG solve of a matrix problem with single-precision CG products (<see cref="SolverOptions.SingleCgProducts"/>)
    /// takes x0's loss-and-gradient pass, and each line-search or trust-region trial from an iterate whose ‖∇L‖ is at
    /// least this fraction of ‖∇L(x0)‖ (the relative tolerance's base), in single precision
    /// (<see cref="ScalarsRequest.SinglePrecision"/>; such an iterate's <see cref="Iterate.SinglePass"/>): its gradient is
    /// then within ≈ 1e-7·‖∇L(x0)‖, far inside the forcing term of the step it drives. On the generated 2048–8192-row
    /// instances (seed 7, d = 64 and 128) that is the first three passes, with the same iterations, CG products and final
    /// loss as passes in double, and those passes 20–45 % cheaper (README, #12, thirty-first session). A line search whose
    /// single-precision trials find no decrease searches again in double (<see cref="LineSearchSolver"/>). 0.05 (the
    /// scaled log-linear start's x0 is at ≈ 6 % of ‖∇L(0)‖, so its trial would run in single precision) measured the same
    /// iterations, products and solve times (thirty-sixth session).
    /// </summary>
    public const double SinglePassGradientRatio = 0.1;

    /// <summary>
    /// Below <see cref="SinglePassGradientRatio"/>, a trial from an iterate whose ‖∇L‖ is at least this fraction of
    /// ‖∇L(x0)‖ still runs in single precision when the step is predicted to decrease the loss by at least
    /// <see cref="SinglePassRelativeDecrease"/> of it: the gradient is then within ≈ 1e-5 of itself, inside the forcing
    /// term (η ≥ 0.01 there), and the line search compares losses whose difference is over a thousand times the single
    /// pass's rounding of the loss (≈ 4e-8 of it). Without the decrease test, small instances whose step from such an
    /// iterate converged so far that the loss changed by less than that rounding found no decrease.
    /// </summary>
    public const double SinglePassDecreaseGradientRatio = 0.01;

    /// <summary>The predicted decrease, relative to the loss, above which <see cref="SinglePassDecreaseGradientRatio"/> applies.</summary>
    public const double SinglePassRelativeDecrease = 1e-4;

    /// <summary>A trial is also single precision only from an iterate whose ‖∇L‖ is above this multiple of the stopping
    /// target, so that a gradient at the target is always confirmed by a pass in double.</summary>
    public const double SinglePassTargetMultiple = 1000;

    /// <summary>
    /// An anchored pass (<see cref="ScalarsRequest.Anchored"/>: a trial in double precision that a shard answers from
    /// its values and gradient at an earlier x, the change's products in single precision) rounds its gradient to about
    /// this multiple of ‖∇L(x_a) − ∇L(x)‖ (measured 1.8–2.0e-7 in NumPy on the generated 2048×64 instance, steps of
    /// 1e-2 to 1e-5 of ‖x*‖; docs/MATH.md, "Anchored passes"). Such errors add up along the shards' chain of anchors,
    /// in a Newton solve a geometric series led by its first step.
    /// </summary>
    public const double AnchoredPassErrorRatio = 2e-7;

    /// <summary>A double-precision trial from an iterate k is anchored when <see cref="AnchoredPassErrorRatio"/>·‖∇L_k‖
    /// (the change a Newton step makes) is at most this share of the stopping target.</summary>
    public const double AnchoredPassTargetShare = 0.1;

    /// <summary>
    /// The stopping rules every iterative solver shares, checked at each accepted iterate in this order: diverged
    /// (non-finite loss or gradient), converged (‖∇L‖ ≤ max(AbsoluteTolerance, RelativeTolerance·‖∇L(x0)‖); not on a
    /// gradient from a single-precision pass, <paramref name="singlePass"/>: the next iterate's, in double, decides),
    /// stalled (no progress for StallIterations iterations, see <see cref="StagnationMonitor"/>), cancelled, and
    /// max-iterations. Finishes the run and returns true when one applies.
    /// </summary>
    private protected static bool Stops(SolveRun run, int iteration, PointEvaluation point, double gradientNorm, double g0,
        StagnationMonitor monitor, double previousLoss, bool singlePass = false)
    {
        var opts = run.Options;
        if (!double.IsFinite(point.Loss) || !double.IsFinite(gradientNorm))
        {
            run.Finish(point.X, ExitCondition.Diverged, $"loss or gradient is not finite at iteration {iteration}", iteration, point.Loss, gradientNorm, g0);
            return true;
        }
        if (iteration == 0 && gradientNorm > 0 && gradientNorm <= StationaryStartFactor * NumericLimits.MachineEpsilon * Extremes.Max(1, Math.Sqrt(2 * Math.Abs(point.Loss))))
        {
            run.Finish(point.X, ExitCondition.Converged, $"the gradient at the start is zero to rounding (‖∇L‖ = {gradientNorm:E3} ≤ " +
                $"{StationaryStartFactor}·ε·max(1, √(2|L|))): x0 is a stationary point", iteration, point.Loss, gradientNorm, g0);
            return true;
        }
        // Every loss here is a sum of squares (plus ½‖W∘Ax‖²): L = 0 is a global minimiser, and from it no trial can
        // lower the loss (the line search's rounding slack 1e-12·|L| is 0 too), so it is converged whatever ‖∇L‖'s
        // rounding says (a planted normalized instance at --tol 1e-12 had ended "stalled" at L = 0, ‖∇L‖ = 3.4e-15).
        if (point.Loss == 0)
        {
            run.Finish(point.X, ExitCondition.Converged, $"the loss is 0: a global minimiser (‖∇L‖ = {gradientNorm:E3})", iteration, point.Loss, gradientNorm, g0);
            return true;
        }
        double target = opts.StoppingTarget(g0);
        if (gradientNorm <= target && !singlePass)
        {
            run.Finish(point.X, ExitCondition.Converged, $"‖∇L‖ = {gradientNorm:E3} ≤ {target:E3}", iteration, point.Loss, gradientNorm, g0);
            return true;
        }
        if (iteration > 0 && monitor.Observe(previousLoss, point.Loss, gradientNorm))
        {
            run.Finish(point.X, ExitCondition.Stalled, $"no progress in {opts.StallIterations} iterations (the loss fell by less than its rounding " +
                $"and ‖∇L‖ = {gradientNorm:E3} did not halve)", iteration, point.Loss, gradientNorm, g0);
            return true;
        }
        if (run.CancelRequested)
        {
            run.Finish(point.X, ExitCondition.Cancelled, "cancelled", iteration, point.Loss, gradientNorm, g0);
            return true;
        }
        if (iteration >= opts.MaxIterations)
        {
            run.Finish(point.X, ExitCondition.MaxIterations, $"reached {opts.MaxIterations} iterations with ‖∇L‖ = {gradientNorm:E3} > {target:E3}", iteration, point.Loss, gradientNorm, g0);
            return true;
        }
        return false;
    }

    /// <summary>
    /// When no step from the start point lowers the loss and the decrease the first trial predicted is below the
    /// loss's rounding, the start's gradient is zero to rounding: x0 is a stationary point, reported as converged
    /// (a relative tolerance on ‖∇L(x0)‖ ≈ 0 could never be met). Returns true when it finished the run.
    /// </summary>
    private protected static bool StartIsStationary(SolveRun run, PointEvaluation point, double predictedDecrease, double gradientNorm)
    {
        double rounding = SolverOptions.LossRoundingSlack * Math.Abs(point.Loss);
        if (!(point.Loss == 0 || Math.Abs(predictedDecrease) <= rounding)) return false;
        run.Finish(point.X, ExitCondition.Converged, point.Loss == 0
                ? $"the loss is 0 at the start (a global minimiser; ‖∇L‖ = {gradientNorm:E3})"
                : $"the gradient at the start is zero to rounding (‖∇L‖ = {gradientNorm:E3}; predicted decrease {Math.Abs(predictedDecrease):E3} ≤ the loss's rounding {rounding:E3}): x0 is a stationary point",
            0, point.Loss, gradientNorm, gradientNorm);
        return true;
    }

    /// <summary>
    /// The state after an accepted iteration that did not end the solve (<see cref="IterationLoop.Begin"/> takes it
    /// right after <see cref="Stops"/>): the iterate and its gradient reply, ‖∇L(x0)‖, the monitor, the schedule and the radius,
    /// plus what the run holds (solver state, trace, requests, seconds).
    /// </summary>
    private protected static SolverCheckpoint Snapshot(SolveRun run, Iterate current, GradientReply reply, double g0,
        StagnationMonitor monitor, CurvatureSchedule schedule, double radius) => new()
    {
        Solver = run.Solver.Name, Globalization = run.Solver.Globalization,
        Dimension = run.Objective.Dimension, Rows = run.Objective.Rows,
        Iteration = current.Iteration, X = current.Point.X, Loss = current.Point.Loss, Globals = current.Point.Globals,
        Gradient = current.Gradient, LowRank = current.LowRank, Sketch = reply.Sketch, SketchColumns = reply.SketchColumns,
        GradientNorm = current.GradientNorm, Kind = current.Kind, InitialGradientNorm = g0,
        StagnationReference = monitor.Reference, StagnationQuiet = monitor.Quiet, ScheduleCutBacks = schedule.CutBacks,
        Radius = radius, SolverState = run.SolverStateCheckpoint(),
        Trace = run.Trace.ToArray(), Requests = run.Requests, Seconds = run.Seconds,
    };

    /// <summary>
    /// The accepted iterate of a checkpoint, with the curvature told its gradient reply again (the sketch it keeps),
    /// so the resumed solve continues from the point right after <see cref="Snapshot"/>.
    /// </summary>
    private protected static Iterate Resumed(SolveRun run, SolverCheckpoint checkpoint, CurvatureSource? curvature)
    {
        curvature?.OnGradient(run, checkpoint.ToGradientReply());
        return checkpoint.ToIterate();
    }

    protected internal static bool AllFinite(ReadOnlySpan<double> v)
    {
        foreach (var x in v) if (!double.IsFinite(x)) return false;
        return true;
    }

    protected static double[] Negated(double[] v)
    {
        var r = new double[v.Length];
        SpanMath.Negate(v, r);
        return r;
    }
}
