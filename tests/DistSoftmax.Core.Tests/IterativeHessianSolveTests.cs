using System.Numerics.Tensors;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Sensitivity;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The Hessian solve without a dense Hessian (<see cref="ConjugateGradientHessianSolve"/>: CG on Hessian-vector
/// products, Lanczos for the eigenvalue range) against the dense one (<see cref="DenseHessianSolve"/>) at x*.
/// </summary>
public class IterativeHessianSolveTests
{
    private static readonly SolverOptions Tight = new SensitivityOptions().SolverOptions;

    /// <summary>A multiple softmax regression, m = n = 12, d = 4 (16 unknowns), regularised by W, and its x*.</summary>
    private static (MatrixSensitivityProblem Problem, double[] X) Matrix()
    {
        var problem = new MatrixSensitivityProblem(MatrixTestProblems.Random("multiple-normalized", 12, 4, weighted: true, seed: 411),
            MatrixSensitivityProblem.AllParts);
        return (problem, Solve(problem));
    }

    /// <summary>A normalized softmax regression, n = 80, d = 12, w = 0.1, and its x*.</summary>
    private static (VectorProblem Problem, double[] X) Vector()
    {
        int n = 80, d = 12;
        var a = TestProblem.Gaussian(n, d, 421, 1.0);
        var f = TestProblem.Softmax(a, TestProblem.Vector(d, 422));
        var noise = new Rng(423).NextDirichlet(n);
        var problem = new VectorProblem(NormalizedSoftmax.Instance, a, f.Select((v, i) => 0.9 * v + 0.1 * noise[i]).ToArray(), Regularizer.Uniform(0.1));
        return (problem, Solve(problem));
    }

    private static double[] Solve(ISensitivityProblem problem)
    {
        var result = problem.Driver(1).Solve(SolverCatalog.Create("newton", Tight), problem.Objective, new double[problem.Dimension], Tight);
        Assert.True(result.Converged, result.Message);
        return result.X;
    }

    private static double RelativeDifference(double[] a, double[] b)
    {
        var diff = new double[a.Length];
        TensorPrimitives.Subtract(a, b, diff);
        return TensorPrimitives.Norm<double>(diff) / TensorPrimitives.Norm<double>(b);
    }

    private static void AssertSameSolves(ISensitivityProblem problem, double[] x, bool expectPreconditioner)
    {
        int dim = problem.Dimension;
        var dense = new DenseHessianSolve(SensitivityAnalysis.Hessian(problem, x, 1), dim);
        var cg = new ConjugateGradientHessianSolve(new HessianVectorProducts(problem, x, 2, ShardComputeOptions.Sequential), seed: 3);
        Assert.Equal(expectPreconditioner, cg.Method.Contains("Kronecker"));
        Assert.True(dense.PositiveDefinite && cg.PositiveDefinite);
        for (int k = 0; k < 3; k++)
        {
            var v = new double[dim];
            Rng.ForStream(431, (ulong)k).FillNormal(v);
            var expected = dense.Solve(v);
            var actual = cg.Solve(v);
            double rel = RelativeDifference(actual, expected);
            Assert.True(rel < 1e-8, $"right-hand side {k}: CG and dense solves differ by {rel:E2} (relative)");
        }
        Assert.True(cg.Iterations > 0 && cg.Solves == 3);
        // The Lanczos range equals the dense eigenvalue range.
        Assert.True(cg.LanczosConverged, cg.Method);
        Assert.Equal(dense.Min, cg.Min, 1e-6 * dense.Min);
        Assert.Equal(dense.Max, cg.Max, 1e-8 * dense.Max);
    }

    [Fact]
    public void Cg_solve_equals_the_dense_solve_on_a_matrix_instance()
    {
        var (problem, x) = Matrix();
        AssertSameSolves(problem, x, expectPreconditioner: true);
    }

    [Fact]
    public void Cg_solve_equals_the_dense_solve_on_a_vector_instance()
    {
        var (problem, x) = Vector();
        AssertSameSolves(problem, x, expectPreconditioner: false);
    }

    [Fact]
    public void Hessian_vector_products_equal_the_dense_Hessian_times_v()
    {
        var (problem, x) = Matrix();
        int dim = problem.Dimension;
        var h = SensitivityAnalysis.Hessian(problem, x, 1);
        var products = new HessianVectorProducts(problem, x, 3);
        var v = new double[dim];
        Rng.ForStream(441).FillNormal(v);
        var expected = new double[dim];
        for (int i = 0; i < dim; i++) expected[i] = TensorPrimitives.Dot(h.AsSpan(i * dim, dim), v);
        Assert.True(RelativeDifference(products.Multiply(v), expected) < 1e-12);
        Assert.Equal(1, products.Products);
    }

    [Fact]
    public void Lanczos_eigenvalue_range_matches_the_dense_one_on_a_spread_spectrum()
    {
        // H = Q diag(λ) Qᵀ, dim 150, λ log-spaced over [1e-3, 1e2] (condition 1e5), Q a random orthogonal matrix.
        int dim = 150;
        var rng = new Rng(451);
        var g = Matrix<double>.Build.Dense(dim, dim, (_, _) => rng.NextNormal());
        var q = g.QR().Q;
        var lambda = Enumerable.Range(0, dim).Select(i => Math.Pow(10, -3 + 5.0 * i / (dim - 1))).ToArray();
        var h = q * Matrix<double>.Build.DenseOfDiagonalArray(lambda) * q.Transpose();
        double[] Multiply(double[] v) => (h * Vector<double>.Build.Dense(v)).ToArray();
        var (min, max, steps, converged) = ExtremeEigenvalues.Compute(Multiply, dim, seed: 5);
        Assert.True(converged, $"{steps} steps");
        Assert.Equal(1e-3, min, 1e-9);
        Assert.Equal(1e2, max, 1e-6);
        var dense = DistSoftmax.Core.Kernels.DenseAlgebra.EigenvalueRange(h.ToRowMajorArray(), dim);
        Assert.Equal(dense.Min, min, 1e-9);
        Assert.Equal(dense.Max, max, 1e-6);
    }

    [Fact]
    public void Largest_eigenvalue_without_a_kept_basis_equals_the_one_with_it()
    {
        // The three-term recurrence (used when the basis would not fit in memory) against full reorthogonalisation.
        int dim = 400;
        var rng = new Rng(471);
        var g = Matrix<double>.Build.Dense(dim, 60, (_, _) => rng.NextNormal());
        var h = g * g.Transpose(); // positive semidefinite, rank 60: Marchenko–Pastur-like spectrum
        double[] Multiply(double[] v) => (h * Vector<double>.Build.Dense(v)).ToArray();
        var (full, _) = OperatorNorm.LargestEigenvalue(Multiply, dim, 3, keepBasis: true);
        var (threeTerm, steps) = OperatorNorm.LargestEigenvalue(Multiply, dim, 3, keepBasis: false);
        double exact = h.Evd(Symmetricity.Symmetric).EigenValues.Max(e => e.Real);
        Assert.Equal(exact, full, 1e-9 * exact);
        Assert.Equal(exact, threeTerm, 1e-9 * exact);
        Assert.True(steps > 5 && steps < OperatorNorm.MaxSteps, $"{steps} steps");
    }

    [Theory]
    [InlineData(1)]   // one row per block
    [InlineData(40)]  // blocks of 3 rows (n = 12), the last one shorter
    public void Matrix_linearization_in_row_blocks_equals_the_one_in_a_single_block(int chunkEntries)
    {
        var (problem, x) = Matrix();
        var whole = new MatrixLinearization(problem.Problem, problem.Parts, x);
        var blocks = new MatrixLinearization(problem.Problem, problem.Parts, x, chunkEntries);
        var delta = new double[whole.ParameterCount];
        Rng.ForStream(481).FillNormal(delta);
        var v = new double[whole.Dimension];
        Rng.ForStream(482).FillNormal(v);
        var u = new double[whole.OutputCount];
        Rng.ForStream(483).FillNormal(u);
        Assert.True(RelativeDifference(blocks.Mixed(delta), whole.Mixed(delta)) < 1e-13);
        Assert.True(RelativeDifference(blocks.MixedAdjoint(v), whole.MixedAdjoint(v)) < 1e-13);
        Assert.True(RelativeDifference(blocks.Output(delta), whole.Output(delta)) < 1e-13);
        Assert.True(RelativeDifference(blocks.OutputAdjoint(u), whole.OutputAdjoint(u)) < 1e-13);
        Assert.True(RelativeDifference(blocks.LossGradient(), whole.LossGradient()) < 1e-13);
        // The output constant on (ΔA1, ΔA2) only equals the generic Lanczos over every part.
        var generic = OperatorNorm.Largest(d => whole.Output(d), w => whole.OutputAdjoint(w), whole.ParameterCount, whole.OutputCount, 3).Norm;
        Assert.Equal(generic, blocks.OutputNorm(3).Norm, 1e-9 * generic);
    }

    [Fact]
    public void Indefinite_Hessian_is_refused_by_the_iterative_solve()
    {
        var diagonal = new[] { 2.0, 1.0, -0.5, 3.0 };
        double[] Multiply(double[] v) => v.Select((e, i) => diagonal[i] * e).ToArray();
        var e = Assert.Throws<ArgumentException>(() => new ConjugateGradientHessianSolve(Multiply, 4, null));
        Assert.Contains("indefinite", e.Message);
        double[] Singular(double[] v) => v.Select((x, i) => i == 2 ? 0.0 : x).ToArray();
        Assert.Contains("singular", Assert.Throws<ArgumentException>(() => new ConjugateGradientHessianSolve(Singular, 4, null)).Message);
    }

    [Fact]
    public void Cg_that_cannot_reach_the_tolerance_fails_instead_of_returning_an_inaccurate_solution()
    {
        // H = diag(λ), dim 200, λ log-spaced over [1e-2, 1]: unpreconditioned CG needs far more than 10 steps for a
        // relative residual of 1e-10 with a right-hand side touching every eigenvector; limited to 10 it must throw,
        // and with the default limit the same solve succeeds.
        int dim = 200;
        var lambda = Enumerable.Range(0, dim).Select(i => Math.Pow(10, -2 + 2.0 * i / (dim - 1))).ToArray();
        double[] Multiply(double[] v) => v.Select((e, i) => lambda[i] * e).ToArray();
        var solve = new ConjugateGradientHessianSolve(Multiply, dim, null, maxIterations: 10);
        Assert.True(solve.PositiveDefinite);
        var v = Enumerable.Repeat(1.0, dim).ToArray();
        var e = Assert.Throws<HessianSolveNotConvergedException>(() => solve.Solve(v));
        Assert.Contains("did not converge", e.Message);
        Assert.Equal(10, e.Steps);
        Assert.True(e.RelativeResidual > ConjugateGradientHessianSolve.RelativeTolerance, $"{e.RelativeResidual}");
        var y = new ConjugateGradientHessianSolve(Multiply, dim, null).Solve(v);
        Assert.True(RelativeDifference(y, v.Select((e, i) => e / lambda[i]).ToArray()) < 1e-9);
    }

    [Fact]
    public void Analysis_with_the_cg_solve_forced_gives_the_dense_worst_case_constant()
    {
        var (problem, _) = Matrix();
        var options = new SensitivityOptions { Epsilons = new[] { 1e-4 }, WorstCaseEpsilons = new[] { 1e-4 }, Draws = 2, Seed = 5, Parallelism = 2 };
        var dense = SensitivityAnalysis.Run(problem, options);
        var cg = SensitivityAnalysis.Run(problem, options with { DenseHessianMaxDimension = 0 });
        Assert.StartsWith("dense", dense.HessianMethod);
        Assert.StartsWith("conjugate gradients", cg.HessianMethod);
        Assert.Equal(dense.WorstCase.Constant, cg.WorstCase.Constant, 1e-8 * dense.WorstCase.Constant);
        Assert.Equal(dense.HessianMinEigenvalue, cg.HessianMinEigenvalue, 1e-6 * dense.HessianMinEigenvalue);
        Assert.Equal(dense.HessianMaxEigenvalue, cg.HessianMaxEigenvalue, 1e-8 * dense.HessianMaxEigenvalue);
        for (int k = 0; k < options.Draws; k++)
            Assert.Equal(dense.PredictedSolutionRatio[k], cg.PredictedSolutionRatio[k], 1e-8 * dense.PredictedSolutionRatio[k]);
        // The re-solves do not use the Hessian solve: identical.
        Assert.Equal(dense.Perturbations.Select(p => p.SolutionChange), cg.Perturbations.Select(p => p.SolutionChange));
    }

    [Fact]
    public void Worst_case_stopped_at_a_step_limit_is_a_flagged_lower_bound()
    {
        var (problem, _) = Matrix();
        var options = new SensitivityOptions { Epsilons = new[] { 1e-4 }, WorstCaseEpsilons = new[] { 1e-4 }, Draws = 1, Seed = 5, Parallelism = 2 };
        var full = SensitivityAnalysis.Run(problem, options);
        var limited = SensitivityAnalysis.Run(problem, options with { WorstCaseMaxSteps = 2 });
        Assert.True(full.WorstCase.Converged && full.WorstCase.Steps > 2, $"{full.WorstCase.Steps} steps");
        Assert.False(limited.WorstCase.Converged);
        Assert.Equal(2, limited.WorstCase.Steps);
        Assert.True(limited.WorstCase.Constant <= full.WorstCase.Constant * (1 + 1e-12));
    }

    [Fact]
    public void Memory_budget_bounds_the_parallel_re_solves_without_changing_them()
    {
        var (problem, _) = Vector();
        var options = new SensitivityOptions { Epsilons = new[] { 1e-3, 1e-4 }, WorstCaseEpsilons = new[] { 1e-4 }, Draws = 2, Seed = 6, Parallelism = 2 };
        var free = SensitivityAnalysis.Run(problem, options);
        var bounded = SensitivityAnalysis.Run(problem, options with { ResolveMemoryBudget = 0 });
        Assert.Equal(2, free.Parallelism);
        Assert.Equal(1, bounded.Parallelism);
        Assert.Equal(free.Perturbations.Select(p => p.SolutionChange), bounded.Perturbations.Select(p => p.SolutionChange));
        Assert.Equal(free.WorstCase.FiniteDifference.Select(c => c.Ratio), bounded.WorstCase.FiniteDifference.Select(c => c.Ratio));
        // A runner that takes the jobs together gets them in batches of the budget's size (here one at a time).
        var batches = new List<int>();
        var viaRunner = SensitivityAnalysis.Run(problem, options with
        {
            ResolveMemoryBudget = 0,
            RunJobs = (jobs, ct) =>
            {
                batches.Add(jobs.Count);
                return jobs.Select(j => j.Problem.Driver(1, ShardComputeOptions.Sequential)
                    .Solve(SolverCatalog.Create(j.Solver, j.Options), j.Problem.Objective, j.X0, j.Options, cancellation: ct)).ToArray();
            },
        });
        Assert.Equal(Enumerable.Repeat(1, 5), batches);
        Assert.Equal(free.Perturbations.Select(p => p.SolutionChange), viaRunner.Perturbations.Select(p => p.SolutionChange));
    }
}
