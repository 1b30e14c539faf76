using System.Numerics.Tensors;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Exact Newton: H = Aᵀ diag(D + w²) A (one Gram pass) + the exact low-rank part; p solves H p = −∇L, with an
/// indefinite H replaced by |H| (eigenvalues' absolute values, saddle-free Newton); then backtracking from t = 1.
/// </summary>
public sealed class Newton : Solver
{
    public override string Name => "newton";
    protected override bool NeedsLowRank => true;

    protected override IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction)
    {
        var point = current.Point;
        yield return new GramRequest(point.X, point.Globals, current.Kind);
        var gram = run.Reply<GramReply>();
        int d = run.Objective.Dimension;
        var h = AssembleHessian(gram.PackedUpper, d, current.LowRank, run.Objective.LowRankCoefficients(point.Globals, current.Kind));
        var (p, curvature) = DenseAlgebra.SolveModified(h, d, Negated(current.Gradient));
        direction.Value = new Direction(p, 1.0, 0, curvature);
    }
}

/// <summary>
/// Approximate Newton with a leverage-score-sampled Hessian (shared/MATH.md, seed 001):
///   1. with the gradient, each shard forms a CountSketch S_k·diag(√|D|)·A_k of its rows (m = SketchRowsPerColumn·d
///      rows) and returns only R of its Householder QR (a packed d×d triangle); replies merge by TSQR in shard order
///      (<see cref="SketchForm.Triangle"/>); after an accepted line-search trial both come from the trial's own pass,
///      with D computed at the previous iterate's globals (see <see cref="TrialRequest"/>);
///   2. Y = R⁻¹G for a d×k Gaussian G, R that of the stacked per-shard sketches (Σ_i τ_i is estimated by ‖G‖²_F);
///   3. in one more pass shards compute τ_i = |D_i|‖a_iᵀY‖², keep row i with probability q_i = min(1, s·τ_i/Στ)
///      and weight it 1/q_i, s = ⌈c·ε⁻² d ln(d/δ)⌉;
///   4. H̃ = sampled Aᵀ diag(D) A + the exact low-rank part; p solves H̃ p = −∇L (|H̃| if indefinite).
/// Every random draw is keyed by (seed, iteration, global row); the row sample would not depend on the shard layout,
/// but R (and so the leverage estimates) does, since each shard sketches its own rows: results are reproducible for
/// a fixed layout.
/// </summary>
public sealed class ApproximateNewton : Solver
{
    public override string Name => "approx-newton";
    protected override bool NeedsLowRank => true;

    /// <summary>The sketch that came with this solve's current gradient.</summary>
    private sealed class LastSketch { public double[] Sketch = Array.Empty<double>(); }

    protected override GradientRequest GradientRequestFor(SolveRun run, PointEvaluation point, int iteration, HessianKind kind)
    {
        var opts = run.Options;
        int m = opts.UniformSampling ? 0 : SketchRows(run);
        return new GradientRequest(point.X, point.Globals, kind, true, m, StreamSeed(opts.Seed, iteration, 1), SketchForm.Triangle);
    }

    private static int SketchRows(SolveRun run)
    {
        int d = run.Objective.Dimension;
        return Math.Max(run.Options.SketchRowsPerColumn * d, d + 1);
    }

    private static ulong StreamSeed(ulong seed, int iteration, int purpose) =>
        Rng.Hash(seed ^ Rng.Hash(((ulong)(uint)iteration << 8) | (uint)purpose));

    /// <summary>
    /// Trials also return the sketch for the next iteration (seeded as that iteration's gradient request would be),
    /// with the row curvatures at the current iterate's globals: an accepted full step then costs one pass over A
    /// plus the leverage pass.
    /// </summary>
    protected override ScalarsRequest TrialRequest(SolveRun run, double[] xt, PointEvaluation point, int iteration, HessianKind kind)
    {
        var request = base.TrialRequest(run, xt, point, iteration, kind);
        if (!request.WithGradient || run.Options.UniformSampling) return request;
        return request with
        {
            SketchRows = SketchRows(run), SketchSeed = StreamSeed(run.Options.Seed, iteration + 1, 1), SketchKind = kind,
            SketchForm = SketchForm.Triangle,
        };
    }

    protected override bool IsComplete(SolveRun run, GradientReply fused) => run.Options.UniformSampling || fused.Sketch.Length > 0;

    protected override void OnGradient(SolveRun run, GradientReply reply) => StateOf<LastSketch>(run).Sketch = reply.Sketch;

