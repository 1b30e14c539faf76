using System.Globalization;
using DistSoftmax.Core.Problems;
using MathNet.Numerics.LinearAlgebra;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Analysis;

/// <summary>
/// The analysis at a solution x* (docs/MATH.md, "Post-solve analysis and the regime"): the arrays asked for
/// (<see cref="PostSolveOutputs"/>) and always the <see cref="Regime"/>. Passes over the shards: L(x*) and L(0) (one
/// each), ∇L with the low-rank vectors (one), then either the exact Hessian (one Gram pass, unknowns ≤
/// <see cref="PostSolveEvaluator.MaxHessianUnknowns"/>) or <see cref="LanczosSteps"/> Hessian-vector products, the
/// data Gram AᵀA for σ_min(A) (normalized vector problems with d ≤ the limit), and the rows for fitted and residual.
/// </summary>
public static class PostSolveAnalysis
{
    /// <summary>Most Lanczos steps (each one pass over the shards) above the Hessian limit.</summary>
    public const int LanczosSteps = 30;

    /// <summary>Fewest Lanczos steps of a budgeted analysis (<see cref="LanczosBudget"/>).</summary>
    public const int MinLanczosSteps = 10;

    /// <summary>A budgeted analysis spends at most one Lanczos product per this many of the solve's own shard requests.</summary>
    public const int SolveRequestsPerLanczosStep = 4;

    /// <summary>
    /// Lanczos steps for the analysis after a solve of <paramref name="solveRequests"/> shard requests: a quarter of them,
    /// within [<see cref="MinLanczosSteps"/>, <see cref="LanczosSteps"/>], so the diagnostic costs at most about a
    /// quarter of the solve's passes. At n = 8192, d = 128 (62 requests) the 30 steps took 38.9 s against 68.3 s of
    /// solve; θ_min had not converged to even 1e-3 after 30 steps at n = 2048 or 4096, so the values are bounds either way.
    /// </summary>
    public static int LanczosBudget(long solveRequests) =>
        (int)Math.Clamp(solveRequests / SolveRequestsPerLanczosStep, MinLanczosSteps, LanczosSteps);

    /// <summary>The regulariser has collapsed x* when |L(x*) − L(0)| ≤ this times |L(0)|.</summary>
    public const double CollapseRelativeTolerance = 1e-6;

    /// <summary>H counts as positive definite when λ_min &gt; this times max|λ| (below it: singular to rounding).</summary>
    public const double DefiniteRelativeTolerance = 1e-10;

    /// <summary>The constant of seed 001's condition w_i² ≥ 100 + l/σ_min(A)² (docs/MATH.md).</summary>
    public const double TheoremWeightFloor = 100.0;

    /// <summary>The theorem's bound ‖b‖₁ ≤ 1.</summary>
    public const double TheoremTargetL1Bound = 1.0;

    /// <summary>‖b‖₁ of a distribution read from a file is 1 only to rounding: the bound is checked with this relative slack.</summary>
    public const double TargetL1Slack = 1e-12;

    /// <param name="evaluator">The problem's shards.</param>
    /// <param name="x">The solution x*.</param>
    /// <param name="outputs">Arrays to compute besides the regime.</param>
    /// <param name="regularized">Whether the problem has a non-zero regulariser (the collapse check needs one).</param>
    /// <param name="seed">Seed of the Lanczos start vector.</param>
    /// <param name="lanczosSteps">Most Lanczos steps above the Hessian limit (<see cref="LanczosBudget"/> after a solve).</param>
    public static PostSolveResult Run(PostSolveEvaluator evaluator, double[] x, PostSolveOutputs outputs, bool regularized, ulong seed,
        int lanczosSteps = LanczosSteps) =>
        Run(evaluator, x, outputs, regularized, seed, PostSolveEvaluator.MaxHessianUnknowns, lanczosSteps);

