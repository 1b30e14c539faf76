using System.Numerics.Tensors;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.TrustRegion;

namespace DistSoftmax.Core.Tests;

public class TrustRegionTests
{
    private static double Model(double[] h, double[] g, double[] p)
    {
        int d = g.Length;
        double m = TensorPrimitives.Dot<double>(g, p);
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) m += 0.5 * p[i] * h[i * d + j] * p[j];
        return m;
    }

    /// <summary>A random symmetric d×d matrix with eigenvalues spread over [lo, hi].</summary>
    private static double[] Symmetric(int d, ulong seed, double lo, double hi)
    {
        var rng = new Rng(seed);
        var q = new double[d * d];
        rng.FillNormal(q, 1.0);
        var m = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(d, d, (i, j) => q[i * d + j]);
        var orth = m.QR().Q;
        var h = new double[d * d];
        for (int k = 0; k < d; k++)
        {
            double lambda = lo + (hi - lo) * k / Math.Max(d - 1, 1);
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) h[i * d + j] += lambda * orth[i, k] * orth[j, k];
        }
        return h;
    }

    [Fact]
    public void Inside_the_region_a_positive_definite_model_gives_the_Newton_step()
    {
        int d = 7;
        var h = Symmetric(d, 1, 1.0, 5.0);
        var g = TestProblem.Vector(d, 2);
        var step = new MoreSorensenModel(h, g).Solve(1e6);
        Assert.False(step.OnBoundary);
        var residual = Kernels.DenseAlgebra.Multiply(h, d, step.P);
        for (int i = 0; i < d; i++) Assert.Equal(-g[i], residual[i], 1e-10);
        Assert.Equal(-Model(h, g, step.P), step.PredictedDecrease, 1e-10);
    }

    [Theory]
    [InlineData(3UL, 0.3)]
    [InlineData(4UL, 1.0)]
    [InlineData(5UL, 3.0)]
    public void An_indefinite_model_is_minimised_on_the_boundary_better_than_any_sampled_point_of_the_ball(ulong seed, double radius)
    {
        int d = 6;
        var h = Symmetric(d, seed, -2.0, 3.0);
        var g = TestProblem.Vector(d, seed + 10);
        var step = new MoreSorensenModel(h, g).Solve(radius);
        double norm = TensorPrimitives.Norm<double>(step.P);
        Assert.True(step.OnBoundary);
        Assert.InRange(norm, (1 - MoreSorensenModel.BoundaryTolerance) * radius, (1 + MoreSorensenModel.BoundaryTolerance) * radius);
        double best = Model(h, g, step.P);
        // The exact minimiser on the ball: within the boundary tolerance, no sampled point of the ball does better.
        var rng = new Rng(seed + 20);
        var q = new double[d];
        for (int k = 0; k < 20000; k++)
        {
            rng.FillNormal(q, 1.0);
            double scale = radius * (1 - MoreSorensenModel.BoundaryTolerance) / TensorPrimitives.Norm<double>(q) * Math.Pow(rng.NextDouble(), 1.0 / d);
            TensorPrimitives.Multiply(q, scale, q);
            Assert.True(best <= Model(h, g, q) + 1e-12, $"m(p) = {best} > m(q) = {Model(h, g, q)}");
        }
    }

    [Fact]
    public void The_hard_case_steps_along_the_eigenvector_of_the_most_negative_eigenvalue()
    {
        // H = diag(−1, 1, 2), g ⟂ e₁: p(λ) = −(H + λI)⁻¹g stays short for every λ ≥ 1, so the step must add τe₁.
        var h = new double[] { -1, 0, 0, 0, 1, 0, 0, 0, 2 };
        var g = new double[] { 0, 1, 1 };
        var step = new MoreSorensenModel(h, g).Solve(5.0);
        Assert.Equal(5.0, TensorPrimitives.Norm<double>(step.P), 1e-8);
        Assert.True(Math.Abs(step.P[0]) > 4.5, $"p = [{string.Join(", ", step.P)}]");
        Assert.Equal(-0.5, step.P[1], 1e-8);                 // −g₂/(1 + λ*) with λ* = 1
        Assert.Equal(-1.0 / 3.0, step.P[2], 1e-8);
        Assert.Equal(-Model(h, g, step.P), step.PredictedDecrease, 1e-10);
    }

    [Fact]
    public void A_Steihaug_path_solves_every_smaller_radius_as_a_fresh_path_would()
    {
        int d = 5;
        var h = Symmetric(d, 7, 0.5, 4.0);
        var g = TestProblem.Vector(d, 8);
        SteihaugPath Build(double radius)
        {
            var path = new SteihaugPath(radius);
            var z = new double[d];
            var r = (double[])g.Clone();
            var dir = r.Select(v => -v).ToArray();
            double rr = TensorPrimitives.Dot<double>(r, r), m = 0;
            for (int it = 0; it < d; it++)
            {
                var hd = Kernels.DenseAlgebra.Multiply(h, d, dir);
                double curvature = TensorPrimitives.Dot<double>(dir, hd), slope = TensorPrimitives.Dot<double>(r, dir);
                double alpha = rr / curvature;
                path.Add(z, dir, alpha, m, slope, curvature);
                m += alpha * slope + 0.5 * alpha * alpha * curvature;
                TensorPrimitives.MultiplyAdd(dir, alpha, z, z);
                if (TensorPrimitives.Norm<double>(z) >= radius) return path;
                TensorPrimitives.MultiplyAdd(hd, alpha, r, r);
                double rrNew = TensorPrimitives.Dot<double>(r, r);
                if (Math.Sqrt(rrNew) <= 1e-12) { path.EndInside(z, m); return path; }
                TensorPrimitives.Multiply(dir, rrNew / rr, dir);
                TensorPrimitives.Subtract(dir, r, dir);
                rr = rrNew;
            }
            return path;
        }
        var wide = Build(100.0);
        var newton = wide.Solve(100.0);
        Assert.False(newton.OnBoundary);
        var hp = Kernels.DenseAlgebra.Multiply(h, d, newton.P);
        for (int i = 0; i < d; i++) Assert.Equal(-g[i], hp[i], 1e-9);
        double full = TensorPrimitives.Norm<double>(newton.P);
        foreach (double fraction in new[] { 0.9, 0.5, 0.1 })
        {
            var fromWide = wide.Solve(fraction * full);
            var fresh = Build(fraction * full).Solve(fraction * full);
            Assert.True(fromWide.OnBoundary);
            Assert.Equal(fraction * full, TensorPrimitives.Norm<double>(fromWide.P), 1e-9);
            for (int i = 0; i < d; i++) Assert.Equal(fresh.P[i], fromWide.P[i], 1e-12);
            Assert.Equal(-Model(h, g, fromWide.P), fromWide.PredictedDecrease, 1e-10);
        }
    }

    [Theory]
    [InlineData("approx-newton")]
    [InlineData("newton")]
    [InlineData("newton-cg")]
    public void Trust_region_solvers_recover_planted_normalized_minimisers(string solver)
    {
        var a = TestProblem.Gaussian(400, 8, 31);
        var xTrue = TestProblem.Vector(8, 32, 1.5);
        var p = new TestProblem(NormalizedSoftmax.Instance, a, TestProblem.Softmax(a, xTrue), Regularizer.None);
        var options = new SolverOptions { RelativeTolerance = 1e-11, MaxIterations = 500, Seed = 3, Globalization = GlobalizationMode.TrustRegion };
        var result = p.Driver(3).Solve(SolverCatalog.Create(solver, options), p.Objective, new double[p.D], options);
        Assert.Equal("trust-region", SolverCatalog.Create(solver, options).Globalization);
        Assert.True(result.Exit == ExitCondition.Converged, $"{solver}: {result.Exit} {result.Message}");
        Assert.True(Assertions.RelativeError(result.X, xTrue) < 1e-8, $"{solver}: error {Assertions.RelativeError(result.X, xTrue):E2}");
    }

    [Theory]
    [InlineData("rescaled", Unit.Exp)]
    [InlineData("rescaled", Unit.Cosh)]
    [InlineData("rescaled", Unit.Sinh)]
    [InlineData("hyperbolic", Unit.Exp)]
    [InlineData("hyperbolic", Unit.Sinh)]
    [InlineData("hyperbolic", Unit.Cosh)]
    [InlineData("rescaled", Unit.Tanh)]
    [InlineData("hyperbolic", Unit.Tanh)]
    public void Trust_region_solvers_recover_planted_minimisers_of_the_other_families(string problem, Unit unit)
    {
        var planted = PlantedFamilyProblem.Create(problem, unit);
        var p = planted.P;
        var x0 = unit == Unit.Exp ? new double[p.D] : planted.InBasin;
        var options = new SolverOptions { RelativeTolerance = 1e-11, MaxIterations = 300, Globalization = GlobalizationMode.TrustRegion };
        foreach (var solver in new[] { "newton", "approx-newton", "newton-cg" })
        {
            var result = p.Driver(2).Solve(SolverCatalog.Create(solver, options), p.Objective, x0, options);
            Assert.True(result.Exit == ExitCondition.Converged, $"{problem}-{unit} {solver}: {result.Exit} {result.Message}");
            double err = planted.Error(result.X);
            Assert.True(err < 1e-8, $"{problem}-{unit} {solver}: error {err:E2}");
        }
    }
}
