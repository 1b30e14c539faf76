using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Newton-CG (Hessian-free) with a line search: the Newton system H p = −∇L solved by conjugate gradients on
/// Hessian-vector products (<see cref="HessianVectorCurvature"/>: one fan-out per CG iteration, no d×d block ever
/// formed), stopped at ‖r‖ ≤ η‖∇L‖ (with a preconditioner M in its M⁻¹-norm, <see cref="ResidualScale"/>) with η of
/// <see cref="ForcingTerm.For"/> (min(η_max, √(‖∇L‖/‖∇L(x0)‖)), the ratio itself with the Kronecker factors, never tighter than the stopping test needs), η_max = <see cref="MaxForcingTerm"/> (or <see cref="PreconditionedForcingTerm"/> with
/// the sampled-Gram preconditioner, <see cref="KroneckerForcingTerm"/> with the Kronecker factors; with them, after a full
/// step, also at the Euclidean ‖r‖ of <see cref="ForcingTerm.NonlinearResidualFloor"/>), or at negative curvature: then the last CG iterate, or, on the first CG
/// iteration, the preconditioned steepest-descent direction z = M⁻¹(−∇L) scaled by rᵀz/|zᵀHz| (the Newton length of
/// the 1-D model with the curvature's magnitude).
/// The approximate Newton methods are this solver with a preconditioner M (<see cref="Preconditioning"/>); the first CG
/// iterate is then the scaled model Newton step M⁻¹(−∇L), and CG corrects it:
///   • matrix problems: the Kronecker-factored curvature M = F ⊗ G (<see cref="KroneckerPreconditioner"/>, one extra
///     request every <see cref="CgPreconditioners.KroneckerRefreshIterations"/> Newton iterations until the solve has
///     settled), corrected by the
///     curvature pairs (s, Hs) of the earlier CG iterations (<see cref="CurvaturePairs"/>, no extra request);
///   • vector problems: the leverage-score-sampled Gram, Cholesky-factorised (<see cref="SampledGramPreconditioner"/>,
///     two extra requests every <see cref="SampledGramPreconditioner.RefreshIterations"/> Newton iterations).
/// </summary>
public sealed class NewtonCg : LineSearchSolver
{
    /// <param name="preconditioning">What preconditions CG (none for the newton-cg solver).</param>
    public NewtonCg(CgPreconditioning preconditioning = CgPreconditioning.None) => Preconditioning = preconditioning;

    /// <summary>What preconditions CG.</summary>
    public CgPreconditioning Preconditioning { get; }

    /// <summary>Largest forcing term η of the inexact Newton solve.</summary>
    public const double MaxForcingTerm = ForcingTerm.Cap;
    /// <summary>
    /// Largest forcing term with the sampled-Gram preconditioner, whose CG products are cheap next to the iteration:
    /// at n = 100000, d = 1000 η ≤ 0.01 took 12 iterations and 100–113 products, η ≤ 0.1 20–22 iterations, η ≤ 0.001 14
    /// iterations and 191–218 products (README, "Approximate Newton at large d").
    /// </summary>
    public const double PreconditionedForcingTerm = 0.01;
    /// <summary>
    /// Largest forcing term with the Kronecker-factored preconditioner of a matrix problem. With ½ (the cap) the first
    /// steps from the log-linear start took one CG product each and cut the gradient only 2–6× per Newton iteration,
    /// each of which costs a loss and a gradient pass (≈ 2.3 products' time at n = 4096, d = 64); with 0.05 the generated
    /// instances (seed 7, 2 workers, tol 1e-8) took 6 Newton iterations instead of 7–9 and the same or ±4 products
    /// (README, #12, twenty-second session).
    /// </summary>
    /// <remarks>
    /// Below the cap the Kronecker-preconditioned solve takes η = ‖∇L‖/‖∇L(x0)‖ (<see cref="ForcingTerm.For"/>'s
    /// quadratic rule) where the others take its square root: with the exact Hessian near the solution
    /// (<see cref="MatrixSolverChoice.NewtonHessian"/>) each Newton iteration then reduces the gradient as far
    /// as its CG products pay for, and the generated instances took one Newton iteration (a loss-and-gradient pass) fewer
    /// for the same CG products ± 1 (README, #12, twenty-third session).
    /// </remarks>
    public const double KroneckerForcingTerm = 0.05;
    /// <summary>A direction whose curvature dᵀHd is at most this fraction of ‖d‖²‖∇L‖ counts as negative curvature.</summary>
    public const double CurvatureFloor = 1e-14;

