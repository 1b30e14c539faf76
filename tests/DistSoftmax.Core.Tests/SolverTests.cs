using System.Numerics.Tensors;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

public class SolverTests
{
    private static (TestProblem Problem, double[] XTrue) Planted(int n = 400, int d = 8, ulong seed = 31)
    {
        var a = TestProblem.Gaussian(n, d, seed);
        var xTrue = TestProblem.Vector(d, seed + 1, 1.5);
        var b = TestProblem.Softmax(a, xTrue);
        return (new TestProblem(NormalizedSoftmax.Instance, a, b, Regularizer.None), xTrue);
    }

    [Theory]
    [InlineData("approx-newton")]
    [InlineData("newton")]
    [InlineData("newton-cg")]
    [InlineData("lbfgs")]
    [InlineData("gd")]
    public void Every_solver_recovers_a_planted_minimiser(string solver)
    {
        var (p, xTrue) = Planted();
        var options = new SolverOptions { RelativeTolerance = 1e-11, MaxIterations = solver == "gd" ? 20000 : 500, Seed = 3 };
        var result = p.Driver(3).Solve(SolverCatalog.Create(solver), p.Objective, new double[p.D], options);
        Assert.True(result.Exit == ExitCondition.Converged, $"{solver}: {result.Exit} {result.Message}");
        double err = Assertions.RelativeError(result.X, xTrue);
        Assert.True(err < 1e-8, $"{solver}: ‖x − x*‖/‖x*‖ = {err:E2} after {result.Iterations} iterations");
    }

    [Theory]
    [InlineData("rescaled", Unit.Exp)]
    [InlineData("rescaled", Unit.Cosh)]
    [InlineData("hyperbolic", Unit.Sinh)]
    [InlineData("hyperbolic", Unit.Cosh)]
    [InlineData("rescaled", Unit.Tanh)]
    [InlineData("hyperbolic", Unit.Tanh)]
    public void Newton_solvers_recover_planted_minimisers_of_the_other_families(string problem, Unit unit)
    {
        var planted = PlantedFamilyProblem.Create(problem, unit);
        var p = planted.P;
        // cosh is even, so x = 0 is a stationary point and ±x* are both minimisers: start in x*'s basin. A rescaled
        // tanh loss is 0 at x = 0 (tanh 0 = 0), a trivial minimiser: start in x*'s basin too.
        var x0 = unit == Unit.Cosh || (problem == "rescaled" && unit == Unit.Tanh) ? planted.InBasin : new double[p.D];
        foreach (var solver in new[] { "newton", "approx-newton", "newton-cg" })
        {
            var result = p.Driver(2).Solve(SolverCatalog.Create(solver), p.Objective, x0,
                new SolverOptions { RelativeTolerance = 1e-11, MaxIterations = 300 });
            Assert.True(result.Exit == ExitCondition.Converged, $"{solver}: {result.Exit} {result.Message}");
            double err = planted.Error(result.X);
            Assert.True(err < 1e-8, $"{problem}-{unit} {solver}: error {err:E2}");
        }
    }

    [Fact]
    public void Same_seed_and_layout_give_bit_identical_iterates()
    {
        var (p, _) = Planted(600, 6, 51);
        var options = new SolverOptions { Seed = 77, RelativeTolerance = 1e-10 };
        var first = p.Driver(4).Solve(new ApproximateNewton(), p.Objective, new double[p.D], options);
        var second = p.Driver(4, ShardComputeOptions.Sequential).Solve(new ApproximateNewton(), p.Objective, new double[p.D], options);
        Assert.Equal(first.X, second.X);
        Assert.Equal(first.Trace.Select(t => t.Loss), second.Trace.Select(t => t.Loss));
        Assert.Equal(first.Trace.Select(t => t.RowsSampled), second.Trace.Select(t => t.RowsSampled));
        var other = p.Driver(4).Solve(new ApproximateNewton(), p.Objective, new double[p.D], options with { Seed = 78 });
        Assert.NotEqual(first.Trace.Select(t => t.RowsSampled), other.Trace.Select(t => t.RowsSampled));
    }

    [Theory]
    [InlineData("approx-newton")]
    [InlineData("lbfgs")]
    public void One_solver_instance_drives_interleaved_solves_as_separate_instances_would(string name)
    {
        var (p, _) = Planted(600, 6, 52);
        var options = new SolverOptions { Seed = 5, RelativeTolerance = 1e-10 };
        var shared = SolverCatalog.Create(name);
        var starts = new[] { new double[p.D], TestProblem.Vector(p.D, 53, 0.5) };
        var runs = starts.Select(x0 => shared.Start(p.Objective, x0, options)).ToArray();
        var drivers = starts.Select(_ => p.Driver(2)).ToArray();
        var pending = runs.Select(r => r.Start()).ToArray();
        // Alternate requests between the two solves until both finish.
        while (pending.Any(r => r is not null))
            for (int j = 0; j < runs.Length; j++)
                if (pending[j] is { } request) pending[j] = runs[j].Submit(drivers[j].Evaluate(request));
        for (int j = 0; j < runs.Length; j++)
        {
            var alone = p.Driver(2).Solve(SolverCatalog.Create(name), p.Objective, starts[j], options);
            Assert.Equal(alone.X, runs[j].Result!.X);
            Assert.Equal(alone.Iterations, runs[j].Result!.Iterations);
        }
    }

