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
/// products come from recurrences, checked here against M itself; a matrix problem's form must reach the line
/// search's minimiser, and the vector form must resume bit for bit. (Its minimisers and CG work on vector problems are
/// tested beside the line-search form's, in SampledGramPreconditionerTests.)
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
    public void A_matrix_problems_trust_region_keeps_curvature_pairs_and_resumes_with_them()
    {
        var p = MatrixTestProblems.Random("multiple-normalized", 40, 4, false, 61);
        var options = TrustRegion with { RelativeTolerance = 1e-10, MaxIterations = 200, Seed = 2 };
        var x0 = new double[p.Objective.Dimension];
        var checkpoints = new List<SolverCheckpoint>();
        var full = MatrixTestProblems.Driver(p, 2).Solve(SolverCatalog.Create("approx-newton", options), p.Objective, x0,
            options with { Checkpoint = checkpoints.Add });
        Assert.True(full.Converged, full.Message);
        Assert.True(full.Iterations >= 3, $"{full.Iterations} iterations is too few to test resuming");
        // The Steihaug CG of iterations 0 and 1 left their positive-curvature pairs: [BuiltAt, Στ, rows, kind, k] then
        // F, G and k arrays each of s and y (CurvaturePairs).
        var restored = CheckpointFormat.Read(CheckpointFormat.Write(checkpoints[1]));
        var state = restored.SolverState!;
        Assert.Equal(SolverStates.Kronecker, state.Kind);
        int pairs = (int)state.Scalars[4];
        Assert.True(pairs > 0, "the trust region's CG left no curvature pairs");
        Assert.Equal(2 + 2 * pairs, state.Arrays.Count);
        var resumed = MatrixTestProblems.Driver(p, 2).Solve(SolverCatalog.Create("approx-newton", options), p.Objective, x0,
            options with { ResumeFrom = restored });
        Assert.Equal(full.Iterations, resumed.Iterations);
        Assert.Equal(full.Requests, resumed.Requests);
        Assert.Equal(full.X, resumed.X);
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
