using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Solvers.TrustRegion;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// A trust-region Newton method as a state machine over statistics requests: evaluate → gradient (from the accepted
/// trial's one pass where possible) → check convergence (<see cref="Solver.Stops"/>) → build the quadratic model
/// m(p) = ∇Lᵀp + ½pᵀHp from the <see cref="Curvature"/> (<see cref="BuildModel"/>) → solve the subproblem
/// min m(p), ‖p‖ ≤ Δ → trial at x + p → ratio ρ = (L(x) − L(x + p)) / (−m(p)) → radius update → accept or re-solve
/// the same model with the smaller radius. Radius update (Nocedal &amp; Wright, Algorithm 4.1):
/// ρ &lt; <see cref="ShrinkBelow"/> → Δ = <see cref="ShrinkFactor"/>·‖p‖; ρ &gt; <see cref="ExpandAbove"/> with p on
/// the boundary → Δ = <see cref="ExpandFactor"/>·Δ; the step is accepted when ρ &gt; <see cref="AcceptAbove"/>.
/// Near a minimiser both decreases fall to the loss's rounding: a step whose predicted decrease is below it is
/// accepted when the loss does not rise by more than that rounding (ρ is noise there).
/// The first radius is <see cref="SolverOptions.TrustRadius"/>; the trace's step length is ‖p‖.
/// </summary>
public abstract class TrustRegionSolver : Solver
{
    public const double AcceptAbove = 1e-4;
    public const double ShrinkBelow = 0.25;
    public const double ExpandAbove = 0.75;
    public const double ShrinkFactor = 0.25;
    public const double ExpandFactor = 2.0;
    /// <summary>Trials (re-solves with a smaller radius) in one iteration before the solve is declared stalled.</summary>
    public const int MaxTrials = 60;

    /// <summary>The <see cref="Solver.Globalization"/> of trust-region solvers.</summary>
    public const string TrustRegionGlobalization = "trust-region";

    public override string Globalization => TrustRegionGlobalization;

    /// <summary>The curvature the model is built from.</summary>
    protected abstract CurvatureSource Curvature { get; }

    /// <summary>The model at an iterate, valid for every radius up to <paramref name="radius"/>.</summary>
    protected abstract IEnumerable<ShardRequest> BuildModel(SolveRun run, Iterate current, double radius, Out<ITrustRegionModel> model);

    internal override IEnumerable<ShardRequest> Steps(SolveRun run)
    {
        var curvature = Curvature;
        var loop = new IterationLoop(run, curvature);
        foreach (var r in loop.Start()) yield return r;
        for (int iteration = loop.FirstIteration; ; iteration++)
        {
            var began = new Out<Iterate?>();
            foreach (var r in loop.Begin(iteration, null, began)) yield return r;
            if (began.Value is not { } current) yield break;
            var point = loop.Point;
            var kind = current.Kind;
            double gnorm = current.GradientNorm;
            double radius = loop.Radius;

            if (!double.IsFinite(radius)) radius = InitialUnboundedRadius(gnorm);
            var modelOut = new Out<ITrustRegionModel>();
            foreach (var r in BuildModel(run, current, radius, modelOut)) yield return r;
            var model = modelOut.Value;
            if (double.IsFinite(model.Radius)) radius = model.Radius;

            double slack = SolverOptions.LossRoundingSlack * Math.Abs(point.Loss);
            PointEvaluation? next = null;
            ScalarsReply? nextReply = null;
            TrustRegionStep? step = null;
            bool rejected = false;
            double rho = double.NaN;
            for (int trial = 0; trial < MaxTrials && next is null; trial++)
            {
                step = model.Solve(radius);
                double stepNorm = step.RegionNorm;
                if (!(step.PredictedDecrease > 0) || !AllFinite(step.P) || !(stepNorm > 0)) break;
                var xt = new double[step.P.Length];
                SpanMath.Add(point.X, step.P, xt);
                var request = new ScalarsRequest(xt, point.Globals, run.Objective.SupportsFusedPass, SinglePrecision: loop.SinglePassAt(iteration + 1));
                yield return curvature.TrialRequest(run, request, iteration, kind);
                var reply = run.Reply<ScalarsReply>();
                var trialPoint = run.Objective.Evaluate(xt, reply, point.Globals);
                rho = Ratio(point.Loss - trialPoint.Loss, step.PredictedDecrease, slack, double.IsFinite(trialPoint.Loss));
                if (rho < ShrinkBelow) radius = ShrinkFactor * stepNorm;
                else if (rho > ExpandAbove && step.OnBoundary) radius = ExpandFactor * radius;
                if (rho > AcceptAbove) (next, nextReply) = (trialPoint, reply);
                else rejected = true;
            }
            if (next is null || step is null)
            {
                double predicted = step?.PredictedDecrease ?? 0;
                if (iteration == 0 && StartIsStationary(run, point, predicted, gnorm)) yield break;
                run.Finish(point.X, ExitCondition.Stalled, $"the trust region found no decrease at iteration {iteration} (‖∇L‖ = {gnorm:E3}, radius {radius:E3})",
                    iteration, point.Loss, gnorm, loop.G0);
                yield break;
            }
            loop.Schedule.AfterTrustRegion(interior: !step.OnBoundary, predictedPoorly: rejected || rho < ShrinkBelow);
            loop.Radius = radius;
            loop.Accepted = (nextReply!, point.Globals);
            loop.Advance(next, SpanMath.Norm(step.P), model.RowsSampled, step.NegativeCurvature, model.CgIterations);
        }
    }

    /// <summary>
    /// ρ = actual / predicted decrease. A non-finite trial loss is a failure. When the predicted decrease is below
    /// the loss's rounding, the ratio is noise: the step counts as well predicted unless the loss rose by more than
    /// that rounding.
    /// </summary>
    private static double Ratio(double actual, double predicted, double slack, bool finite)
    {
        if (!finite) return double.NegativeInfinity;
        if (predicted <= slack) return actual >= -slack ? 1.0 : double.NegativeInfinity;
        return actual / predicted;
    }

    /// <summary>With no radius given (∞), the first radius is the length of a unit-scaled gradient step.</summary>
    private static double InitialUnboundedRadius(double gradientNorm) => Math.Max(gradientNorm, 1.0);
}
