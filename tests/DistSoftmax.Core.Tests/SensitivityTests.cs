using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Sensitivity;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Tests;

public class SensitivityTests
{
    /// <summary>n = 60, d = 4, b = 0.9·softmax(A x_true) + 0.1·Dirichlet, w = 0.1: a positive-definite Hessian at x*.</summary>
    private static VectorProblem WellConditioned(IVectorFamily family)
    {
        int n = 60, d = 4;
        var a = TestProblem.Gaussian(n, d, 101, 2.0);
        var xTrue = TestProblem.Vector(d, 102);
        var f = TestProblem.Softmax(a, xTrue);
        var noise = new Rng(103).NextDirichlet(n);
        var b = f.Select((v, i) => 0.9 * v + 0.1 * noise[i]).ToArray();
        return new VectorProblem(family, a, b, Regularizer.Uniform(0.1));
    }

    [Fact]
    public void Solution_ratio_settles_to_the_linearised_prediction_as_epsilon_goes_to_zero()
    {
        var problem = WellConditioned(NormalizedSoftmax.Instance);
        var options = new SensitivityOptions { Epsilons = new[] { 1e-1, 1e-2, 1e-3, 1e-4 }, Draws = 3, Seed = 7, Shards = 2, Parallelism = 2 };
        var result = SensitivityAnalysis.Run(problem, options);
        Assert.True(result.BaseSolve.Converged, result.BaseSolve.Message);
        Assert.True(result.HessianMinEigenvalue > 0, $"λ_min = {result.HessianMinEigenvalue}");
        Assert.All(result.Perturbations, p => Assert.True(p.GradientNorm < 1e-9, $"re-solve ended with ‖∇L‖ = {p.GradientNorm:E2} ({p.Exit})"));
        for (int k = 0; k < options.Draws; k++)
        {
            var ratios = result.Perturbations.Where(p => p.Draw == k).OrderByDescending(p => p.Epsilon).ToArray();
            double predicted = result.PredictedSolutionRatio[k], predictedF = result.PredictedOutputRatio[k];
            Assert.True(predicted > 0 && predictedF > 0);
            var gaps = ratios.Select(r => Math.Abs(r.SolutionRatio / predicted - 1)).ToArray();
            // Settles: at ε = 1e-4 within 1e-3 of the linearised prediction, and the gap shrinks with ε (O(ε)).
            Assert.True(gaps[^1] < 1e-3, $"draw {k}: ratio {ratios[^1].SolutionRatio:G8} vs predicted {predicted:G8}");
            Assert.True(gaps[^1] < gaps[1] && gaps[1] < gaps[0] + 1e-12, $"draw {k}: gaps {string.Join(", ", gaps.Select(g => g.ToString("E2")))}");
            Assert.True(Math.Abs(ratios[^1].OutputRatio / predictedF - 1) < 1e-3,
                $"draw {k}: output ratio {ratios[^1].OutputRatio:G8} vs predicted {predictedF:G8}");
        }
        // The empirical Lipschitz constant is the largest ratio over the draws.
        var last = result.Summary[^1];
        Assert.Equal(result.Perturbations.Where(p => p.Epsilon == 1e-4).Max(p => p.SolutionRatio), last.MaxSolutionRatio);
    }

