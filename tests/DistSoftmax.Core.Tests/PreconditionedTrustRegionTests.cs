using System.Numerics.Tensors;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Solvers.TrustRegion;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The trust-region approximate Newton of the large-d and matrix forms: Steihaug–Toint CG preconditioned by the
/// sampled Gram (vector problems) or the Kronecker factors (matrix problems), its region in the M-norm. The M-norm
/// products come from recurrences, checked here against M itself; the solver must reach the minimisers the
/// line-search form and exact Newton reach, spend fewer products than unpreconditioned trust-region CG where A is
/// ill-conditioned, and resume bit for bit.
/// </summary>
public class PreconditionedTrustRegionTests
{
    private static readonly TrustRegionNewtonCg SampledGramPreconditioned = new(CgPreconditioning.SampledGram);
    private static readonly SolverOptions TrustRegion = new() { Globalization = GlobalizationMode.TrustRegion };

    private static Matrix<double> RandomSpd(int d, ulong seed, double spread)
    {
        var q = Matrix<double>.Build.DenseOfRowMajor(d, d, TestProblem.Vector(d * d, seed)).QR().Q;
        var lambda = Matrix<double>.Build.DenseDiagonal(d, d, i => Math.Pow(spread, (double)i / (d - 1)));
        return q * lambda * q.Transpose();
    }

    [Fact]
    public void The_M_norm_recurrences_match_the_products_with_M_along_preconditioned_CG()
    {
        const int d = 9;
        var h = RandomSpd(d, 3, 1e3);
        var m = RandomSpd(d, 4, 1e2);
        var g = Vector<double>.Build.DenseOfArray(TestProblem.Vector(d, 5));
        var z = Vector<double>.Build.Dense(d);
        var r = g.Clone();
        var y = m.Solve(r);
        var dir = -y;
        double ry = r * y;
        var norms = new PreconditionedRegionNorms(ry);
        for (int j = 0; j < d - 1; j++)
        {
            var current = norms.Current;
            // Each product within 1e-7 of the larger squared M-norm of z and d: CG loses orthogonality to rounding (more so as
            // κ(H)·κ(M) grows), and a wrong recurrence is off by O(1).
            double scale = Math.Max(z * m * z, dir * m * dir);
            Assert.True(Math.Abs(z * m * z - current.StartStart) <= 1e-7 * scale, $"step {j}: zᵀMz {z * m * z} against {current.StartStart}");
            Assert.True(Math.Abs(z * m * dir - current.StartDirection) <= 1e-7 * scale, $"step {j}: zᵀMd {z * m * dir} against {current.StartDirection}");
            Assert.True(Math.Abs(dir * m * dir - current.DirectionDirection) <= 1e-7 * scale, $"step {j}: dᵀMd {dir * m * dir} against {current.DirectionDirection}");
            var hd = h * dir;
            double alpha = ry / (dir * hd);
            var next = z + alpha * dir;
            double nextNorm = Math.Sqrt(next * m * next);
            Assert.True(Math.Abs(nextNorm - current.NormAt(alpha)) <= 1e-7 * nextNorm, $"step {j}: ‖z + αd‖_M {nextNorm} against {current.NormAt(alpha)}");
            z += alpha * dir;
            r += alpha * hd;
            y = m.Solve(r);
            double ryNew = r * y, beta = ryNew / ry;
            norms.Advance(alpha, beta, ryNew);
            dir = -y + beta * dir;
            ry = ryNew;
        }
    }

    [Fact]
    public void A_step_on_the_boundary_of_an_M_norm_path_has_that_M_norm()
    {
        // A two-segment path in an M-norm (M = diag(4, 1)): the boundary point of a radius is at that M-norm.
        var path = new SteihaugPath(10.0);
        double[] z0 = [0, 0], d0 = [1, 0], z1 = [1, 0], d1 = [0, 1];
        static double M(double[] a, double[] b) => 4 * a[0] * b[0] + a[1] * b[1];
        path.Add(z0, d0, 1.0, 0, -4, 4, new SteihaugPath.RegionProducts(M(z0, z0), M(z0, d0), M(d0, d0)));
        path.Add(z1, d1, 5.0, -2, -5, 1, new SteihaugPath.RegionProducts(M(z1, z1), M(z1, d1), M(d1, d1)));
        foreach (double radius in new[] { 1.0, 2.5, 4.0 })
        {
            var step = path.Solve(radius);
            Assert.True(step.OnBoundary);
            Assert.Equal(radius, Math.Sqrt(M(step.P, step.P)), 12);
            Assert.Equal(radius, step.RegionNorm, 12);
        }
        Assert.Equal(1.0, path.Solve(2.0).P[0], 12);          // past the first segment's end (M-norm 2)
        Assert.Equal(0.5, path.Solve(1.0).P[0], 12);          // inside it: |p|_M = 2·p₀
    }