    [Fact]
    public void An_indefinite_Hessian_ends_with_a_clear_exit_condition_and_no_NaN()
    {
        // Hyperbolic sinh regression with b = 30: for 0 < sinh(z) < 15, D = cosh² + sinh·(sinh − 30) < 0,
        // so the exact Hessian is indefinite at the start.
        int n = 200, d = 5;
        var a = TestProblem.Gaussian(n, d, 61, 2.0);
        var b = Enumerable.Repeat(30.0, n).ToArray();
        var p = new TestProblem(new HyperbolicRegression(Unit.Sinh), a, b, Regularizer.None);
        var x0 = TestProblem.Vector(d, 63, 0.5);
        var h0 = Evaluation.At(p.Driver(), p.Objective, x0);
        Assert.True(Kernels.DenseAlgebra.EigenvalueRange(h0.Hessian, d).Min < 0, "the instance must start indefinite");
        foreach (var solver in SolverCatalog.Names)
        {
            var result = p.Driver(2).Solve(SolverCatalog.Create(solver), p.Objective, x0, new SolverOptions { MaxIterations = 300 });
            Assert.All(result.X, v => Assert.True(double.IsFinite(v)));
            Assert.True(double.IsFinite(result.Loss));
            Assert.True(result.Loss < h0.Loss, $"{solver} did not decrease the loss");
            Assert.Contains(result.Exit, new[] { ExitCondition.Converged, ExitCondition.MaxIterations, ExitCondition.Stalled });
            Assert.False(string.IsNullOrWhiteSpace(result.Message));
        }
    }

    [Fact]
    public void A_solve_reports_a_trace_row_per_iteration()
    {
        var (p, _) = Planted(200, 4, 71);
        var seen = new List<TraceEntry>();
        var result = p.Driver(2).Solve(new ApproximateNewton(), p.Objective, new double[p.D], new SolverOptions(), seen.Add);
        Assert.Equal(result.Iterations + 1, result.Trace.Count);
        Assert.Equal(result.Trace, seen);
        Assert.All(result.Trace.Skip(1), t => Assert.True(t.RowsSampled > 0 && t.StepLength > 0));
        Assert.True(result.Trace.Select(t => t.Seconds).SequenceEqual(result.Trace.Select(t => t.Seconds).Order()));
    }

    [Fact]
    public void Max_iterations_and_cancellation_end_with_their_exit_conditions()
    {
        var (p, _) = Planted(200, 4, 81);
        var capped = p.Driver().Solve(new GradientDescent(), p.Objective, new double[p.D], new SolverOptions { MaxIterations = 3 });
        Assert.Equal(ExitCondition.MaxIterations, capped.Exit);
        Assert.Equal(3, capped.Iterations);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var cancelled = p.Driver().Solve(new Newton(), p.Objective, new double[p.D], new SolverOptions(), cancellation: cts.Token);
        Assert.Equal(ExitCondition.Cancelled, cancelled.Exit);
    }

    [Fact]
    public void A_non_finite_start_is_reported_as_diverged()
    {
        int n = 50, d = 3;
        var a = TestProblem.Gaussian(n, d, 91);
        var p = new TestProblem(new HyperbolicRegression(Unit.Cosh), a, TestProblem.Vector(n, 92), Regularizer.None);
        var result = p.Driver().Solve(new Newton(), p.Objective, new[] { 5000.0, 0, 0 }, new SolverOptions());
        Assert.Equal(ExitCondition.Diverged, result.Exit);
    }

    /// <summary>
    /// Newton-CG on an indefinite exact Hessian where CG's first direction has positive curvature and its second does
    /// not: the step is CG's iterate so far, and the negative curvature it met is reported (it used to be dropped, so
    /// the curvature schedule never returned to Gauss–Newton). The instance was found by a search over start points.
    /// </summary>
    [Fact]
    public void Newton_CG_reports_negative_curvature_met_after_its_first_step()
    {
        int n = 400, d = 6;
        var p = new TestProblem(NormalizedSoftmax.Instance, TestProblem.Gaussian(n, d, 71), TestProblem.Distribution(n, 72), Regularizer.None);
        var x0 = TestProblem.Vector(d, 120, 1.5);
        var result = p.Driver(1).Solve(SolverCatalog.Create("newton-cg"), p.Objective, x0,
            new SolverOptions { Hessian = HessianMode.Exact, MaxIterations = 1 });
        var step = result.Trace[1];
        Assert.True(step.CgIterations >= 2, $"CG stopped after {step.CgIterations} product(s): the case needs a later direction");
        Assert.True(step.NegativeCurvature < 0, $"negative curvature {step.NegativeCurvature:E2} was not reported");
        Assert.True(step.Loss < result.Trace[0].Loss, "the truncated CG step must still descend");
    }
}
