namespace DistSoftmax.Core.Analysis;

/// <summary>
/// What <see cref="PostSolveAnalysis.Run"/> computed at x*: the arrays that were asked for (null otherwise), the
/// regime, and warnings for the user.
/// </summary>
/// <param name="Fitted">The fitted values (<see cref="FittedModel"/>), shape <paramref name="FittedShape"/>.</param>
/// <param name="Residual">fitted − b (rescaled: u − ⟨u,1⟩b), the residual of the loss ½‖c‖², same shape.</param>
/// <param name="FittedShape">[n] for a vector problem, [m, n'] for a matrix problem.</param>
/// <param name="Gradient">∇L(x*) (d, or d² for a matrix problem).</param>
/// <param name="Hessian">∇²L(x*), unknowns×unknowns row-major.</param>
/// <param name="HessianEigenvalues">Its eigenvalues, ascending.</param>
public sealed record PostSolveResult(
    double[]? Fitted,
    double[]? Residual,
    long[]? FittedShape,
    double[]? Gradient,
    double[]? Hessian,
    double[]? HessianEigenvalues,
    Regime Regime,
    IReadOnlyList<string> Warnings);
