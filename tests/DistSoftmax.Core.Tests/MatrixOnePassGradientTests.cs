using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// A matrix problem's one-pass trial (ScalarsRequest.WithGradient): the loss and ∇L from one pass, each equal to its
/// own request's, and solves that then need no gradient request: x0's first request and accepted trials carry it.
/// </summary>
public class MatrixOnePassGradientTests
{
    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(false, 3)]
    [InlineData(true, 3)]
    public void The_one_pass_gives_the_loss_and_the_gradient_of_their_own_requests(bool weighted, int shards)
    {
        const int n = 70, d = 5;
        var p = MatrixTestProblems.Random(Families.MultipleNormalized, n, d, weighted, 960);
        var x = MatrixTestProblems.RandomX(d, 961, 1.5);
        var onePass = (ScalarsReply)MatrixTestProblems.Driver(p, shards).Evaluate(new ScalarsRequest(x, WithGradient: true));
        var separate = MatrixTestProblems.Driver(p, shards);
        var loss = (ScalarsReply)separate.Evaluate(new ScalarsRequest(x));
        var gradient = ((GradientReply)separate.Evaluate(new GradientRequest(x, Array.Empty<double>(), HessianKind.GaussNewton, false))).Gradient;

        Assert.Equal(p.Objective.Evaluate(x, loss).Loss, p.Objective.Evaluate(x, onePass).Loss);
        var point = p.Objective.Evaluate(x, onePass);
        var fused = p.Objective.FusedGradient(point, onePass, point.Globals);
        Assert.NotNull(fused);
        double error = Assertions.RelativeError(fused!, gradient);
        Assert.True(error < 1e-13, $"one-pass gradient is {error:E2} (relative) from the gradient request's");
        // And against central differences of the loss along random directions: both are ∇L, not merely equal.
        const double h = 1e-5;
        for (ulong k = 0; k < 3; k++)
        {
            var v = MatrixTestProblems.RandomX(d, 970 + k);
            double Loss(double t)
            {
                var xt = (double[])x.Clone();
                for (int i = 0; i < xt.Length; i++) xt[i] += t * v[i];
                return p.Objective.Evaluate(xt, (ScalarsReply)separate.Evaluate(new ScalarsRequest(xt))).Loss;
            }
            double slope = (Loss(h) - Loss(-h)) / (2 * h), predicted = 0;
            for (int i = 0; i < v.Length; i++) predicted += fused![i] * v[i];
            Assert.True(Math.Abs(slope - predicted) < 1e-6 * Math.Max(1, Math.Abs(predicted)), $"directional derivative {predicted} against {slope} by differences");
        }
    }

    [Fact]
    public void A_family_without_fused_row_operators_answers_the_loss_alone()
    {
        const int n = 40, d = 3;
        var p = MatrixTestProblems.Random(Families.MultipleRescaled, n, d, false, 962);
        var x = MatrixTestProblems.RandomX(d, 963);
        var shard = p.Shard(new RowRange(0, n), ShardComputeOptions.Sequential);
        var onePass = (ScalarsReply)shard.Evaluate(new ScalarsRequest(x, WithGradient: true));
        var plain = (ScalarsReply)shard.Evaluate(new ScalarsRequest(x));
        Assert.Empty(onePass.GradientBasis);
        Assert.Equal(plain.Family.Sums, onePass.Family.Sums);
        var point = p.Objective.Evaluate(x, onePass);
        Assert.Null(p.Objective.FusedGradient(point, onePass, point.Globals));
    }

    [Theory]
    [InlineData("approx-newton")]
    [InlineData("lbfgs")]
    public void A_solve_asks_for_no_gradient_when_x0s_pass_and_its_trials_carry_it(string solverName)
    {
        // Dirichlet targets (a large-residual problem); x0's first request and every accepted trial carry ∇L.
        const int n = 200, d = 5;
        var p = MatrixTestProblems.Random(Families.MultipleNormalized, n, d, false, 964);
        var options = new SolverOptions { RelativeTolerance = 1e-9 };
        var run = SolverCatalog.Create(solverName, options).Start(p.Objective, new double[d * d], options);
        var driver = MatrixTestProblems.Driver(p, 2);
        int gradientRequests = 0, trials = 0;
        var request = run.Start();
        while (request is not null)
        {
            if (request is GradientRequest) gradientRequests++;
            if (request is ScalarsRequest { WithGradient: true }) trials++;
            else if (request is ScalarsRequest) Assert.Fail("a loss request without the gradient");
            request = run.Submit(driver.Evaluate(request));
        }
        var result = run.Result!;
        Assert.True(result.Converged, result.Message);
        Assert.True(result.Iterations >= 3, $"{result.Iterations} iterations");
        Assert.True(trials > result.Iterations, $"{trials} one-pass requests for {result.Iterations} iterations");
        Assert.Equal(0, gradientRequests);
        var reference = MatrixTestProblems.Driver(p, 1).Solve(SolverCatalog.Create("newton", options), p.Objective, new double[d * d], options);
        Assert.True(reference.Converged, reference.Message);
        Assert.True(Assertions.RelativeError(result.X, reference.X) < 1e-6, "the solve's minimiser differs from exact Newton's");
    }
}