    [Theory]
    [InlineData("rescaled", Unit.Exp)]
    [InlineData("rescaled", Unit.Cosh)]
    [InlineData("hyperbolic", Unit.Cosh)]
    [InlineData("hyperbolic", Unit.Sinh)]
    public void It_recovers_planted_minimisers_of_every_family(string problem, Unit unit)
    {
        var planted = PlantedFamilyProblem.Create(problem, unit);
        var p = planted.P;
        var x0 = unit == Unit.Exp ? new double[p.D] : planted.InBasin;
        var options = TrustRegion with { RelativeTolerance = 1e-11, MaxIterations = 300, Seed = 2 };
        var result = p.Driver(2).Solve(SampledGramPreconditioned, p.Objective, x0, options);
        Assert.True(result.Exit == ExitCondition.Converged, $"{problem}-{unit}: {result.Exit} {result.Message}");
        Assert.True(planted.Error(result.X) < 1e-8, $"{problem}-{unit}: error {planted.Error(result.X):E2}");
        Assert.Equal("trust-region", SampledGramPreconditioned.Globalization);
        Assert.Equal("approx-newton", SampledGramPreconditioned.Name);
    }

    [Fact]
    public void It_recovers_a_planted_normalized_minimiser_sampling_fewer_rows_than_n()
    {
        var a = TestProblem.Gaussian(3000, 20, 71);
        var xTrue = TestProblem.Vector(20, 72, 1.5);
        var p = new TestProblem(NormalizedSoftmax.Instance, a, TestProblem.Softmax(a, xTrue), Regularizer.None);
        var options = TrustRegion with { RelativeTolerance = 1e-11, MaxIterations = 200, Seed = 4 };
        var result = p.Driver(3).Solve(SampledGramPreconditioned, p.Objective, new double[p.D], options);
        Assert.True(result.Exit == ExitCondition.Converged, $"{result.Exit} {result.Message}");
        Assert.True(Assertions.RelativeError(result.X, xTrue) < 1e-8, $"error {Assertions.RelativeError(result.X, xTrue):E2}");
        Assert.All(result.Trace.Skip(1), t => Assert.InRange(t.RowsSampled, 1, 600));
    }

    [Theory]
    [InlineData("normalized", Unit.Exp)]
    [InlineData("rescaled", Unit.Cosh)]
    [InlineData("hyperbolic", Unit.Cosh)]
    public void On_a_large_residual_problem_it_reaches_exact_Newtons_minimiser(string problem, Unit unit)
    {
        var a = TestProblem.Gaussian(2000, 12, 81);
        var b = TestProblem.Distribution(2000, 82);
        var p = new TestProblem(Families.Create(problem, unit), a, b, Regularizer.None);
        var options = TrustRegion with { RelativeTolerance = 1e-10, MaxIterations = 300, Seed = 6 };
        var newton = p.Driver(2).Solve(SolverCatalog.Create("newton"), p.Objective, new double[p.D], options with { Globalization = GlobalizationMode.LineSearch });
        var result = p.Driver(2).Solve(SampledGramPreconditioned, p.Objective, new double[p.D], options);
        Assert.True(newton.Exit == ExitCondition.Converged, $"newton: {newton.Exit} {newton.Message}");
        Assert.True(result.Exit == ExitCondition.Converged, $"{problem}-{unit}: {result.Exit} {result.Message}");
        Assert.True(result.Loss <= newton.Loss * (1 + 1e-9) + 1e-15, $"loss {result.Loss:E10} against Newton's {newton.Loss:E10}");
        Assert.True(Assertions.RelativeError(result.X, newton.X) < 1e-6, $"x differs from Newton's by {Assertions.RelativeError(result.X, newton.X):E2}");
    }

