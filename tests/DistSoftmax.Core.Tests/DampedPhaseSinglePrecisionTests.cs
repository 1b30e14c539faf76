using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The sampled step's Gram is asked for in single precision exactly while a line-search solve's steps are cut back
/// (and before the first step), in double once they are full, never under a trust region; the solve still reaches
/// exact Newton's minimiser.
/// </summary>
public class DampedPhaseSinglePrecisionTests
{
    /// <summary>
    /// As `generate --problem normalized` makes them (A with N(0, 1/d) entries, x_true of scale 3, b = 0.9·softmax(A
    /// x_true) + 0.1·a Dirichlet draw): from x0 = 0 the first steps are cut back.
    /// </summary>
    private static TestProblem Generated(int n, int d, ulong seed)
    {
        var a = TestProblem.Gaussian(n, d, seed);
        var planted = TestProblem.Softmax(a, TestProblem.Vector(d, seed + 1, 3.0));
        var noise = TestProblem.Distribution(n, seed + 2);
        var b = planted.Zip(noise, (f, w) => 0.9 * f + 0.1 * w).ToArray();
        return new TestProblem(NormalizedSoftmax.Instance, a, b, Regularizer.None);
    }

    [Theory]
    [InlineData("line-search")]
    [InlineData("trust-region")]
    public void The_model_is_summed_in_single_precision_only_while_line_search_steps_are_cut_back(string globalization)
    {
        const int n = 30000, d = 64;
        var p = Generated(n, d, 11);
        bool lineSearch = globalization == "line-search";
        var options = new SolverOptions
        {
            RelativeTolerance = 1e-8, Seed = 3,
            Globalization = lineSearch ? GlobalizationMode.LineSearch : GlobalizationMode.TrustRegion,
        };
        Assert.Equal(ApproximateNewtonForm.SampledNewton, VectorSolverCostModel.FormFor(n, d, (long)n * d, options));
        var run = SolverCatalog.Create("approx-newton", options.Globalization).Start(p.Objective, new double[d], options);
        var driver = p.Driver(2);
        var asked = new List<(int Iteration, bool Single)>();
        var request = run.Start();
        while (request is not null)
        {
            if (request is SampledGramRequest sampled) asked.Add((run.Trace.Count - 1, sampled.SinglePrecision));
            request = run.Submit(driver.Evaluate(request));
        }
        var result = run.Result!;
        Assert.True(result.Exit == ExitCondition.Converged, $"{result.Exit} {result.Message}");
        var trace = result.Trace;
        foreach (var (iteration, single) in asked)
        {
            bool cutBack = lineSearch && (iteration == 0 || trace[iteration].StepLength < 1);
            Assert.True(single == cutBack, $"iteration {iteration} (step {trace[iteration].StepLength}) asked for {(single ? "single" : "double")} sums");
        }
        if (lineSearch)
            Assert.True(asked.Any(a => a.Single && a.Iteration > 0) && asked.Any(a => !a.Single),
                "the instance does not have both a cut-back step after the first and full steps: " + string.Join(", ", trace.Select(t => t.StepLength.ToString("G3"))));

        var newton = p.Driver(2).Solve(SolverCatalog.Create("newton", options.Globalization), p.Objective, new double[d], options);
        Assert.True(Assertions.RelativeError(result.X, newton.X) < 1e-6, $"x differs from Newton's by {Assertions.RelativeError(result.X, newton.X):E2}");
        if (lineSearch && WeightedSyrk.SingleAvailable(d)) Assert.True(NativeBlas.SingleSyrkAvailable);
    }
}
