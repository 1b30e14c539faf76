namespace DistSoftmax.Core.Analysis;

/// <summary>
/// The regime a solve ended in (docs/MATH.md, "Post-solve analysis and the regime"): the curvature at x*, the
/// assumptions of seed 001's theorem for normalized softmax regression with the regulariser ½‖diag(w)Ax‖², and
/// whether the regulariser collapsed the solution onto x = 0.
/// </summary>
/// <param name="LambdaMin">λ_min(∇²L(x*)): exact, or with Lanczos the smallest Ritz value (an upper bound on λ_min).</param>
/// <param name="LambdaMax">λ_max(∇²L(x*)): exact, or with Lanczos the largest Ritz value (a lower bound on λ_max).</param>
/// <param name="Method">"exact-eigenvalues" (unknowns ≤ <see cref="PostSolveEvaluator.MaxHessianUnknowns"/>) or "lanczos" (Hessian-vector products).</param>
/// <param name="LanczosSteps">Products the Lanczos process took (null for exact eigenvalues).</param>
/// <param name="SigmaMinA">σ_min(A) from the eigenvalues of AᵀA (normalized vector problems with d ≤ the limit whose min w² > 100, where it decides seed 001's condition; null when not computed).</param>
/// <param name="GuaranteedCurvature">The theorem's l = (min w² − 100)·σ_min(A)² when the regulariser condition holds, else null.</param>
/// <param name="RegularizerWeights">min_i w_i² ≥ 100 + l/σ_min(A)² for some l &gt; 0 (normalized vector problems).</param>
/// <param name="TargetL1Norm">‖b‖₁ ≤ 1 (normalized vector problems).</param>
/// <param name="PositiveDefinite">∇²L(x*) ≻ 0.</param>
/// <param name="Loss">L(x*).</param>
/// <param name="LossAtZero">L(0).</param>
/// <param name="SolutionNorm">‖x*‖.</param>
/// <param name="Collapsed">Whether the regulariser collapsed x*: regularised and |L(x*) − L(0)| ≤ 1e-6·|L(0)|.</param>
public sealed record Regime(
    double LambdaMin,
    double LambdaMax,
    string Method,
    int? LanczosSteps,
    double? SigmaMinA,
    double? GuaranteedCurvature,
    RegimeCondition RegularizerWeights,
    RegimeCondition TargetL1Norm,
    RegimeCondition PositiveDefinite,
    double Loss,
    double LossAtZero,
    double SolutionNorm,
    bool Collapsed);