    /// <summary>The same with another limit on the unknowns of the exact Hessian (tests reach the Lanczos path with a small one).</summary>
    internal static PostSolveResult Run(PostSolveEvaluator evaluator, double[] x, PostSolveOutputs outputs, bool regularized, ulong seed, int hessianLimit,
        int lanczosSteps = LanczosSteps)
    {
        if (lanczosSteps < 1) throw new ParameterException(nameof(lanczosSteps), lanczosSteps, "must be at least 1");
        int unknowns = evaluator.Unknowns;
        bool wantHessian = outputs.HasFlag(PostSolveOutputs.Hessian);
        if (wantHessian && unknowns > hessianLimit)
            throw new ArgumentException($"the exact Hessian is formed only up to {hessianLimit} unknowns; this problem has {unknowns}");
        var warnings = new List<string>();

        var point = evaluator.Evaluate(x);
        var (gradient, lowRank) = evaluator.Gradient(point);
        double lossAtZero = evaluator.Evaluate(new double[unknowns]).Loss;

        // Curvature at x*: exact eigenvalues when the Hessian may be formed, else Lanczos bounds.
        double[]? hessian = null, eigenvalues = null;
        double lambdaMin, lambdaMax;
        string method;
        int? steps = null;
        if (unknowns <= hessianLimit)
        {
            hessian = evaluator.Hessian(point, lowRank);
            eigenvalues = SymmetricEigenvalues(hessian, unknowns);
            (lambdaMin, lambdaMax, method) = (eigenvalues[0], eigenvalues[^1], "exact-eigenvalues");
        }
        else
        {
            var (lo, hi, taken, _) = Kernels.ExtremeEigenvalues.Compute(v => evaluator.HessianVector(point, lowRank, v), unknowns, seed, lanczosSteps);
            (lambdaMin, lambdaMax, method, steps) = (lo, hi, "lanczos", taken);
        }

        var positiveDefinite = PositiveDefinite(lambdaMin, lambdaMax, method == "lanczos");
        var (regularizerCondition, targetCondition, sigmaMin, curvature) = TheoremConditions(evaluator, hessianLimit);

        double solutionNorm = SpanMath.Norm(x);
        bool collapsed = regularized && Math.Abs(point.Loss - lossAtZero) <= CollapseRelativeTolerance * Math.Max(Math.Abs(lossAtZero), NumericLimits.Tiny);
        if (collapsed)
            warnings.Add(Invariant($"the regulariser collapses the solution: L(x*) = {point.Loss:G6} is within {CollapseRelativeTolerance:G1} (relative) of L(0) = {lossAtZero:G6} ") +
                         Invariant($"(‖x*‖ = {solutionNorm:G3}), so x* is the trivial fit x ≈ 0; lower the weights w (--w, --w-scalar, --W)"));

        double[]? fitted = null, residual = null;
        long[]? shape = null;
        if (outputs.HasFlag(PostSolveOutputs.Fitted) || outputs.HasFlag(PostSolveOutputs.Residual))
        {
            var (f, r, s) = evaluator.FittedAndResidual(x);
            if (outputs.HasFlag(PostSolveOutputs.Fitted)) fitted = f;
            if (outputs.HasFlag(PostSolveOutputs.Residual)) residual = r;
            shape = s;
        }

        var regime = new Regime(lambdaMin, lambdaMax, method, steps, sigmaMin, curvature, regularizerCondition, targetCondition,
            positiveDefinite, point.Loss, lossAtZero, solutionNorm, collapsed);
        return new PostSolveResult(fitted, residual, shape,
            outputs.HasFlag(PostSolveOutputs.Gradient) ? gradient : null,
            wantHessian ? hessian : null,
            wantHessian ? eigenvalues : null,
            regime, warnings);
    }

    /// <summary>
    /// For a solve that converged (‖∇L(x)‖ within the tolerance): the warning that x is no minimiser when the regime
    /// found negative curvature below rounding (exact λ_min, or a Ritz value θ_min ≥ λ_min) — a start at a stationary
    /// point that is a maximum or a saddle ends there at once, reported converged. Null when the curvature allows a
    /// minimiser. (An unconverged iterate may well have negative curvature; this is not asked of it.)
    /// </summary>
    public static string? NotAMinimiserWarning(Regime regime)
    {
        double lambdaMin = regime.LambdaMin, lambdaMax = regime.LambdaMax;
        if (!(lambdaMin < -DefiniteRelativeTolerance * Math.Max(Math.Abs(lambdaMin), Math.Abs(lambdaMax)))) return null;
        string range = regime.Method == "lanczos" ? Invariant($"λ_min ≤ {lambdaMin:G4}") : Invariant($"λ in [{lambdaMin:G4}, {lambdaMax:G4}]");
        return $"∇²L(x) has negative curvature ({range}): x is a stationary point but a saddle point or a maximum, not a minimiser; " +
               "start elsewhere (another --x0, or the default start)";
    }

