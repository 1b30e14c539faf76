using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using Xunit;

namespace DistSoftmax.Data.Tests;

/// <summary>
/// Newton-type solvers on an instance the `generate` command makes (sparse normalized, n = 2000, d = 10, seed 2):
/// b is peaked (one row holds most of the mass), and at x0 = 0 the softmax's curvature is so flat that an uncapped
/// Gauss–Newton step jumps into a saturated region where the gradient vanishes: it "converges" in one iteration far
/// from the minimum. The trust radius (SolverOptions.TrustRadius) keeps the first steps short enough.
/// </summary>
public class SolverOnGeneratedInstanceTests
{
    private static (SolverResult Result, double Loss) Solve(string solver, double trustRadius)
    {
        var inst = Generators.Normalized(2000, 10, 2, sparse: true);
        var driver = new InProcessDriver(ShardLayout.VectorShards(NormalizedSoftmax.Instance, inst.A, inst.B, Regularizer.None, 2));
        var result = driver.Solve(SolverCatalog.Create(solver), new VectorObjective(NormalizedSoftmax.Instance, 10, 2000),
            new double[10], new SolverOptions { TrustRadius = trustRadius });
        return (result, result.Loss);
    }

    [Theory]
    [InlineData("newton")]
    [InlineData("approx-newton")]
    public void With_the_default_trust_radius_the_minimum_is_found_where_an_uncapped_first_step_saturates(string solver)
    {
        var (uncapped, uncappedLoss) = Solve(solver, double.PositiveInfinity);
        Assert.True(uncapped.Iterations <= 2 && uncappedLoss > 1e-3,
            $"the uncapped solve was expected to stop early at a saturated point: {uncapped.Iterations} iterations, loss {uncappedLoss:E3}");

        var (capped, loss) = Solve(solver, new SolverOptions().TrustRadius);
        Assert.True(capped.Converged, capped.Message);
        Assert.True(loss < 1e-4, $"{solver}: loss {loss:E3} after {capped.Iterations} iterations");
        Assert.True(loss < uncappedLoss / 100);
    }
}
