using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Tests;

public class ForcingTermTests
{
    [Fact]
    public void Far_from_the_target_it_is_the_capped_superlinear_rule()
    {
        // ‖∇L‖ = 1e-2 of ‖∇L(x0)‖ = 1: √(1e-2) = 0.1, under both caps; the target (1e-8) is far away.
        Assert.Equal(0.1, ForcingTerm.For(1e-2, 1.0, 1e-8, NewtonCg.MaxForcingTerm), 15);
        Assert.Equal(NewtonCg.PreconditionedForcingTerm, ForcingTerm.For(1e-2, 1.0, 1e-8, NewtonCg.PreconditionedForcingTerm));
    }

    [Fact]
    public void Each_preconditioner_has_its_own_cap_and_plain_CG_the_overall_one()
    {
        Assert.Equal(ForcingTerm.Cap, NewtonCg.ForcingTermCap(CgPreconditioning.None));
        Assert.Equal(0.01, NewtonCg.ForcingTermCap(CgPreconditioning.SampledGram));
        Assert.Equal(0.05, NewtonCg.ForcingTermCap(CgPreconditioning.Kronecker));
        // ‖∇L‖ = 1e-2 of ‖∇L(x0)‖: the superlinear rule's 0.1 is capped at 0.05 with the Kronecker factors.
        Assert.Equal(0.05, ForcingTerm.For(1e-2, 1.0, 1e-8, NewtonCg.ForcingTermCap(CgPreconditioning.Kronecker)));
    }

    [Fact]
    public void Near_the_target_it_asks_only_for_a_residual_of_half_the_target()
    {
        // ‖∇L‖ = 1e-7, target 1e-8: the superlinear rule would ask for ‖r‖ ≤ 3.2e-4·‖∇L‖ = 3.2e-11, yet any
        // residual below 5e-9 = ½·target ends the solve, so η = 5e-9 / 1e-7 = 0.05.
        double eta = ForcingTerm.For(1e-7, 1.0, 1e-8, NewtonCg.PreconditionedForcingTerm);
        Assert.Equal(0.05, eta, 15);
        Assert.True(eta * 1e-7 <= ForcingTerm.TargetFraction * 1e-8 * (1 + 1e-12));
    }

    [Fact]
    public void It_never_exceeds_the_cap_even_right_at_the_target()
    {
        // ‖∇L‖ just above the target: ½·target/‖∇L‖ ≈ ½ at most; and a target above ‖∇L‖ (already converged) stays at ½.
        Assert.Equal(ForcingTerm.Cap, ForcingTerm.For(1e-8, 1.0, 1e-7, NewtonCg.MaxForcingTerm));
        Assert.InRange(ForcingTerm.For(1.01e-8, 1.0, 1e-8, NewtonCg.PreconditionedForcingTerm), 0.49, ForcingTerm.Cap);
    }

    [Fact]
    public void The_quadratic_rule_asks_for_the_relative_gradient_itself()
    {
        // ‖∇L‖ = 1e-4 of ‖∇L(x0)‖ = 1, target 1e-12: κ = 1 gives η = 1e-4 where κ = ½ gives 1e-2; far from the
        // solution both are capped.
        Assert.Equal(1e-4, ForcingTerm.For(1e-4, 1.0, 1e-12, NewtonCg.KroneckerForcingTerm, quadratic: true), 15);
        Assert.Equal(1e-2, ForcingTerm.For(1e-4, 1.0, 1e-12, NewtonCg.KroneckerForcingTerm), 15);
        Assert.Equal(NewtonCg.KroneckerForcingTerm, ForcingTerm.For(0.3, 1.0, 1e-12, NewtonCg.KroneckerForcingTerm, quadratic: true));
        // The target's floor still applies: ‖∇L‖ = 1e-7, target 1e-8 → ½·1e-8/1e-7 = 0.05 ≥ 1e-7.
        Assert.Equal(0.05, ForcingTerm.For(1e-7, 1.0, 1e-8, NewtonCg.KroneckerForcingTerm, quadratic: true), 15);
    }

    [Fact]
    public void The_nonlinear_floor_is_the_quadratic_models_next_remainder_between_half_the_target_and_the_cap()
    {
        // ‖∇L‖ went 1e-4 → 1e-6 in a full step: ν_{k+1} ≈ 1e-6·(1e-6/1e-4)² = 1e-10, above ½·target = 5e-13.
        Assert.Equal(1e-10, ForcingTerm.NonlinearResidualFloor(1e-6, 1e-4, 1e-12, NewtonCg.KroneckerForcingTerm), 1e-22);
        // Converging fast: the prediction (1e-9·1e-6 = 1e-15) is under ½·target = 5e-12, which ends the solve.
        Assert.Equal(5e-12, ForcingTerm.NonlinearResidualFloor(1e-9, 1e-6, 1e-11, NewtonCg.KroneckerForcingTerm), 1e-24);
        // A step that barely reduced ‖∇L‖ (0.5 → 0.4): the prediction 0.256 is capped at η_max·‖∇L‖ = 0.02.
        Assert.Equal(0.02, ForcingTerm.NonlinearResidualFloor(0.4, 0.5, 1e-9, NewtonCg.KroneckerForcingTerm), 15);
        // No previous gradient (or a zero one): no floor.
        Assert.Equal(0, ForcingTerm.NonlinearResidualFloor(1e-6, 0, 1e-12, NewtonCg.KroneckerForcingTerm));
    }

    [Fact]
    public void A_zero_target_leaves_the_superlinear_rule_alone()
    {
        Assert.Equal(Math.Sqrt(1e-6), ForcingTerm.For(1e-6, 1.0, 0.0, NewtonCg.MaxForcingTerm), 15);
    }

    [Fact]
    public void The_stopping_target_is_the_larger_of_the_absolute_and_relative_tolerances()
    {
        var options = new SolverOptions { RelativeTolerance = 1e-8, AbsoluteTolerance = 1e-10 };
        Assert.Equal(1e-8 * 3.0, options.StoppingTarget(3.0));
        Assert.Equal(1e-10, options.StoppingTarget(1e-5));
    }
}
