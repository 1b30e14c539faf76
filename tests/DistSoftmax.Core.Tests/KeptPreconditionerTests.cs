using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// approx-newton's preconditioned form samples a fresh preconditioner at every iterate until the solve has settled
/// (<see cref="SampledGramCurvature.SettledSteps"/>), then keeps the last one to the end
/// (<see cref="SampledGramPreconditioner.RefreshIterations"/>), and still reaches exact Newton's minimiser.
/// </summary>
public class KeptPreconditionerTests
{
    [Fact]
    public void Once_settled_the_preconditioned_form_builds_no_new_preconditioner_and_still_converges()
    {
        const int n = 6000, d = 16;
        var a = TestProblem.Gaussian(n, d, 31);
        var xTrue = TestProblem.Vector(d, 32, 0.8);
        var p = new TestProblem(NormalizedSoftmax.Instance, a, TestProblem.Softmax(a, xTrue), Regularizer.None);
        var options = new SolverOptions { RelativeTolerance = 1e-11, Seed = 5 };
        var run = new NewtonCg(CgPreconditioning.SampledGram).Start(p.Objective, new double[d], options);
        var driver = p.Driver(2);
        var builtAt = SettledRuns.IterationsOf<SampledGramRequest>(run, driver);
        var result = run.Result!;
        Assert.True(result.Exit == ExitCondition.Converged, $"{result.Exit} {result.Message}");

        var trace = result.Trace;
        int firstSettled = Enumerable.Range(0, trace.Count - 1).FirstOrDefault(i => SettledRuns.Settled(trace, i), -1);
        Assert.True(firstSettled > 0 && firstSettled < trace.Count - 2,
            $"settled at iteration {firstSettled} of {trace.Count - 1}: the instance does not reach a kept phase of two iterations");
        // Every iteration before the settled one built (RefreshIterations = 1); none after it did.
        Assert.Equal(Enumerable.Range(0, firstSettled), builtAt.Where(i => i < firstSettled));
        Assert.DoesNotContain(builtAt, i => i > firstSettled);

        var newton = p.Driver(2).Solve(SolverCatalog.Create("newton"), p.Objective, new double[d], options);
        double distance = Math.Sqrt(result.X.Zip(newton.X, (u, v) => (u - v) * (u - v)).Sum());
        Assert.True(distance <= 1e-6 * Math.Sqrt(newton.X.Sum(v => v * v)), $"‖x − x_newton‖ = {distance:E2}");
    }
}