    /// <summary>
    /// The norm of the Newton equation's residual r = −∇L − Hp that CG's stopping test ‖r‖ ≤ η·(this at p = 0) uses:
    /// without a preconditioner the Euclidean ‖r‖ (so the scale is ‖∇L‖); with M, the M⁻¹-norm √(rᵀM⁻¹r), which PCG
    /// computes anyway (rᵀz, z = M⁻¹r), so the scale is √(∇Lᵀ M⁻¹ ∇L). Where M ≈ H it measures the error of the step
    /// in H's energy norm, which a Euclidean residual misses along H's flat directions (an error e = H⁻¹r is largest
    /// there): at n = 100000, d = 1000 (`generate --seed 7`, λ(∇²L(x*)) in [5.6e-9, 6.2e-3]) the Euclidean test let the
    /// gradient rise after every other full step, 19 iterations and 77 products (7.64–8.73 s of solve); the M⁻¹-norm
    /// test took 15 iterations and 70 products (7.07–7.48 s). On `scale 100000 1000`'s instance and on a matrix
    /// problem (2048×64) it changed neither the time nor the products.
    /// </summary>
    internal static double ResidualScale(double gradientNorm, double gradientPreconditioned, bool preconditioned) =>
        preconditioned ? Math.Sqrt(Extremes.Max(gradientPreconditioned, 0)) : gradientNorm;

    /// <summary>CG iterations when <see cref="SolverOptions.MaxCgIterations"/> is 0: max(d, this).</summary>
    public const int MinDefaultCgIterations = 10;

    /// <summary>
    /// The CG iteration limit (<see cref="SolverOptions.MaxCgIterations"/>, or max(d, <see cref="MinDefaultCgIterations"/>))
    /// and the forcing term η at <paramref name="current"/> (<see cref="ForcingTerm.For"/> capped by
    /// <see cref="PreconditionedForcingTerm"/> with the sampled-Gram preconditioner, <see cref="KroneckerForcingTerm"/>
    /// with the Kronecker factors, else <see cref="MaxForcingTerm"/>),
    /// for either globalisation's CG.
    /// </summary>
    internal static (int MaxCg, double Eta) CgBudget(SolveRun run, Iterate current, CgPreconditioning preconditioning)
    {
        var opts = run.Options;
        int maxCg = opts.MaxCgIterations > 0 ? opts.MaxCgIterations : Math.Max(run.Objective.Dimension, MinDefaultCgIterations);
        double g0 = run.ToleranceScale(run.Trace[0].GradientNorm);
        return (maxCg, ForcingTerm.For(current.GradientNorm, g0, opts.StoppingTarget(g0), ForcingTermCap(preconditioning),
            quadratic: preconditioning == CgPreconditioning.Kronecker));
    }

    /// <summary>
    /// With the Kronecker factors, after a full step (t = 1) from the previous iterate: the Euclidean residual at which
    /// CG stops even before its forcing-term test (<see cref="ForcingTerm.NonlinearResidualFloor"/>, from the trace's
    /// gradient norms, so a resumed solve stops where the uninterrupted one did); 0 otherwise.
    /// </summary>
    internal static double NonlinearResidualFloor(SolveRun run, Iterate current, CgPreconditioning preconditioning)
    {
        int k = current.Iteration;
        if (preconditioning != CgPreconditioning.Kronecker || k < 1 || run.Trace.Count <= k || run.Trace[k].StepLength != 1) return 0;
        double g0 = run.ToleranceScale(run.Trace[0].GradientNorm);
        return ForcingTerm.NonlinearResidualFloor(current.GradientNorm, run.Trace[k - 1].GradientNorm, run.Options.StoppingTarget(g0),
            ForcingTermCap(preconditioning));
    }

