using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>One re-solve: direction <see cref="Draw"/> scaled to ‖A' − A‖_F = <see cref="Epsilon"/>.</summary>
/// <param name="SolutionRatio">‖x*(A') − x*(A)‖ / ε.</param>
/// <param name="OutputRatio">‖f(A') − f(A)‖ / ε, f the model output (the attention row) at the solution.</param>
public sealed record PerturbationResult(double Epsilon, int Draw, double SolutionChange, double OutputChange, double SolutionRatio,
    double OutputRatio, ExitCondition Exit, int Iterations, double GradientNorm);
