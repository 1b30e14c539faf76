using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// Loss and gradient in one pass (ScalarsRequest.WithGradient against a reference) equal the two-pass
/// computation (phase-1 sums, then GradientRequest with the merged globals), for every family and split.
/// </summary>
public class FusedGradientTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var f in TestProblem.AllFamilies())
            foreach (var shards in new[] { 1, 3 })
                foreach (var sparse in new[] { false, true })
                    yield return new object[] { f.Name, shards, sparse };
    }

    private static TestProblem Make(string family, bool sparse)
    {
        int n = 5000, d = 7;
        var a = TestProblem.Gaussian(n, d, 301);
        if (sparse)
            for (int i = 0; i < n; i++) a[i, (i * 5) % d] = 0;
        var b = family.StartsWith("hyperbolic") ? TestProblem.Vector(n, 302, 0.4) : TestProblem.Distribution(n, 302);
        return new TestProblem(TestProblem.FamilyNamed(family), sparse ? a.ToCsr() : a, b, Regularizer.PerRow(TestProblem.Vector(n, 303, 0.3)));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void One_pass_loss_and_gradient_equal_the_two_pass_computation(string family, int shards, bool sparse)
    {
        var p = Make(family, sparse);
        var driver = p.Driver(shards);
        var obj = p.Objective;
        var reference = TestProblem.Vector(p.D, 304, 0.6);
        var refPoint = obj.Evaluate(reference, (ScalarsReply)driver.Evaluate(new ScalarsRequest(reference)));
        // A trial point near the reference, as in a line search.
        var x = reference.Select((v, j) => v + 0.05 * Math.Cos(j)).ToArray();

        var fusedReply = (ScalarsReply)driver.Evaluate(new ScalarsRequest(x, refPoint.Globals, WithGradient: true));
        var fusedPoint = obj.Evaluate(x, fusedReply, refPoint.Globals);
        var fused = obj.FusedGradient(fusedPoint, fusedReply, refPoint.Globals);

        var plain = p.Driver(shards);
        var point = obj.Evaluate(x, (ScalarsReply)plain.Evaluate(new ScalarsRequest(x, refPoint.Globals)), refPoint.Globals);
        var grad = ((GradientReply)plain.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, false))).Gradient;

        Assert.NotNull(fused);
        Assert.Equal(point.Loss, fusedPoint.Loss);
        double err = Assertions.RelativeError(fused!, grad);
        Assert.True(err < 1e-12, $"fused gradient rel err {err:E2}");
    }

    public static IEnumerable<object[]> NewtonCases()
    {
        foreach (var f in TestProblem.AllFamilies())
            foreach (var kind in new[] { HessianKind.Exact, HessianKind.GaussNewton })
                foreach (var sparse in new[] { false, true })
                    yield return new object[] { f.Name, kind, sparse };
    }

    /// <summary>
    /// The low-rank vectors assembled from a one-pass trial's basis products equal those of a gradient pass at the
    /// merged globals, and the trial's CountSketch equals the gradient pass's sketch (same seed) when the reference is
    /// the point's own globals, for 1 and 3 shards.
    /// </summary>
    [Theory]
    [MemberData(nameof(NewtonCases))]
    public void One_pass_low_rank_vectors_and_sketch_equal_the_gradient_pass(string family, HessianKind kind, bool sparse)
    {
        var p = Make(family, sparse);
        var obj = p.Objective;
        int m = 3 * p.D;
        const ulong seed = 77;
        var reference = TestProblem.Vector(p.D, 305, 0.6);
        var x = reference.Select((v, j) => v + 0.05 * Math.Cos(j)).ToArray();
        foreach (int shards in new[] { 1, 3 })
        {
            var driver = p.Driver(shards);
            var refPoint = obj.Evaluate(reference, (ScalarsReply)driver.Evaluate(new ScalarsRequest(reference)));
            var reply = (ScalarsReply)driver.Evaluate(new ScalarsRequest(x, refPoint.Globals, true, m, seed, kind));
            var point = obj.Evaluate(x, reply, refPoint.Globals);
            var lowRank = obj.FusedLowRank(point, reply, refPoint.Globals, kind);
            var twoPass = (GradientReply)driver.Evaluate(new GradientRequest(x, point.Globals, kind, true, m, seed));
            Assert.NotNull(lowRank);
            Assert.Equal(twoPass.LowRank.Length, lowRank!.Length);
            if (lowRank.Length > 0)
            {
                double err = Assertions.RelativeError(lowRank, twoPass.LowRank);
                Assert.True(err < 1e-12, $"{shards} shards: low-rank rel err {err:E2}");
            }
            Assert.Equal(m * p.D, reply.Sketch.Length);

            // With the point's own globals as the reference, D̃ = D and the sketches agree.
            var own = (ScalarsReply)driver.Evaluate(new ScalarsRequest(x, point.Globals, true, m, seed, kind));
            double sketchErr = Assertions.RelativeError(own.Sketch, twoPass.Sketch);
            Assert.True(sketchErr < 1e-12, $"{shards} shards: sketch rel err {sketchErr:E2}");
        }
    }

    [Fact]
    public void A_sketch_without_the_one_pass_gradient_is_refused()
    {
        var p = Make("normalized", false);
        var shard = ShardLayout.VectorShards(p.Family, p.A, p.B, p.Reg, 1)[0];
        Assert.Throws<ArgumentException>(() => shard.Evaluate(new ScalarsRequest(new double[p.D], null, false, 10, 1)));
    }

    [Theory]
    [InlineData("approx-newton")]
    [InlineData("newton")]
    [InlineData("newton-cg")]
    public void Newton_type_solvers_take_gradient_and_low_rank_vectors_from_accepted_trials(string solver)
    {
        var (p, xTrue) = Planted(3000, 8, 331, 332);
        var driver = p.Driver(3);
        var run = SolverCatalog.Create(solver).Start(p.Objective, new double[8], new SolverOptions { RelativeTolerance = 1e-10 });
        int gradientRequests = 0;
        for (var request = run.Start(); request is not null; request = run.Submit(driver.Evaluate(request)))
        {
            if (request is GradientRequest) gradientRequests++;
            if (request is ScalarsRequest { WithGradient: true, SketchRows: > 0 } && solver != "approx-newton")
                Assert.Fail("only approx-newton asks trials for a sketch");
        }
        Assert.True(run.Result!.Converged, run.Result.Message);
        Assert.True(Assertions.RelativeError(run.Result.X, xTrue) < 1e-7);
        Assert.Equal(1, gradientRequests);
    }

    [Fact]
    public void Approximate_Newton_with_uniform_sampling_asks_for_no_sketch_and_converges()
    {
        var (p, xTrue) = Planted(3000, 8, 341, 342);
        var driver = p.Driver(2);
        var run = new ApproximateNewton().Start(p.Objective, new double[8],
            new SolverOptions { RelativeTolerance = 1e-10, UniformSampling = true, MaxIterations = 500 });
        for (var request = run.Start(); request is not null; request = run.Submit(driver.Evaluate(request)))
        {
            Assert.False(request is ScalarsRequest { SketchRows: > 0 }, "a trial asked for a sketch");
            Assert.False(request is GradientRequest { SketchRows: > 0 }, "a gradient pass asked for a sketch");
        }
        Assert.True(run.Result!.Converged, run.Result.Message);
        Assert.True(Assertions.RelativeError(run.Result.X, xTrue) < 1e-7);
    }

    /// <summary>
    /// With <c>--sketch-factor 4</c> the sampled step sketches once: later iterations take their leverage estimates from
    /// the previous sampled Gram's Cholesky factor, so with the Gauss–Newton model (D ≥ 0: every sampled Gram factors)
    /// no trial and no later gradient pass carries a CountSketch. With the default model an exact Gram with signed D may
    /// not factor, and then the next trial carries one; either way sketches are rarer than sampled Grams and the solve
    /// still reaches the planted minimiser. By default (no sketch) nothing carries one, the first sample is uniform and
    /// every later one is leverage-scored, and the solve reaches the same minimiser.
    /// </summary>
    [Theory]
    [InlineData(HessianMode.GaussNewton)]
    [InlineData(HessianMode.Auto)]
    public void With_a_sketch_factor_the_sampled_step_sketches_at_the_start_and_only_again_when_a_sampled_Gram_does_not_factor(HessianMode hessian)
    {
        var (p, xTrue) = Planted(3000, 8, 351, 352);
        var driver = p.Driver(2);
        var options = new SolverOptions { RelativeTolerance = 1e-10, Hessian = hessian, SketchRowsPerColumn = 4 };
        Assert.Equal(ApproximateNewtonForm.SampledNewton, VectorSolverCostModel.FormFor(3000, 8, 3000 * 8, options));
        var (sketches, sampledGrams, uniform) = Count(options);
        Assert.True(sampledGrams >= 4, $"{sampledGrams} sampled Grams are too few to test reuse");
        Assert.Equal(0, uniform);
        if (hessian == HessianMode.GaussNewton) Assert.Equal(1, sketches);
        else Assert.InRange(sketches, 1, sampledGrams / 2);

        var (noSketches, defaultGrams, defaultUniform) = Count(options with { SketchRowsPerColumn = new SolverOptions().SketchRowsPerColumn });
        Assert.Equal(0, noSketches);
        Assert.Equal(1, defaultUniform);
        Assert.True(defaultGrams >= 4, $"{defaultGrams} sampled Grams");

        (int Sketches, int SampledGrams, int Uniform) Count(SolverOptions o)
        {
            var run = new ApproximateNewton().Start(p.Objective, new double[8], o);
            int sketched = 0, grams = 0, uniformGrams = 0;
            for (var request = run.Start(); request is not null; request = run.Submit(driver.Evaluate(request)))
            {
                if (request is ScalarsRequest { SketchRows: > 0 } or GradientRequest { SketchRows: > 0 }) sketched++;
                if (request is SampledGramRequest sample)
                {
                    grams++;
                    if (sample.Uniform) uniformGrams++;
                }
            }
            Assert.True(run.Result!.Converged, run.Result.Message);
            Assert.True(Assertions.RelativeError(run.Result.X, xTrue) < 1e-7, $"sketch factor {o.SketchRowsPerColumn}: x is {Assertions.RelativeError(run.Result.X, xTrue):E2} from the planted minimiser");
            return (sketched, grams, uniformGrams);
        }
    }

    /// <summary>
    /// A trial whose mass sits on rows that were negligible at the reference (V = Σ exp(z − m_r)/S_r ≈ 1e-22): the
    /// reference form of the loss would divide cancelled O(1) terms by V² (it read 0 and a line search accepted the
    /// point). The loss must be the plain one, and the one-pass gradient must decline so the solver asks for a pass.
    /// </summary>
    [Fact]
    public void A_wild_trial_point_gets_the_plain_loss_and_no_one_pass_gradient()
    {
        var a = new Linear.DenseMatrix(3, 1, new[] { 0.0, 0.0, 1.0 });
        var b = new[] { 0.5, 0.3, 0.2 };
        var p = new TestProblem(NormalizedSoftmax.Instance, a, b, Regularizer.None);
        var driver = p.Driver(1);
        var reference = new[] { 50.0 };
        var refPoint = p.Objective.Evaluate(reference, (ScalarsReply)driver.Evaluate(new ScalarsRequest(reference)));
        var trial = new[] { -50.0 };
        var reply = (ScalarsReply)driver.Evaluate(new ScalarsRequest(trial, refPoint.Globals, WithGradient: true));
        var point = p.Objective.Evaluate(trial, reply, refPoint.Globals);
        double plain = p.Objective.Evaluate(trial, (ScalarsReply)driver.Evaluate(new ScalarsRequest(trial))).Loss;
        Assert.True(Math.Abs(point.Loss - 0.04) < 1e-12, $"loss {point.Loss}, expected ½(0² + 0.2² + 0.2²) = 0.04");
        Assert.Equal(plain, point.Loss);
        Assert.Null(p.Objective.FusedGradient(point, reply, refPoint.Globals));
        Assert.Null(p.Objective.FusedLowRank(point, reply, refPoint.Globals, HessianKind.Exact));
    }

    /// <summary>A noiseless normalized problem b = softmax(A x_true): A n×d Gaussian, x_true with N(0, 1.5²) entries.</summary>
    private static (TestProblem Problem, double[] XTrue) Planted(int n, int d, ulong seedA, ulong seedX)
    {
        var a = TestProblem.Gaussian(n, d, seedA);
        var xTrue = TestProblem.Vector(d, seedX, 1.5);
        return (new TestProblem(NormalizedSoftmax.Instance, a, TestProblem.Softmax(a, xTrue), Regularizer.None), xTrue);
    }

    [Fact]
    public void Near_a_planted_minimiser_the_fused_gradient_keeps_its_relative_accuracy()
    {
        var (p, xTrue) = Planted(3000, 6, 311, 312);
        var driver = p.Driver(2);
        var x = xTrue.Select((v, j) => v + 1e-7 * (j + 1)).ToArray();
        var refPoint = p.Objective.Evaluate(xTrue, (ScalarsReply)driver.Evaluate(new ScalarsRequest(xTrue)));
        var reply = (ScalarsReply)driver.Evaluate(new ScalarsRequest(x, refPoint.Globals, WithGradient: true));
        var point = p.Objective.Evaluate(x, reply, refPoint.Globals);
        var fused = p.Objective.FusedGradient(point, reply, refPoint.Globals)!;
        var exact = NaiveReference.Evaluate(NormalizedSoftmax.Instance, (Linear.DenseMatrix)p.A, p.B, new double[p.N], x).Gradient;
        Assert.True(Assertions.RelativeError(fused, exact) < 1e-6, $"rel err {Assertions.RelativeError(fused, exact):E2}");
    }

    [Theory]
    [InlineData("lbfgs")]
    [InlineData("gd")]
    public void Line_search_solvers_get_gradients_from_their_trials_and_still_converge(string solver)
    {
        var (p, xTrue) = Planted(2000, 8, 321, 322);
        var driver = p.Driver(2);
        var run = SolverCatalog.Create(solver).Start(p.Objective, new double[8],
            new SolverOptions { RelativeTolerance = 1e-10, MaxIterations = 20000 });
        int gradientRequests = 0, scalarRequests = 0;
        for (var request = run.Start(); request is not null; request = run.Submit(driver.Evaluate(request)))
        {
            if (request is GradientRequest) gradientRequests++;
            if (request is ScalarsRequest) scalarRequests++;
        }
        Assert.True(run.Result!.Converged, run.Result.Message);
        Assert.True(Assertions.RelativeError(run.Result.X, xTrue) < 1e-7);
        // Only the starting point needs a separate gradient pass; every accepted trial brought its gradient.
        Assert.Equal(1, gradientRequests);
        Assert.True(scalarRequests >= run.Result.Iterations + 1);
    }
}