    [Fact]
    public void The_preconditioner_cuts_the_trust_region_CG_work_of_an_ill_conditioned_problem()
    {
        int n = 4000, d = 24;
        var a = TestProblem.Gaussian(n, d, 91);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) a.Data[i * d + j] *= Math.Pow(10, 3.0 * j / d);   // κ(AᵀA) ≈ 10⁶
        var xTrue = TestProblem.Vector(d, 92, 0.02);
        var p = new TestProblem(NormalizedSoftmax.Instance, a, TestProblem.Softmax(a, xTrue), Regularizer.None);
        var options = TrustRegion with { RelativeTolerance = 1e-9, MaxIterations = 300, Seed = 8 };
        var plain = p.Driver(2).Solve(new TrustRegionNewtonCg(), p.Objective, new double[d], options);
        var preconditioned = p.Driver(2).Solve(SampledGramPreconditioned, p.Objective, new double[d], options);
        Assert.True(preconditioned.Exit == ExitCondition.Converged, $"{preconditioned.Exit} {preconditioned.Message}");
        Assert.True(Assertions.RelativeError(preconditioned.X, xTrue) < 1e-5, $"error {Assertions.RelativeError(preconditioned.X, xTrue):E2}");
        int plainCg = plain.Trace.Sum(t => t.CgIterations), sampledCg = preconditioned.Trace.Sum(t => t.CgIterations);
        Assert.True(2 * sampledCg < plainCg,
            $"preconditioned CG took {sampledCg} products over {preconditioned.Iterations} iterations against plain CG's {plainCg} over {plain.Iterations} ({plain.Exit})");
    }

    [Fact]
    public void A_matrix_problems_approx_newton_with_a_trust_region_reaches_the_line_searchs_minimiser()
    {
        var p = MatrixTestProblems.Random("multiple-normalized", 40, 4, false, 61);
        var options = new SolverOptions { RelativeTolerance = 1e-10, MaxIterations = 200, Seed = 2 };
        var x0 = new double[p.Objective.Dimension];
        var lineSearch = MatrixTestProblems.Driver(p, 2).Solve(SolverCatalog.Create("approx-newton", options), p.Objective, x0, options);
        var trOptions = options with { Globalization = GlobalizationMode.TrustRegion };
        var solver = SolverCatalog.Create("approx-newton", trOptions);
        var trustRegion = MatrixTestProblems.Driver(p, 2).Solve(solver, p.Objective, x0, trOptions);
        Assert.Equal("trust-region", solver.Globalization);
        Assert.True(lineSearch.Exit == ExitCondition.Converged, $"line search: {lineSearch.Exit} {lineSearch.Message}");
        Assert.True(trustRegion.Exit == ExitCondition.Converged, $"trust region: {trustRegion.Exit} {trustRegion.Message}");
        Assert.True(trustRegion.Trace.Sum(t => t.CgIterations) > 0, "the trust region ran no CG");
        Assert.True(Assertions.RelativeError(trustRegion.X, lineSearch.X) < 1e-6,
            $"x differs from the line search's by {Assertions.RelativeError(trustRegion.X, lineSearch.X):E2}");
    }

    [Fact]
    public void It_resumes_from_a_checkpoint_with_the_same_preconditioner_and_radius()
    {
        var a = TestProblem.Gaussian(3000, 12, 41);
        var p = new TestProblem(NormalizedSoftmax.Instance, a, TestProblem.Softmax(a, TestProblem.Vector(12, 42, 1.5)), Regularizer.None);
        var options = TrustRegion with { RelativeTolerance = 1e-11, MaxIterations = 200, Seed = 9 };
        var x0 = new double[p.D];
        var checkpoints = new List<SolverCheckpoint>();
        var full = p.Driver(3).Solve(SampledGramPreconditioned, p.Objective, x0, options with { Checkpoint = checkpoints.Add });
        Assert.True(full.Iterations >= 3, $"{full.Iterations} iterations is too few to test resuming");
        Assert.Equal(SolverStates.SampledGram, checkpoints[1].SolverState!.Kind);
        foreach (int at in new[] { 0, 1, full.Iterations - 1 })
        {
            var restored = CheckpointFormat.Read(CheckpointFormat.Write(checkpoints[at]));
            var resumed = p.Driver(3).Solve(new TrustRegionNewtonCg(CgPreconditioning.SampledGram), p.Objective, x0, options with { ResumeFrom = restored });
            Assert.Equal(full.Iterations, resumed.Iterations);
            Assert.Equal(full.Requests, resumed.Requests);
            Assert.Equal(full.X, resumed.X);
        }
    }
}
