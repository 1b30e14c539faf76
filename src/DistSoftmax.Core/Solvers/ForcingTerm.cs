using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The forcing term η of an inexact Newton step (CG stops at ‖r‖ ≤ η‖∇L‖, r = −∇L − Hp the linear model's residual):
/// η = min(½, max(min(η_max, (‖∇L‖/‖∇L(x0)‖)^κ), ½·target/‖∇L‖)), κ = ½ or 1.
///   • (‖∇L‖/‖∇L(x0)‖)^κ gives superlinear local convergence for κ = ½ (Eisenstat–Walker's choice 2 in spirit) and
///     quadratic for κ = 1 (η = O(‖∇L‖), Dembo–Eisenstat–Steihaug), capped by η_max;
///   • ½·target/‖∇L‖ is a floor from the stopping test ‖∇L‖ ≤ target: to first order the next gradient is r, so a
///     residual below half the target already ends the solve and solving further only spends Hessian-vector products
///     (at n = 100000, d = 1000 the last two preconditioned iterations took 19 and 17 products for η ≈ 4e-3 and 5e-4
///     where the target needed η ≈ 0.02);
///   • ½ caps both, so a step is always a descent direction of the model by a fixed fraction.
/// </summary>
public static class ForcingTerm
{
    /// <summary>Largest forcing term whatever the other rules say.</summary>
    public const double Cap = 0.5;

    /// <summary>Fraction of the stopping target the step's linear residual aims at once that is the looser requirement.</summary>
    public const double TargetFraction = 0.5;

    /// <param name="gradientNorm">‖∇L‖ at the iterate.</param>
    /// <param name="initialGradientNorm">‖∇L(x0)‖.</param>
    /// <param name="target">The solve's stopping threshold on ‖∇L‖ (<see cref="SolverOptions.StoppingTarget"/>).</param>
    /// <param name="etaMax">The solver's cap on the superlinear rule (≤ <see cref="Cap"/>).</param>
    /// <param name="quadratic">κ = 1 instead of ½.</param>
    public static double For(double gradientNorm, double initialGradientNorm, double target, double etaMax, bool quadratic = false)
    {
        double relative = gradientNorm / Extremes.Max(initialGradientNorm, NumericLimits.Tiny);
        double superlinear = Extremes.Min(etaMax, quadratic ? relative : Math.Sqrt(relative));
        double floor = gradientNorm > 0 ? TargetFraction * target / gradientNorm : 0;
        return Extremes.Min(Cap, Extremes.Max(superlinear, floor));
    }

}
