using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Sensitivity;

/// <param name="WorstCase">‖dx*/dθ‖₂ over ‖Δθ‖_F = 1, its direction and the re-solves along it.</param>
/// <param name="FixedX">The fixed-x Lipschitz constants of f, L and ∇L at x*.</param>
/// <param name="PredictedSolutionRatio">Per draw: ‖H⁻¹ (∂∇L/∂A · Δ)‖ (‖Δ‖_F = 1), the ε → 0 limit of the solution ratio.</param>
/// <param name="PredictedOutputRatio">Per draw: ‖∂f/∂A · Δ + ∂f/∂x · v‖ with v = −H⁻¹(∂∇L/∂A · Δ).</param>
public sealed record SensitivityResult(string Family, long Rows, int Dimension, double[] Solution, SolverResult BaseSolve,
    IReadOnlyList<PerturbationResult> Perturbations, IReadOnlyList<EpsilonSummary> Summary, double[] PredictedSolutionRatio,
    double[] PredictedOutputRatio, double HessianMinEigenvalue, double HessianMaxEigenvalue, int Parallelism, double Seconds,
    WorstCaseSensitivity WorstCase, FixedXLipschitz FixedX, bool HessianPositiveDefinite)
{
    /// <summary>How the Hessian at x* was solved (<see cref="HessianSolve.Method"/>).</summary>
    public string HessianMethod { get; init; } = "";
}