    [Theory]
    [InlineData("multiple-normalized")]
    [InlineData("multiple-rescaled")]
    public void Matrix_problem_ratio_settles_to_the_linearised_prediction_when_A1_A2_and_B_move(string name)
    {
        var problem = new MatrixSensitivityProblem(MatrixTestProblems.Random(name, 8, 2, weighted: true, seed: 111), MatrixSensitivityProblem.AllParts);
        var options = new SensitivityOptions { Epsilons = new[] { 1e-2, 1e-3, 1e-4 }, Draws = 2, Seed = 9, Shards = 2, Parallelism = 2 };
        var result = SensitivityAnalysis.Run(problem, options);
        Assert.True(result.BaseSolve.Converged, result.BaseSolve.Message);
        Assert.True(result.HessianMinEigenvalue > 0, $"λ_min = {result.HessianMinEigenvalue}");
        Assert.Equal(8 * 8, problem.Output(result.Solution).Length);
        for (int k = 0; k < options.Draws; k++)
        {
            var smallest = result.Perturbations.Single(p => p.Draw == k && p.Epsilon == 1e-4);
            Assert.True(Math.Abs(smallest.SolutionRatio / result.PredictedSolutionRatio[k] - 1) < 1e-3,
                $"draw {k}: ratio {smallest.SolutionRatio:G8} vs predicted {result.PredictedSolutionRatio[k]:G8}");
            Assert.True(Math.Abs(smallest.OutputRatio / result.PredictedOutputRatio[k] - 1) < 1e-3,
                $"draw {k}: output ratio {smallest.OutputRatio:G8} vs predicted {result.PredictedOutputRatio[k]:G8}");
        }
        // The joint direction has unit norm over the three matrices.
        Assert.Equal(1.0, problem.Direction(9, 0).Norm, 1e-12);
        Assert.Equal(3, problem.Direction(9, 0).Parts.Count);
    }

    [Fact]
    public void Linearised_prediction_uses_the_exact_Hessian()
    {
        // H from the Gram pass equals central differences of the gradient.
        var problem = WellConditioned(new RescaledRegression(Unit.Exp));
        var x = TestProblem.Vector(4, 104, 0.3);
        var h = SensitivityAnalysis.Hessian(problem, x, 2);
        double step = 1e-6;
        for (int j = 0; j < 4; j++)
        {
            var xp = (double[])x.Clone(); xp[j] += step;
            var xm = (double[])x.Clone(); xm[j] -= step;
            var gp = SensitivityAnalysis.Gradient(problem, xp, 1);
            var gm = SensitivityAnalysis.Gradient(problem, xm, 1);
            for (int i = 0; i < 4; i++)
                Assert.Equal((gp[i] - gm[i]) / (2 * step), h[i * 4 + j], 1e-6 * (1 + Math.Abs(h[i * 4 + j])));
        }
    }

    [Fact]
    public void Results_do_not_depend_on_the_degree_of_parallelism()
    {
        var problem = WellConditioned(NormalizedSoftmax.Instance);
        var options = new SensitivityOptions { Epsilons = new[] { 1e-2, 1e-3 }, Draws = 2, Seed = 8 };
        var one = SensitivityAnalysis.Run(problem, options with { Parallelism = 1 });
        var two = SensitivityAnalysis.Run(problem, options with { Parallelism = 2 });
        Assert.Equal(one.Perturbations.Select(p => p.SolutionChange), two.Perturbations.Select(p => p.SolutionChange));
        Assert.Equal(one.Perturbations.Select(p => p.OutputChange), two.Perturbations.Select(p => p.OutputChange));
    }

    [Fact]
    public void Perturbation_directions_have_unit_Frobenius_norm_and_keep_the_sparsity_pattern()
    {
        var a = TestProblem.Gaussian(30, 5, 105);
        for (int i = 0; i < 30; i++) a[i, i % 5] = 0;
        var csr = a.ToCsr();
        var delta = SensitivityAnalysis.Direction(csr, 9, 0);
        Assert.Equal(1.0, SensitivityAnalysis.FrobeniusNorm(delta), 1e-12);
        var moved = (Linear.CsrMatrix)SensitivityAnalysis.Add(csr, delta, 0.5);
        Assert.Equal(csr.ColumnIndices, moved.ColumnIndices);
        Assert.Equal(0.5, SensitivityAnalysis.FrobeniusNorm(SensitivityAnalysis.Add(SensitivityAnalysis.Add(csr, delta, 0.5), csr, -1.0)), 1e-12);
    }
}
