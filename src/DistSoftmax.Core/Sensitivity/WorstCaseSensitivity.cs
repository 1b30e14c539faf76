namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The worst case of the solution's sensitivity: <paramref name="Constant"/> = ‖dx*/dθ‖₂ over ‖Δθ‖_F = 1, the
/// direction <paramref name="Direction"/> (flattened θ, unit norm) attaining it, the <paramref name="Steps"/> of its
/// eigensolver (<see cref="Eigensolver"/>), and the re-solves along it.
/// </summary>
public sealed record WorstCaseSensitivity(double Constant, double[] Direction, int Steps, IReadOnlyList<FiniteDifferenceCheck> FiniteDifference)
{
    /// <summary>
    /// Whether the eigensolver met its tolerance; false when it stopped at <see cref="SensitivityOptions.WorstCaseMaxSteps"/>,
    /// and then <see cref="Constant"/> is a lower bound on ‖dx*/dθ‖₂.
    /// </summary>
    public bool Converged { get; init; } = true;

    /// <summary>The names <see cref="Eigensolver"/> takes.</summary>
    public const string Lanczos = "Lanczos", Davidson = "Davidson";

    /// <summary>
    /// How the top eigenpair of J Jᵀ was found, and so what <see cref="Steps"/> counts: <see cref="Lanczos"/> (on
    /// H⁻¹KH⁻¹, two Hessian solves a step) or <see cref="Davidson"/> (on the pencil K w = θ H² w, two Hessian-vector
    /// products a step; <see cref="PencilDavidson"/>).
    /// </summary>
    public string Eigensolver { get; init; } = Lanczos;
}
