namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// Conjugate gradients on the Hessian at x* (<see cref="ConjugateGradientHessianSolve"/>) did not reach their relative
/// residual within their step limit: no inaccurate H⁻¹ v is returned, so the sensitivity constants that need it cannot
/// be given. The message is one line (residual reached, steps, tolerance, eigenvalue range).
/// </summary>
public sealed class HessianSolveNotConvergedException(string message, double relativeResidual, int steps) : InvalidOperationException(message)
{
    /// <summary>‖v − H y‖/‖v‖ when CG stopped.</summary>
    public double RelativeResidual { get; } = relativeResidual;

    /// <summary>CG steps taken (counting the restarts after true-residual checks).</summary>
    public int Steps { get; } = steps;
}
