using DistSoftmax.Core.Solvers;

namespace DistSoftmax;

/// <summary>What a solve found. Stopping without meeting the tolerance is a result (<see cref="Converged"/> false), not an exception.</summary>
/// <param name="X">The solution: d values, or for a matrix problem the d×d X row-major (d² values).</param>
/// <param name="Loss">The loss at <paramref name="X"/>.</param>
/// <param name="GradientNorm">‖∇L(X)‖.</param>
/// <param name="InitialGradientNorm">‖∇L(x0)‖ (the relative tolerance is measured against it).</param>
/// <param name="Iterations">Iterations taken.</param>
/// <param name="Exit">Why the solver stopped.</param>
/// <param name="Message">The stop reason in words.</param>
/// <param name="Trace">One row per iteration (iteration 0 is the start): loss, gradient norm, step, rows sampled, time.</param>
/// <param name="Solver">The solver that ran.</param>
/// <param name="SolverChoiceReason">Why that solver: the automatic choice's predicted costs, or the request.</param>
/// <param name="Seconds">Wall-clock seconds of the solve itself.</param>
public sealed record SoftmaxResult(double[] X, double Loss, double GradientNorm, double InitialGradientNorm, int Iterations,
    ExitCondition Exit, string Message, IReadOnlyList<TraceEntry> Trace, string Solver, string SolverChoiceReason, double Seconds)
{
    /// <summary>Whether the gradient-norm tolerance was met.</summary>
    public bool Converged => Exit == ExitCondition.Converged;
}
