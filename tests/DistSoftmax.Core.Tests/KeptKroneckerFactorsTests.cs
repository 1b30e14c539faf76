using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// approx-newton on a matrix problem forms its Kronecker factors at x0 and again every
/// <see cref="CgPreconditioners.KroneckerRefreshIterations"/> iterations while the solve has not settled
/// (<see cref="SampledGramCurvature.SettledSteps"/>: two full steps, the last barely changing the loss), then keeps them
/// (with the curvature pairs that correct them) — and still reaches exact Newton's minimiser.
/// </summary>
public class KeptKroneckerFactorsTests
{
    [Fact]
    public void Once_settled_a_matrix_solve_forms_no_new_factors_and_still_converges()
    {
        // Columns of A1 and A2 scaled by 0.1 … 10, from zeros: a long solve, damped steps first.
        const int d = 6;
        var p = MatrixTestProblems.UnequalColumnScales(120, d);
        var options = new SolverOptions { RelativeTolerance = 1e-10, MaxIterations = 80 };
        var driver = new InProcessDriver(p.Shards(2));
        var run = SolverCatalog.Create("approx-newton", options).Start(p.Objective, new double[d * d], options);
        var builtAt = SettledRuns.IterationsOf<KroneckerFactorsRequest>(run, driver);
        var result = run.Result!;
        Assert.True(result.Converged, $"{result.Exit} {result.Message}");

        var trace = result.Trace;
        // The iterations that form factors: x0, then each iteration due (KroneckerRefreshIterations after the last)
        // and not settled.
        var expected = new List<int> { 0 };
        for (int i = 1; i < trace.Count - 1; i++)
            if (i - expected[^1] >= CgPreconditioners.KroneckerRefreshIterations && !SettledRuns.Settled(trace, i)) expected.Add(i);
        Assert.Equal(expected, builtAt);
        // The instance exercises both phases: a refresh before settling, and a settled stretch long enough that the
        // old schedule would have formed the factors again.
        Assert.True(builtAt.Count >= 2, $"factors formed at [{string.Join(", ", builtAt)}] of {trace.Count - 1} iterations");
        Assert.True(trace.Count - 1 - builtAt[^1] > CgPreconditioners.KroneckerRefreshIterations,
            $"factors formed at [{string.Join(", ", builtAt)}] of {trace.Count - 1} iterations: no kept stretch");

        var newton = new InProcessDriver(p.Shards(2)).Solve(SolverCatalog.Create("newton", options), p.Objective, new double[d * d], options);
        Assert.True(newton.Converged, newton.Message);
        double distance = Math.Sqrt(result.X.Zip(newton.X, (u, v) => (u - v) * (u - v)).Sum());
        Assert.True(distance <= 1e-6 * Math.Sqrt(newton.X.Sum(v => v * v)), $"‖x − x_newton‖ = {distance:E2}");
    }
}
