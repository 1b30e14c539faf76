using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Which solver to run on a multiple softmax regression with X d×d, and why, in one line a report can print.
///
/// Automatic choice: exact Newton while d² ≤ <see cref="ExactNewtonMaxUnknowns"/> (each iteration is one Gram
/// fan-out of the packed d²×d² Hessian, O(n·(n·d² + d⁴)) work, and a d²×d² Cholesky, O(d⁶)); beyond that the
/// approximate Newton method, Newton-CG preconditioned by the Kronecker-factored curvature, whose every CG iteration
/// is one fan-out of a d×d direction (O(n·n·d) work per shard pass) and never forms the Hessian. Measured (2 workers,
/// tol 1e-8): on generated instances (Gaussian A1, A2) the preconditioner saves CG iterations modestly — n = 2048,
/// d = 64: 68 requests against plain Newton-CG's 83; n = 8192, d = 128: 34 CG iterations against 35 —, and on columns
/// of unequal scale (×0.1 … ×10) decisively: n = 1024, d = 32, converged in 23 iterations and 199 CG iterations
/// (7.6 s) where plain Newton-CG had reached only 6.5e-4 of the initial gradient after 24 iterations, 10822 CG
/// iterations and 252 s. An explicit request overrides, except that exact Newton is refused above
/// <see cref="MatrixObjective.MaxGramUnknowns"/>. approx-newton is, for matrix problems, Newton-CG preconditioned by the
/// Kronecker-factored curvature (<see cref="Curvature.KroneckerPreconditioner"/>); it has no row sampling.
///
/// <see cref="Hessian"/> is the recommended <see cref="SolverOptions.Hessian"/> (a caller's explicit setting
/// wins): for every Newton-type solver <see cref="HessianMode.Auto"/> — Gauss–Newton until a step is taken whole, then
/// the exact Hessian (<see cref="CurvatureSchedule"/>), whose single-precision products cost the Gauss–Newton ones'.
/// Until the twenty-sixth session newton and newton-cg kept Gauss–Newton throughout, and on multiple-rescaled instances
/// (large residuals at the minimiser) that stalled: `generate --problem multiple-rescaled --n 100 --d 4 --planted`,
/// seeds 1–3, stalled after 29–50 iterations with relative gradients 2e-6–3e-5, where the schedule converged in 5–7;
/// n = 200, d = 8, noise 0.5, x-scale 2, seeds 5 and 6: newton and newton-cg stalled (24–36 iterations), the schedule
/// converged in 5–8; on multiple-normalized (from zeros, the same instances) 11–15 → 7–10 iterations. With the
/// Gauss–Newton Hessian alone Newton-CG converges only linearly on noisy targets (the ignored residual term bounds each
/// iteration's gradient reduction near 1/40 on the generated 4096×64 instance, whatever η); measured (2 workers, tol
/// 1e-8, README #12 twenty-third session): 2048×64 6 → 5 iterations, 4096×64 6 → 4, 2048×128 6 → 5, noise 0.5 with
/// x-scale 2 12 → 8 iterations and 151 → 101 CG products; from zeros on a planted instance 9 → 8 and on columns of
/// unequal scale 12 → 11. Why not the exact Hessian from the start, measured on planted instances (A1, A2 Gaussian, X* ~ N(0,1), x0 = 0, 4 shards, 2 cores):
/// at x0 the exact Hessian of multiple-normalized is indefinite (n = 2000, d = 64: gᵀHg/gᵀg = −2e−6 along −∇L),
/// Newton-CG then falls back to −∇L with unit step every iteration and did not converge in 200 iterations, while
/// Gauss–Newton converged in 8 (zero residual) and 18 (noisy B) iterations; exact Newton at d = 32 spent most of
/// its time in eigenvalue damping (11.6 s vs 1.6 s at n = 1000). The exact Hessian converges faster on noisy data
/// when it converges at all (Newton-CG, n = 1000: 11 vs 20 iterations normalized, 19 vs 80 rescaled).
/// </summary>
/// <param name="Solver">A <see cref="SolverCatalog"/> name.</param>
/// <param name="Reason">One line for a report.</param>
/// <param name="Hessian">The recommended z-Hessian for Newton-type solvers.</param>
public sealed record MatrixSolverChoice(string Solver, string Reason, HessianMode Hessian = MatrixSolverChoice.NewtonHessian)
{
    public const int ExactNewtonMaxUnknowns = 1024;

    public static readonly string[] Allowed = { "auto", "approx-newton", "newton", "newton-cg", "lbfgs", "gd" };

    /// <summary>The neutral name of the requested solver in <see cref="ParameterException"/>s.</summary>
    public const string SolverParameter = "Solver";

    /// <summary>The curvature every Newton-type solver models with by default: Gauss–Newton, then exact once a step is taken whole.</summary>
    public const HessianMode NewtonHessian = HessianMode.Auto;

    public static MatrixSolverChoice Choose(int d, string? requested = null)
    {
        if (d < 1) throw new ArgumentOutOfRangeException(nameof(d), "X must be at least 1×1");
        long unknowns = (long)d * d;
        string name = string.IsNullOrWhiteSpace(requested) ? "auto" : requested.Trim().ToLowerInvariant();
        switch (name)
        {
            case "auto":
                return unknowns <= ExactNewtonMaxUnknowns
                    ? new("newton", $"auto: exact Newton since d² = {unknowns} ≤ {ExactNewtonMaxUnknowns} (each iteration factors the {unknowns}×{unknowns} Hessian); {NewtonCurvature}")
                    : new("approx-newton", $"auto: approximate Newton (Newton-CG preconditioned by the Kronecker-factored curvature) since d² = {unknowns} > {ExactNewtonMaxUnknowns} (each CG iteration is one fan-out of a {d}×{d} direction; the Hessian is never formed); {NewtonCurvature}");
            case "newton":
                if (unknowns > MatrixObjective.MaxGramUnknowns)
                    throw new ParameterException(SolverParameter, requested, $"newton forms the exact d²×d² Hessian; d = {d} gives d² = {unknowns} > {MatrixObjective.MaxGramUnknowns}: use newton-cg or auto");
                return new("newton", $"requested: exact Newton on d² = {unknowns} unknowns (factors the {unknowns}×{unknowns} Hessian); {NewtonCurvature}");
            case "newton-cg":
                return new("newton-cg", $"requested: Newton-CG on d² = {unknowns} unknowns, one fan-out of a {d}×{d} direction per CG iteration; {NewtonCurvature}");
            case "lbfgs":
                return new("lbfgs", $"requested: L-BFGS on d² = {unknowns} unknowns", HessianMode.GaussNewton);
            case "gd":
                return new("gd", $"requested: gradient descent on d² = {unknowns} unknowns", HessianMode.GaussNewton);
            case "approx-newton":
                return new("approx-newton", $"requested: approximate Newton on d² = {unknowns} unknowns: Newton-CG preconditioned by the Kronecker-factored curvature F ⊗ G (two {d}×{d} factors per iteration); {NewtonCurvature}");
            default:
                throw new ParameterException(SolverParameter, requested, $"'{requested}' is unknown for a matrix problem", Allowed);
        }
    }

    private const string NewtonCurvature = "Gauss–Newton Hessian, exact once a step is taken whole";
}
