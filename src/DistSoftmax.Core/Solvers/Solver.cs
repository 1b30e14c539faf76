using System.Numerics.Tensors;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>Holder for a value produced by a nested solver step (iterators cannot return values).</summary>
public sealed class Out<T> { public T Value = default!; }

/// <summary>What a solver's direction step produced.</summary>
public sealed record Direction(double[] P, double InitialStep, long RowsSampled = 0, double NegativeCurvature = 0.0);

/// <summary>The state at an accepted iterate, handed to the direction step; Kind is the curvature model of this iteration.</summary>
public sealed record Iterate(int Iteration, PointEvaluation Point, double[] Gradient, double[] LowRank, double GradientNorm, HessianKind Kind);

/// <summary>
/// A line-search descent method written as a state machine over statistics requests, in the order of
/// scikit-learn's NewtonSolver: setup → evaluate → inner solve (direction) → line search → check convergence →
/// finalise. Subclasses supply the direction; everything else (stopping, trace, globalisation) is shared.
/// </summary>
public abstract class Solver
{
    public abstract string Name { get; }

    /// <summary>Whether the gradient request should also return the low-rank vectors Aᵀq_j.</summary>
    protected virtual bool NeedsLowRank => false;

    /// <summary>
    /// The request for a line-search trial at <paramref name="xt"/> from the accepted point (whose globals are the
    /// reference). Where the objective supports it, trials ask for loss and gradient in one pass
    /// (ScalarsRequest.WithGradient), so an accepted trial needs no separate gradient request; for objectives whose
    /// low-rank vectors are combinations of the gradient basis the same pass gives them too. Solvers that need more
    /// at the next iterate (a sketch) add it here.
    /// </summary>
    protected virtual ScalarsRequest TrialRequest(SolveRun run, double[] xt, PointEvaluation point, int iteration, HessianKind kind) =>
        new(xt, point.Globals, run.Objective.SupportsFusedPass);

    /// <summary>Whether a gradient reply assembled from an accepted trial has everything the next direction needs.</summary>
    protected virtual bool IsComplete(SolveRun run, GradientReply fused) => true;

    /// <summary>Begins a solve; drive it with <see cref="SolveRun.Start"/> / <see cref="SolveRun.Submit"/>.</summary>
    public SolveRun Start(IObjective objective, double[] x0, SolverOptions options, CancellationToken cancellation = default) =>
        new(this, objective, x0, options, cancellation);

    /// <summary>Extra statistics to fold into the gradient request (e.g. a sketch).</summary>
    protected virtual GradientRequest GradientRequestFor(SolveRun run, PointEvaluation point, int iteration, HessianKind kind) =>
        new(point.X, point.Globals, kind, NeedsLowRank);

    /// <summary>Called with the merged gradient reply before the direction step.</summary>
    protected virtual void OnGradient(SolveRun run, GradientReply reply) { }