    /// <summary>η_max of CG preconditioned by <paramref name="preconditioning"/>.</summary>
    internal static double ForcingTermCap(CgPreconditioning preconditioning) => preconditioning switch
    {
        CgPreconditioning.SampledGram => PreconditionedForcingTerm,
        CgPreconditioning.Kronecker => KroneckerForcingTerm,
        _ => MaxForcingTerm,
    };

    public override string Name => Preconditioning == CgPreconditioning.None ? "newton-cg" : "approx-newton";

    protected override CurvatureSource Curvature => HessianVectorCurvature.Instance;

    protected override IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction)
    {
        int d = run.Objective.Dimension;
        var (maxCg, eta) = CgBudget(run, current, Preconditioning);

        var prepared = new Out<(Func<double[], double[]>? Apply, long RowsSampled)>();
        foreach (var request in CgPreconditioners.Prepare(run, current, Preconditioning, prepared)) yield return request;
        var (preconditioner, rowsSampled) = prepared.Value;
        double[] Precondition(double[] v) => preconditioner?.Invoke(v) ?? (double[])v.Clone();

        var p = new double[d];
        var r = Negated(current.Gradient);
        var z = Precondition(r);
        var dir = (double[])z.Clone();
        double rz = SpanMath.Dot(r, z);
        double tol = eta * ResidualScale(current.GradientNorm, rz, preconditioner is not null);
        double residualFloor = NonlinearResidualFloor(run, current, Preconditioning);
        var product = new Out<double[]>();
        // The Kronecker preconditioner is corrected by the curvature pairs of earlier CG solves (CurvaturePairs).
        var pairs = CgPreconditioners.PairsToCollect(Preconditioning);
        int cgIterations = 0;
        double negativeCurvature = 0;
        for (int it = 0; it < maxCg; it++)
        {
            foreach (var request in HessianVectorCurvature.Instance.Multiply(run, current, dir, product)) yield return request;
            cgIterations++;
            var hd = product.Value;
            double curvature = SpanMath.Dot(dir, hd);
            if (!(curvature > CurvatureFloor * SpanMath.Dot(dir, dir) * Extremes.Max(current.GradientNorm, TinyNorm)))
            {
                if (it == 0)
                {
                    p = (double[])dir.Clone();
                    double scale = rz / Extremes.Max(Math.Abs(curvature), TinyNorm);
                    SpanMath.Multiply(p, scale, p);
                    double dd = SpanMath.Dot(dir, dir);
                    direction.Value = new Direction(p, 1.0, rowsSampled, Extremes.Min(curvature / Extremes.Max(dd, TinyNorm), 0.0), cgIterations);
                    yield break;
                }
                negativeCurvature = Extremes.Min(curvature / Extremes.Max(SpanMath.Dot(dir, dir), TinyNorm), 0.0);
                break;
            }
            double alpha = rz / curvature;
            pairs?.Add(((double[])dir.Clone(), hd, curvature));
            SpanMath.MultiplyAdd(dir, alpha, p, p);
            SpanMath.MultiplyAdd(hd, -alpha, r, r);
            if (preconditioner is null && Math.Sqrt(SpanMath.Dot(r, r)) <= tol) break;
            if (residualFloor > 0 && Math.Sqrt(SpanMath.Dot(r, r)) <= residualFloor) break;
            z = Precondition(r);
            double rzNew = SpanMath.Dot(r, z);
            if (preconditioner is not null && Math.Sqrt(Extremes.Max(rzNew, 0)) <= tol) break;
            SpanMath.MultiplyAdd(dir, rzNew / rz, z, dir);
            rz = rzNew;
        }
        // Only now: the preconditioner must not change while its CG runs.
        if (pairs is not null) CgPreconditioners.RememberPairs(run, current.Kind, pairs);
        direction.Value = new Direction(p, 1.0, rowsSampled, negativeCurvature, cgIterations);
    }
}
