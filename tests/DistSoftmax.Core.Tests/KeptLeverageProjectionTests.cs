using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sketching;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;
using Xunit;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The approximate Newton method keeps its leverage triangle once its steps are full and its loss settled, and the shards keep each row's
/// projection by it (<see cref="SampledGramCurvature.KeepTriangleAfterFullSteps"/>, VectorShard.ProjectedNormsFor).
/// </summary>
public class KeptLeverageProjectionTests
{
    private static TestProblem Planted(int n, int d, ulong seed)
    {
        var rng = new Rng(seed);
        var a = new DenseMatrix(n, d);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) a[i, j] = rng.NextNormal() / Math.Sqrt(d) * (i % 97 == 0 ? 4.0 : 1.0);
        var xTrue = TestProblem.Vector(d, seed + 1, 1.5);
        return new TestProblem(NormalizedSoftmax.Instance, a, TestProblem.Softmax(a, xTrue), Regularizer.None);
    }

    [Fact]
    public void A_shard_that_kept_a_projection_answers_as_a_fresh_shard_does()
    {
        const int n = 6000, d = 12;
        var p = Planted(n, d, 3);
        var options = new SolverOptions();
        int k = options.ProjectionColumnsFor(n);
        var triangle = Packed.FromUpper(Enumerable.Range(0, d * d).Select(e => e / d == e % d ? 1.0 + 0.1 * (e / d) : 0.02 * ((e * 7) % 5)).ToArray(), d);
        var (projT, total) = LeverageProjection.FromTriangle(triangle, d, k, new Rng(8));
        var kept = p.Driver(2);   // answers three samples with one projection: rows projected once are reused
        foreach (double shift in new[] { 0.0, 0.05, -0.3 })
        {
            var x = TestProblem.Vector(d, 40, 0.5).Select(v => v + shift).ToArray();
            SampledGramRequest Request(IShardEvaluator driver)
            {
                var point = p.Objective.Evaluate(x, (ScalarsReply)driver.Evaluate(new ScalarsRequest(x)));
                return new SampledGramRequest(x, point.Globals, HessianKind.GaussNewton, projT, k, total, options.SampleSize(d), 21);
            }
            var fresh = p.Driver(2);
            var expected = (GramReply)fresh.Evaluate(Request(fresh));
            var actual = (GramReply)kept.Evaluate(Request(kept));
            Assert.Equal(expected.RowsUsed, actual.RowsUsed);
            Assert.Equal(expected.PackedUpper, actual.PackedUpper);
        }
    }

    [Fact]
    public void Once_steps_are_full_and_the_loss_settled_the_solve_samples_by_the_same_projection()
    {
        const int n = 20000, d = 10;
        var p = Planted(n, d, 5);
        var options = new SolverOptions { RelativeTolerance = 1e-10, Seed = 7 };
        Assert.Equal(ApproximateNewtonForm.SampledNewton, VectorSolverCostModel.FormFor(n, d, (long)n * d, options));
        var run = SolverCatalog.Create("approx-newton").Start(p.Objective, new double[d], options);
        var driver = p.Driver(2);
        var projections = new List<(int Iteration, double[] ProjectionT)>();
        var request = run.Start();
        while (request is not null)
        {
            if (request is SampledGramRequest { Uniform: false } sampled) projections.Add((run.Trace.Count - 1, sampled.ProjectionT));
            request = run.Submit(driver.Evaluate(request));
        }
        var result = run.Result!;
        Assert.Equal(ExitCondition.Converged, result.Exit);
        var steps = result.Trace.Select(t => t.StepLength).ToArray();
        var losses = result.Trace.Select(t => t.Loss).ToArray();
        int reused = 0, renewed = 0;
        for (int t = 1; t < projections.Count; t++)
        {
            var (iteration, projection) = projections[t];
            var previous = projections[t - 1].ProjectionT;
            // The triangle behind this sample was kept at the previous build when the two steps before it were full and
            // the last of them changed the loss by at most KeepTriangleBelowLossChange.
            int built = projections[t - 1].Iteration;
            double change = built >= 1 ? Math.Abs(losses[built - 1] - losses[built]) : double.PositiveInfinity;
            bool settled = built >= 1 && steps[built] == 1 && steps[built - 1] == 1
                && (change <= SampledGramCurvature.KeepTriangleBelowLossChange * Math.Abs(losses[built])
                    || change <= SampledGramCurvature.KeepTriangleBelowInitialLossChange * Math.Abs(losses[0]));
            // Otherwise the new triangle is this sample's factor (unless that Gram did not factor, and the last one stays).
            if (settled) { Assert.Equal(previous, projection); reused++; }
            else if (!previous.AsSpan().SequenceEqual(projection)) renewed++;
            Assert.Equal(built + 1, iteration);
        }
        Assert.True(reused >= 2 && renewed >= 1, $"{reused} samples kept the projection, {renewed} took a new one: the instance does not test both");
    }
}
