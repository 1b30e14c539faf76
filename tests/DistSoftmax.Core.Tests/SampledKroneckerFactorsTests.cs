using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The Kronecker factors summed over a leverage-score sample of the rows (<see cref="LeverageRowSample"/>,
/// <see cref="KroneckerFactorsRequest.RowShare"/>, <see cref="SolverOptions.KroneckerRowsPerColumn"/>): the scores,
/// the inclusion probabilities, unbiased sums, and a solve preconditioned by them.
/// </summary>
public class SampledKroneckerFactorsTests
{
    [Fact]
    public void Leverage_scores_are_the_rows_quadratic_forms_in_the_inverse_Gram_and_sum_to_the_rank()
    {
        int rows = 57, d = 5;
        var a = TestProblem.Gaussian(rows, d, 3);
        for (int j = 0; j < rows; j++) a[j, 2] *= 1 + 10 * (j % 7);   // rows of unequal leverage
        var scores = LeverageRowSample.Scores(a.Data, MatrixProducts.Transpose(a.Data, rows, d), rows, d);
        var gram = new double[d * d];
        for (int j = 0; j < rows; j++)
            for (int i = 0; i < d; i++)
                for (int k = 0; k < d; k++) gram[i * d + k] += a[j, i] * a[j, k];
        Assert.True(DenseAlgebra.TryCholesky(gram, d));
        for (int j = 0; j < rows; j++)
        {
            var row = a.Data.AsSpan(j * d, d);
            double expected = SpanMath.Dot(row, DenseAlgebra.CholeskySolve(gram, d, row));
            // (the scores' Cholesky factor is damped by 1e-12 of the Gram's mean diagonal, here ≈ 1e3 times its smallest
            // eigenvalue: ≈ 1e-9 relative)
            Assert.True(Math.Abs(scores[j] - expected) < 1e-8 * expected, $"row {j}: {scores[j]} against {expected}");
        }
        Assert.Equal(d, scores.Sum(), 6);
    }

    [Fact]
    public void Rows_are_kept_with_their_probability_and_weighted_by_its_inverse()
    {
        // p_j = min(1, s·(½ ℓ_j/Σℓ + ½/rows)); over many seeds each row's frequency is within 5 binomial sigmas of p_j.
        int rows = 40, draws = 4000;
        double share = 0.3;
        var scores = Enumerable.Range(0, rows).Select(j => j < 4 ? 3.0 : 0.05).ToArray();
        double total = scores.Sum();
        var p = scores.Select(l => Math.Min(1.0, share * rows * (0.5 * l / total + 0.5 / rows))).ToArray();
        Assert.Contains(p, q => q == 1.0);   // the high-leverage rows are always kept
        var counts = new int[rows];
        for (int t = 0; t < draws; t++)
        {
            var (kept, weights) = LeverageRowSample.Draw(scores, share, Rng.StreamSeed(9, t, 1), rowOffset: 100);
            Assert.Equal(kept.OrderBy(j => j), kept);
            for (int i = 0; i < kept.Length; i++)
            {
                counts[kept[i]]++;
                Assert.Equal(1 / p[kept[i]], weights[i], 12);
            }
        }
        for (int j = 0; j < rows; j++)
        {
            double sigma = Math.Sqrt(draws * p[j] * (1 - p[j]));
            Assert.True(Math.Abs(counts[j] - draws * p[j]) <= 5 * sigma + 1e-9, $"row {j}: kept {counts[j]} of {draws}, p = {p[j]:F4}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => LeverageRowSample.Draw(scores, 0, 1, 0));
    }

    [Theory]
    [InlineData("multiple-normalized", false)]
    [InlineData("multiple-rescaled", true)]
    public void Sampled_factors_are_unbiased_estimates_of_the_every_row_sums(string problem, bool weighted)
    {
        // The mean of 600 samples of a quarter of the rows is within 3 % of the every-row sums (by the sample's own
        // spread: a single sample is further off, so the test would see sums that were not sampled or not reweighted).
        var p = MatrixTestProblems.Random(problem, 48, 3, weighted, 61);
        var x = MatrixTestProblems.RandomX(3, 62, 0.6);
        var driver = MatrixTestProblems.Driver(p, 2);
        var every = (KroneckerFactorsReply)driver.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton));
        Assert.Equal(48, every.Rows);
        int samples = 600;
        var left = new double[every.LeftPacked.Length];
        var right = new double[every.RightPacked.Length];
        double weightSum = 0, rows = 0, firstError = 0;
        for (int t = 0; t < samples; t++)
        {
            var sampled = (KroneckerFactorsReply)driver.Evaluate(
                new KroneckerFactorsRequest(x, HessianKind.GaussNewton, RowShare: 0.25, SampleSeed: Rng.StreamSeed(63, t, 21)));
            if (t == 0) firstError = Assertions.RelativeError(sampled.LeftPacked, every.LeftPacked);
            SpanMath.Add(left, sampled.LeftPacked, left);
            SpanMath.Add(right, sampled.RightPacked, right);
            weightSum += sampled.WeightSum;
            rows += sampled.Rows;
        }
        SpanMath.Multiply(left, 1.0 / samples, left);
        SpanMath.Multiply(right, 1.0 / samples, right);
        Assert.True(Assertions.RelativeError(left, every.LeftPacked) < 0.03, $"F: {Assertions.RelativeError(left, every.LeftPacked):E2}");
        Assert.True(Assertions.RelativeError(right, every.RightPacked) < 0.03, $"ΣS: {Assertions.RelativeError(right, every.RightPacked):E2}");
        Assert.True(Math.Abs(weightSum / samples - every.WeightSum) < 0.03 * every.WeightSum);
        Assert.True(firstError > 2 * Assertions.RelativeError(left, every.LeftPacked), $"one sample's F is off by {firstError:E2}");
        Assert.InRange(rows / samples, 0.15 * 48, 0.3 * 48);   // about a quarter of the rows (p_j capped at 1)
    }

    [Fact]
    public void A_sample_is_the_same_whatever_the_threads_and_a_bad_share_is_refused()
    {
        var p = MatrixTestProblems.Random("multiple-normalized", 300, 3, false, 71);
        var x = MatrixTestProblems.RandomX(3, 72, 0.5);
        var request = new KroneckerFactorsRequest(x, HessianKind.GaussNewton, RowShare: 0.3, SampleSeed: 73);
        var one = (KroneckerFactorsReply)MatrixTestProblems.Driver(p, 1, ShardComputeOptions.Sequential).Evaluate(request);
        var threaded = (KroneckerFactorsReply)MatrixTestProblems.Driver(p, 1, new ShardComputeOptions(4)).Evaluate(request);
        Assert.Equal(one.LeftPacked, threaded.LeftPacked);
        Assert.Equal(one.RightPacked, threaded.RightPacked);
        Assert.Equal(one.WeightSum, threaded.WeightSum);
        Assert.InRange(one.Rows, 1, 299);
        var shard = p.Shards(1, ShardComputeOptions.Sequential)[0];
        foreach (double share in new[] { 0.0, -0.5, 1.5, double.NaN })
        {
            var e = Assert.Throws<ArgumentException>(() => shard.Evaluate(request with { RowShare = share }));
            Assert.Contains("row share must be in (0, 1]", e.Message);
        }
    }

    [Fact]
    public void Approx_newton_with_sampled_factors_reaches_the_every_row_solve_s_minimiser()
    {
        int n = 96, d = 4;
        var p = MatrixTestProblems.Random("multiple-normalized", n, d, false, 81);
        var options = new SolverOptions { RelativeTolerance = 1e-10 };
        var sampledOptions = options with { KroneckerRowsPerColumn = 4 };   // 16 of 96 rows in expectation
        Assert.Equal(16.0 / 96, KroneckerPreconditioner.RowShare(4, d * d, n), 12);
        var every = new InProcessDriver(p.Shards(2)).Solve(SolverCatalog.Create("approx-newton", options), p.Objective, new double[d * d], options);
        var sampled = new InProcessDriver(p.Shards(2)).Solve(SolverCatalog.Create("approx-newton", sampledOptions), p.Objective, new double[d * d], sampledOptions);
        Assert.True(every.Converged);
        Assert.True(sampled.Converged);
        Assert.True(Assertions.RelativeError(sampled.X, every.X) < 1e-7, $"x differs by {Assertions.RelativeError(sampled.X, every.X):E2}");
        Assert.All(every.Trace, t => Assert.Equal(0, t.RowsSampled));
        Assert.Contains(sampled.Trace, t => t.RowsSampled > 0 && t.RowsSampled < n);
    }
}
