using DistSoftmax.Core.Problems;

using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Tests;

public class StoppingRuleTests
{
    [Theory]
    [InlineData("newton", GlobalizationMode.LineSearch)]
    [InlineData("approx-newton", GlobalizationMode.LineSearch)]
    [InlineData("lbfgs", GlobalizationMode.LineSearch)]
    [InlineData("newton", GlobalizationMode.TrustRegion)]
    [InlineData("newton-cg", GlobalizationMode.TrustRegion)]
    public void A_start_whose_gradient_is_zero_to_rounding_is_reported_converged_with_that_reason(string solver, GlobalizationMode globalization)
    {
        // x0 = a planted minimiser, so ∇L(x0) is rounding (≈ 1e-17); no relative tolerance on it can be met.
        var a = TestProblem.Gaussian(300, 5, 11);
        var xTrue = TestProblem.Vector(5, 12, 1.0);
        var p = new TestProblem(NormalizedSoftmax.Instance, a, TestProblem.Softmax(a, xTrue), Regularizer.None);
        var options = new SolverOptions { Globalization = globalization };
        var result = p.Driver(2).Solve(SolverCatalog.Create(solver, options), p.Objective, xTrue, options);
        Assert.True(result.InitialGradientNorm > 0, "the start's gradient must be rounding, not exactly 0");
        Assert.Equal(ExitCondition.Converged, result.Exit);
        Assert.Equal(0, result.Iterations);
        Assert.Contains("zero to rounding", result.Message);
    }

    [Fact]
    public void A_start_with_a_huge_loss_and_a_large_gradient_is_not_taken_for_a_stationary_point()
    {
        // Hyperbolic exp regression with targets b = exp(A x_true) up to ≈ e⁴⁰: at x0 = 0 the loss is ≈ 1e33 and ‖∇L‖
        // ≈ 1e16. ∇L's rounding scales with the residual's norm √(2L), not with L: a threshold of 1000·ε·|L| (≈ 2e20)
        // once reported this start as a stationary point, converged after 0 iterations at x = 0.
        var a = TestProblem.Gaussian(300, 6, 15);
        var xTrue = TestProblem.Vector(6, 16, 17.0);
        var b = new double[300];
        for (int i = 0; i < b.Length; i++)
        {
            double z = 0;
            for (int k = 0; k < 6; k++) z += a[i, k] * xTrue[k];
            b[i] = Math.Exp(z);
        }
        var p = new TestProblem(new HyperbolicRegression(Unit.Exp), a, b, Regularizer.None);
        var options = new SolverOptions();
        var result = p.Driver(2).Solve(SolverCatalog.Create("newton", options), p.Objective, new double[6], options);
        double initialLoss = result.Trace[0].Loss;
        Assert.True(initialLoss > 1e20 && result.InitialGradientNorm <= 1000 * NumericLimits.MachineEpsilon * initialLoss,
            $"the instance must be the regime of the old threshold (L(x0) = {initialLoss:E3}, ‖∇L(x0)‖ = {result.InitialGradientNorm:E3})");
        Assert.DoesNotContain("zero to rounding", result.Message);
        Assert.True(result.Converged, result.Message);
        Assert.True(result.Loss < 1e-20 * initialLoss, $"loss {result.Loss:E3} from {initialLoss:E3}");
        Assert.True(Assertions.RelativeError(result.X, xTrue) < 1e-6, $"x differs from x_true by {Assertions.RelativeError(result.X, xTrue):E2}");
    }

    [Fact]
    public void A_gradient_that_oscillates_while_the_loss_creeps_at_its_rounding_is_stalled()
    {
        var monitor = new StagnationMonitor(window: 10, initialGradientNorm: 1.0);
        double loss = 3.0e5;
        bool stalled = false;
        int iterations = 0;
        // Steady progress first: the gradient halves every iteration.
        for (double g = 0.5; g > 0.1; g /= 2, iterations++)
        {
            Assert.False(monitor.Observe(loss, loss - 1.0, g));
            loss -= 1.0;
        }
        // Then the loss moves only at the level of its rounding (1e-13 relative) and ‖∇L‖ wobbles around 0.09.
        for (int k = 0; k < 50 && !stalled; k++, iterations++)
        {
            double next = loss * (1 - (k % 2 == 0 ? 1e-13 : -5e-14));
            stalled = monitor.Observe(loss, next, 0.09 + 0.005 * (k % 3));
            loss = next;
        }
        Assert.True(stalled);
        Assert.InRange(iterations, 12, 14);
    }

    [Fact]
    public void A_slowly_but_steadily_falling_loss_is_not_stalled()
    {
        var monitor = new StagnationMonitor(window: 10, initialGradientNorm: 1.0);
        double loss = 1.0;
        for (int k = 0; k < 1000; k++)
        {
            double next = loss * (1 - 1e-6);
            Assert.False(monitor.Observe(loss, next, 1.0));
            loss = next;
        }
    }
}