    /// <summary>Eigenvalues of a symmetric n×n row-major matrix, ascending (<see cref="Kernels.DenseAlgebra.SymmetricEigenvalues"/>).</summary>
    public static double[] SymmetricEigenvalues(double[] h, int n) => Kernels.DenseAlgebra.SymmetricEigenvalues(h, n);

    private static RegimeCondition PositiveDefinite(double lambdaMin, double lambdaMax, bool lanczos)
    {
        double floor = DefiniteRelativeTolerance * Math.Max(Math.Abs(lambdaMin), Math.Abs(lambdaMax));
        if (!lanczos)
            return new RegimeCondition(lambdaMin > floor, lambdaMin, 0.0,
                Invariant($"exact λ_min of ∇²L(x*); positive definite when λ_min > {DefiniteRelativeTolerance:G1}·max|λ|"));
        // A Ritz value θ_min ≥ λ_min: θ_min ≤ 0 proves H is not positive definite; θ_min > 0 proves nothing.
        return lambdaMin <= floor
            ? new RegimeCondition(false, lambdaMin, 0.0, "Lanczos Ritz value θ_min ≥ λ_min is ≤ 0, so ∇²L(x*) is not positive definite")
            : new RegimeCondition(null, lambdaMin, 0.0, "Lanczos Ritz value θ_min > 0 is only an upper bound on λ_min: undecided");
    }

    /// <summary>
    /// Seed 001's assumptions for normalized softmax regression with ½‖diag(w)Ax‖²: min w² ≥ 100 + l/σ_min(A)² for some
    /// l &gt; 0 (so min w² &gt; 100 and σ_min(A) &gt; 0; then l = (min w² − 100)σ_min(A)²), and ‖b‖₁ ≤ 1.
    /// </summary>
    private static (RegimeCondition Weights, RegimeCondition Target, double? SigmaMin, double? Curvature) TheoremConditions(PostSolveEvaluator evaluator, int gramLimit)
    {
        const string notStated = "the theorem is stated for normalized softmax regression (a vector problem)";
        if (evaluator.IsMatrix || evaluator.Family is not NormalizedSoftmax)
            return (new RegimeCondition(null, null, TheoremWeightFloor, notStated), new RegimeCondition(null, null, TheoremTargetL1Bound, notStated), null, null);
        double l1 = evaluator.TargetL1Norm();
        var target = new RegimeCondition(l1 <= TheoremTargetL1Bound * (1 + TargetL1Slack), l1, TheoremTargetL1Bound,
            Invariant($"‖b‖₁ ≤ 1 (to a relative {TargetL1Slack:G1} for rounding)"));
        double minW2 = evaluator.MinSquaredWeight() ?? 0.0;
        double? sigmaMin = null;
        // σ_min(A) (a Gram pass and an eigen-decomposition) decides the condition only when min w² > 100.
        if (minW2 > TheoremWeightFloor && evaluator.Unknowns <= gramLimit)
        {
            var gramEigen = SymmetricEigenvalues(evaluator.DataGram(), evaluator.Unknowns);
            sigmaMin = Math.Sqrt(Math.Max(gramEigen[0], 0.0));
        }
        double? curvature = null;
        RegimeCondition weights;
        if (minW2 <= TheoremWeightFloor)
            weights = new RegimeCondition(false, minW2, TheoremWeightFloor, "min_i w_i² ≥ 100 + l/σ_min(A)² needs min w² > 100 for any l > 0");
        else if (sigmaMin is not double s)
            weights = new RegimeCondition(null, minW2, TheoremWeightFloor,
                $"min w² > 100, but σ_min(A) is not computed (d > {gramLimit}): l = (min w² − 100)·σ_min(A)² unknown");
        else if (s <= 0)
            weights = new RegimeCondition(false, minW2, TheoremWeightFloor, "σ_min(A) = 0 (A has dependent columns): no l > 0");
        else
        {
            curvature = (minW2 - TheoremWeightFloor) * s * s;
            weights = new RegimeCondition(true, minW2, TheoremWeightFloor, Invariant($"holds with l = (min w² − 100)·σ_min(A)² = {curvature:G6}"));
        }
        return (weights, target, sigmaMin, curvature);
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