    protected override IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction)
    {
        var opts = run.Options;
        var point = current.Point;
        int d = run.Objective.Dimension;
        double s = opts.SampleSize(d);
        double[] projT = Array.Empty<double>();
        int k = 0;
        double total;
        if (opts.UniformSampling)
        {
            total = run.Objective.Rows;
        }
        else
        {
            k = opts.ProjectionColumnsFor(run.Objective.Rows);
            (projT, total) = Sketching.LeverageProjection.FromTriangle(StateOf<LastSketch>(run).Sketch, d, k, Rng.ForStream(opts.Seed, (ulong)current.Iteration, 2));
        }
        GramReply gram;
        if (total > 0 && double.IsFinite(total))
        {
            yield return new SampledGramRequest(point.X, point.Globals, current.Kind, projT, k, total, s,
                StreamSeed(opts.Seed, current.Iteration, 3), opts.UniformSampling);
            gram = run.Reply<GramReply>();
        }
        else
        {
            gram = new GramReply(new double[Packed.Length(d)], 0);
        }
        var h = AssembleHessian(gram.PackedUpper, d, current.LowRank, run.Objective.LowRankCoefficients(point.Globals, current.Kind));
        var (p, curvature) = DenseAlgebra.SolveModified(h, d, Negated(current.Gradient));
        direction.Value = new Direction(p, 1.0, gram.RowsUsed, curvature);
    }
}

/// <summary>
/// Newton-CG (Hessian-free): the Newton system H p = −∇L solved by conjugate gradients on Hessian-vector
/// products (one fan-out per CG iteration, no d×d block ever formed), stopped at ‖r‖ ≤ η‖∇L‖ with
/// η = min(0.5, √(‖∇L‖/‖∇L(x0)‖)), or at negative curvature: then the last CG iterate, or, on the first CG
/// iteration, −∇L scaled by ‖∇L‖²/|∇Lᵀ H ∇L| (the Newton length of the 1-D model with the curvature's magnitude).
/// </summary>
public sealed class NewtonCg : Solver
{
    public override string Name => "newton-cg";
    protected override bool NeedsLowRank => true;

    protected override IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction)
    {
        var opts = run.Options;
        var point = current.Point;
        int d = run.Objective.Dimension;
        var coeff = run.Objective.LowRankCoefficients(point.Globals, current.Kind);
        int lr = run.Objective.LowRankCount;
        int maxCg = opts.MaxCgIterations > 0 ? opts.MaxCgIterations : Math.Max(d, 10);
        double g0 = run.Trace[0].GradientNorm;
        double eta = Math.Min(0.5, Math.Sqrt(current.GradientNorm / Math.Max(g0, 1e-300)));
        double tol = eta * current.GradientNorm;

        var p = new double[d];
        var r = Negated(current.Gradient);
        var dir = (double[])r.Clone();
        double rr = TensorPrimitives.Dot<double>(r, r);
        for (int it = 0; it < maxCg; it++)
        {
            yield return new HessianVectorRequest(point.X, point.Globals, current.Kind, (double[])dir.Clone());
            var hv = run.Reply<HessianVectorReply>();
            var hd = (double[])hv.Product.Clone();
            // Low-rank part: Σ_jk C_jk l_j ⟨q_k, A dir⟩.
            for (int a = 0; a < lr; a++)
            {
                double coef = 0;
                for (int b = 0; b < lr; b++) coef += coeff[a * lr + b] * hv.LowRankDots[b];
                if (coef != 0) TensorPrimitives.MultiplyAdd(current.LowRank.AsSpan(a * d, d), coef, hd, hd);
            }
            double curvature = TensorPrimitives.Dot<double>(dir, hd);
            if (!(curvature > 1e-14 * TensorPrimitives.Dot<double>(dir, dir) * Math.Max(current.GradientNorm, 1e-300)))
            {
                if (it == 0)
                {
                    p = Negated(current.Gradient);
                    double scale = rr / Math.Max(Math.Abs(curvature), 1e-300);
                    TensorPrimitives.Multiply(p, scale, p);
                    direction.Value = new Direction(p, 1.0, 0, Math.Min(curvature / Math.Max(rr, 1e-300), 0.0));
                    yield break;
                }
                break;
            }
            double alpha = rr / curvature;
            TensorPrimitives.MultiplyAdd(dir, alpha, p, p);
            TensorPrimitives.MultiplyAdd(hd, -alpha, r, r);
            double rrNew = TensorPrimitives.Dot<double>(r, r);
            if (Math.Sqrt(rrNew) <= tol) break;
            TensorPrimitives.MultiplyAdd(dir, rrNew / rr, r, dir);
            rr = rrNew;
        }
        direction.Value = new Direction(p, 1.0);
    }
}

public static class SolverCatalog
{
    public static readonly string[] Names = { "approx-newton", "newton", "newton-cg", "lbfgs", "gd" };

    /// <summary>The solver of that name. Solvers keep no per-solve state (the run does), so an instance can be shared.</summary>
    public static Solver Create(string name) => name.ToLowerInvariant() switch
    {
        "approx-newton" => new ApproximateNewton(),
        "newton" => new Newton(),
        "newton-cg" => new NewtonCg(),
        "lbfgs" => new Lbfgs(),
        "gd" => new GradientDescent(),
        _ => throw new ArgumentException($"unknown solver '{name}' (allowed: {string.Join(", ", Names)})"),
    };
}
