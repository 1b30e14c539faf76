using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// A line-search descent method written as a state machine over statistics requests, in the order of
/// scikit-learn's NewtonSolver: setup → evaluate → inner solve (<see cref="ComputeDirection"/>) → line search
/// (<see cref="LineSearch"/>) → check convergence (<see cref="Solver.Stops"/>) → finalise. Subclasses supply the
/// direction; Newton-type subclasses also name their <see cref="Curvature"/>, which brings the low-rank vectors and
/// whatever else the next model needs with every gradient, and caps the first trial step by the trust radius.
/// </summary>
public abstract class LineSearchSolver : Solver
{
    /// <summary>Armijo's sufficient-decrease fraction c₁ in L(x + t p) ≤ L(x) + c₁ t ∇Lᵀp (+ rounding slack).</summary>
    public const double ArmijoFraction = 1e-4;
    /// <summary>Each rejected trial multiplies the step by this.</summary>
    public const double BacktrackFactor = 0.5;
    /// <summary>Trials before a line search gives up.</summary>
    public const int MaxTrials = 60;
    /// <summary>Floor of norms that are divided by (a zero gradient or curvature).</summary>
    protected const double TinyNorm = NumericLimits.Tiny;

    /// <summary>The <see cref="Solver.Globalization"/> of line-search solvers.</summary>
    public const string LineSearchGlobalization = "line-search";

    public override string Globalization => LineSearchGlobalization;

    /// <summary>The curvature of a Newton-type method (null for first-order methods).</summary>
    protected virtual CurvatureSource? Curvature => null;

    /// <summary>The search direction at an iterate (must be a descent direction or it is replaced by −∇L).</summary>
    protected abstract IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction);

    /// <summary>Called after a step is accepted and the new gradient is known (L-BFGS updates its pairs here).</summary>
    protected virtual void OnAccepted(SolveRun run, Iterate previous, Iterate next) { }

    internal override IEnumerable<ShardRequest> Steps(SolveRun run)
    {
        var curvature = Curvature;
        var loop = new IterationLoop(run, curvature);
        foreach (var r in loop.Start()) yield return r;
        Iterate? previous = null;
        for (int iteration = loop.FirstIteration; ; iteration++)
        {
            var began = new Out<Iterate?>();
            foreach (var r in loop.Begin(iteration, next => { if (previous is not null) OnAccepted(run, previous, next); }, began)) yield return r;
            if (began.Value is not { } current) yield break;
            var point = loop.Point;
            var kind = current.Kind;
            var gradient = current.Gradient;
            double gradientNorm = current.GradientNorm;

            var dirOut = new Out<Direction>();
            foreach (var r in ComputeDirection(run, current, dirOut)) yield return r;
            var dir = dirOut.Value;
            var p = dir.P;
            double slope = SpanMath.Dot(gradient, p);
            double initial = dir.InitialStep;
            if (!(slope < 0) || !AllFinite(p))
            {
                // Not a descent direction (indefinite model, rounding): fall back to steepest descent.
                p = Negated(gradient);
                slope = -gradientNorm * gradientNorm;
                initial = 1.0 / Extremes.Max(gradientNorm, TinyNorm);
            }

            // Newton-type steps start no longer than the trust radius (see SolverOptions.TrustRadius).
            double stepNorm = SpanMath.Norm(p);
            bool capped = curvature is not null && initial * stepNorm > loop.Radius;
            if (capped) initial = loop.Radius / stepNorm;
            int iterationOfTrials = iteration;
            var lsOut = new Out<(PointEvaluation? Point, double Step, ScalarsReply? Reply)>();
            bool singleTrials = loop.SinglePassAt(iteration + 1), anchoredTrials = loop.AnchoredPassAt(iteration + 1);
            foreach (var r in LineSearch(run, point, slope, p, initial,
                         xt => TrialRequest(run, xt, point, iterationOfTrials, kind, singleTrials, anchoredTrials), lsOut))
                yield return r;
            if (lsOut.Value.Point is null && singleTrials)
            {
                // No decrease in single precision: the step may have changed the loss by less than a single-precision
                // pass's rounding of it (≈ 4e-8 of the loss). The same search again, its trials in double.
                foreach (var r in LineSearch(run, point, slope, p, initial,
                             xt => TrialRequest(run, xt, point, iterationOfTrials, kind, singlePrecision: false, anchored: false), lsOut))
                    yield return r;
            }
            var (next, step, nextReply) = lsOut.Value;
            loop.Accepted = nextReply is null ? null : (nextReply, point.Globals);
            if (next is null)
            {
                if (iteration == 0 && StartIsStationary(run, point, slope * initial, gradientNorm)) yield break;
                run.Finish(point.X, ExitCondition.Stalled, $"line search found no decrease at iteration {iteration} (‖∇L‖ = {gradientNorm:E3})", iteration, point.Loss, gradientNorm, loop.G0);
                yield break;
            }
            if (curvature is not null)
                loop.Radius = step == initial ? Extremes.Max(loop.Radius, 2 * step * stepNorm) : step * stepNorm;
            loop.Schedule.AfterLineSearch(step, initial, capped, dir.NegativeCurvature);
            previous = current;
            loop.Advance(next, step, dir.RowsSampled, dir.NegativeCurvature, dir.CgIterations);
        }
    }

    /// <summary>
    /// The request for a line-search trial at <paramref name="xt"/> from the accepted point (whose globals are the
    /// reference). Where the objective supports it, trials ask for loss and gradient in one pass
    /// (ScalarsRequest.WithGradient), so an accepted trial needs no separate gradient request; the curvature adds
    /// what the next model needs (a sketch).
    /// </summary>
    private ScalarsRequest TrialRequest(SolveRun run, double[] xt, PointEvaluation point, int iteration, HessianKind kind,
        bool singlePrecision, bool anchored)
    {
        var trial = new ScalarsRequest(xt, point.Globals, run.Objective.SupportsFusedPass, SinglePrecision: singlePrecision,
            Anchored: anchored);
        return Curvature?.TrialRequest(run, trial, iteration, kind) ?? trial;
    }

    /// <summary>
    /// Backtracking (Armijo) line search from step t0, multiplying by <see cref="BacktrackFactor"/> up to
    /// <see cref="MaxTrials"/> times. Non-finite trial losses count as failures (so overflowing cosh/sinh trials
    /// shrink the step). A trial is accepted when L(x + t p) ≤ L(x) + c₁·t·∇Lᵀp + slack·|L(x)|, the last term
    /// (<see cref="SolverOptions.LossRoundingSlack"/>) absorbing rounding of the loss near a minimiser.
    /// </summary>
    private static IEnumerable<ShardRequest> LineSearch(SolveRun run, PointEvaluation point, double slope, double[] p,
        double t0, Func<double[], ScalarsRequest> trialRequest, Out<(PointEvaluation?, double, ScalarsReply?)> result)
    {
        double t = t0;
        double slack = SolverOptions.LossRoundingSlack * Math.Abs(point.Loss);
        for (int trial = 0; trial < MaxTrials; trial++)
        {
            var xt = new double[p.Length];
            SpanMath.MultiplyAdd(p, t, point.X, xt);
            yield return trialRequest(xt);
            var reply = run.Reply<ScalarsReply>();
            var trialPoint = run.Objective.Evaluate(xt, reply, point.Globals);
            if (double.IsFinite(trialPoint.Loss) && trialPoint.Loss <= point.Loss + ArmijoFraction * t * slope + slack)
            {
                result.Value = (trialPoint, t, reply);
                yield break;
            }
            t *= BacktrackFactor;
        }
        result.Value = (null, 0, null);
    }
}