    /// <summary>The search direction at an iterate (must be a descent direction or it is replaced by −∇L).</summary>
    /// <remarks>Line-search solvers override this; solvers that replace <see cref="Steps"/> (the network trainers) need not.</remarks>
    protected virtual IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction) =>
        throw new NotSupportedException($"{Name} does not compute line-search directions");

    /// <summary>Called after a step is accepted and the new gradient is known (L-BFGS updates its pairs here).</summary>
    protected virtual void OnAccepted(SolveRun run, Iterate previous, Iterate next) { }

    /// <summary>This solve's state of type T, created on first use (solvers themselves hold no per-solve state).</summary>
    protected static T StateOf<T>(SolveRun run) where T : class, new() => (T)(run.SolverState ??= new T());

    /// <summary>
    /// The whole method as a sequence of requests (each answered through <see cref="SolveRun.Submit"/> before the
    /// next is produced). The default is the line-search loop; iterative methods of another shape (the network
    /// trainers of Networks/) override it and still run through every driver.
    /// </summary>
    internal virtual IEnumerable<ShardRequest> Steps(SolveRun run)
    {
        var opts = run.Options;
        var x = run.X0;
        yield return new ScalarsRequest(x);
        var point = run.Objective.Evaluate(x, run.Reply<ScalarsReply>());
        double g0 = double.NaN, lastStep = 0;
        long lastRows = 0;
        double lastCurvature = 0;
        int noDecrease = 0;
        Iterate? previous = null;
        var kind = opts.Hessian == HessianMode.Exact ? HessianKind.Exact : HessianKind.GaussNewton;
        // The accepted trial's one-pass reply and the reference it was computed against.
        (ScalarsReply Reply, double[] Reference)? accepted = null;
        double radius = opts.TrustRadius;
        for (int iteration = 0; ; iteration++)
        {
            GradientReply gr;
            var fused = accepted is { } a ? FusedGradientReply(run, point, a.Reply, a.Reference, kind) : null;
            if (fused is not null && AllFinite(fused.Gradient) && IsComplete(run, fused))
                gr = fused;
            else
            {
                yield return GradientRequestFor(run, point, iteration, kind);
                gr = run.Reply<GradientReply>();
            }
            OnGradient(run, gr);
            double gnorm = TensorPrimitives.Norm<double>(gr.Gradient);
            if (iteration == 0) g0 = gnorm;
            var current = new Iterate(iteration, point, gr.Gradient, gr.LowRank, gnorm, kind);
            if (previous is not null) OnAccepted(run, previous, current);
            run.Record(new TraceEntry(iteration, point.Loss, gnorm, lastStep, lastRows, run.Seconds, run.Requests, lastCurvature));

            if (!double.IsFinite(point.Loss) || !double.IsFinite(gnorm))
            {
                run.Finish(point.X, ExitCondition.Diverged, $"loss or gradient is not finite at iteration {iteration}", iteration, point.Loss, gnorm, g0);
                yield break;
            }
            double target = Math.Max(opts.AbsoluteTolerance, opts.RelativeTolerance * g0);
            if (gnorm <= target)
            {
                run.Finish(point.X, ExitCondition.Converged, $"‖∇L‖ = {gnorm:E3} ≤ {target:E3}", iteration, point.Loss, gnorm, g0);
                yield break;
            }
            if (run.CancelRequested)
            {
                run.Finish(point.X, ExitCondition.Cancelled, "cancelled", iteration, point.Loss, gnorm, g0);
                yield break;
            }
            if (iteration >= opts.MaxIterations)
            {
                run.Finish(point.X, ExitCondition.MaxIterations, $"reached {opts.MaxIterations} iterations with ‖∇L‖ = {gnorm:E3} > {target:E3}", iteration, point.Loss, gnorm, g0);
                yield break;
            }

            var dirOut = new Out<Direction>();
            foreach (var r in ComputeDirection(run, current, dirOut)) yield return r;
            var dir = dirOut.Value;
            var p = dir.P;
            double slope = TensorPrimitives.Dot<double>(gr.Gradient, p);
            double initial = dir.InitialStep;
            if (!(slope < 0) || !AllFinite(p))
            {
                // Not a descent direction (indefinite model, rounding): fall back to steepest descent.
                p = new double[p.Length];
                TensorPrimitives.Negate(gr.Gradient, p);
                slope = -gnorm * gnorm;
                initial = 1.0 / Math.Max(gnorm, 1e-300);
            }

            // Newton-type steps start no longer than the trust radius (see SolverOptions.TrustRadius).
            double stepNorm = TensorPrimitives.Norm<double>(p);
            bool capped = NeedsLowRank && initial * stepNorm > radius;
            if (capped) initial = radius / stepNorm;
            var lsOut = new Out<(PointEvaluation? Point, double Step, ScalarsReply? Reply)>();
            foreach (var r in LineSearch(run, point, slope, p, initial, xt => TrialRequest(run, xt, point, iteration, kind), lsOut))
                yield return r;
            var (next, step, nextReply) = lsOut.Value;
            if (next is not null && NeedsLowRank)
                radius = step == initial ? Math.Max(radius, 2 * step * stepNorm) : step * stepNorm;
            accepted = nextReply is null ? null : (nextReply, point.Globals);
            if (next is null)
            {
                run.Finish(point.X, ExitCondition.Stalled, $"line search found no decrease at iteration {iteration} (‖∇L‖ = {gnorm:E3})", iteration, point.Loss, gnorm, g0);
                yield break;
            }
            noDecrease = next.Loss < point.Loss ? 0 : noDecrease + 1;
            if (noDecrease >= opts.StallIterations)
            {
                run.Finish(next.X, ExitCondition.Stalled, $"no decrease of the loss in {opts.StallIterations} iterations", iteration + 1, next.Loss, gnorm, g0);
                yield break;
            }
            if (opts.Hessian == HessianMode.Auto)
            {
                if (kind == HessianKind.GaussNewton && step == 1.0 && !capped && dir.NegativeCurvature == 0) kind = HessianKind.Exact;
                else if (kind == HessianKind.Exact && dir.NegativeCurvature < 0) kind = HessianKind.GaussNewton;
            }
            previous = current;
            point = next;
            lastStep = step;
            lastRows = dir.RowsSampled;
            lastCurvature = dir.NegativeCurvature;
        }
    }

    /// <summary>
    /// Backtracking (Armijo) line search from step t0 halving up to 60 times. Non-finite trial losses count as
    /// failures (so overflowing cosh/sinh trials shrink the step). A trial is accepted when
    /// L(x + t p) ≤ L(x) + 1e-4·t·∇Lᵀp + 1e-12·|L(x)|; the last term absorbs rounding of the loss near a minimiser.
    /// </summary>
    private static IEnumerable<ShardRequest> LineSearch(SolveRun run, PointEvaluation point, double slope, double[] p,
        double t0, Func<double[], ScalarsRequest> trialRequest, Out<(PointEvaluation?, double, ScalarsReply?)> result)
    {
        double t = t0;
        double slack = 1e-12 * Math.Abs(point.Loss);
        for (int trial = 0; trial < 60; trial++)
        {
            var xt = new double[p.Length];
            TensorPrimitives.MultiplyAdd(p, t, point.X, xt);
            yield return trialRequest(xt);
            var reply = run.Reply<ScalarsReply>();
            var trialPoint = run.Objective.Evaluate(xt, reply, point.Globals);
            if (double.IsFinite(trialPoint.Loss) && trialPoint.Loss <= point.Loss + 1e-4 * t * slope + slack)
            {
                result.Value = (trialPoint, t, reply);
                yield break;
            }
            t *= 0.5;
        }
        result.Value = (null, 0, null);
    }

    /// <summary>
    /// ∇L, and the low-rank vectors when this solver needs them, assembled from an accepted trial's one-pass reply;
    /// null when the reply does not carry them (then the iteration asks for a gradient pass).
    /// </summary>
    private GradientReply? FusedGradientReply(SolveRun run, PointEvaluation point, ScalarsReply reply, double[] reference, HessianKind kind)
    {
        var gradient = run.Objective.FusedGradient(point, reply, reference);
        if (gradient is null) return null;
        double[] lowRank = Array.Empty<double>();
        if (NeedsLowRank && run.Objective.LowRankCount > 0)
        {
            lowRank = run.Objective.FusedLowRank(point, reply, reference, kind)!;
            if (lowRank is null) return null;
        }
        return new GradientReply(gradient, lowRank, reply.Sketch);
    }

    protected static bool AllFinite(ReadOnlySpan<double> v)
    {
        foreach (var x in v) if (!double.IsFinite(x)) return false;
        return true;
    }

    /// <summary>H = Gram + Σ_jk C_jk l_j l_kᵀ as a full symmetric d×d matrix (l_j = Aᵀq_j rows of lowRank).</summary>
    public static double[] AssembleHessian(double[] packedGram, int d, double[] lowRank, double[] coefficients)
    {
        var h = Kernels.Packed.ToSymmetric(packedGram, d);
        int k = lowRank.Length / Math.Max(d, 1);
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
            {
                double c = coefficients[a * k + b];
                if (c == 0) continue;
                var la = lowRank.AsSpan(a * d, d);
                var lb = lowRank.AsSpan(b * d, d);
                for (int i = 0; i < d; i++)
                {
                    double s = c * la[i];
                    if (s != 0) TensorPrimitives.MultiplyAdd(lb, s, h.AsSpan(i * d, d), h.AsSpan(i * d, d));
                }
            }
        return h;
    }

    protected static double[] Negated(double[] v)
    {
        var r = new double[v.Length];
        TensorPrimitives.Negate(v, r);
        return r;
    }
}
