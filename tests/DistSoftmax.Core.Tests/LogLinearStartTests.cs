using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The log-linear start of multiple normalized softmax regression (Solvers/LogLinearStart, LogLinearStartRequest):
/// the planted X on exact softmax targets, the least-squares fit (its normal equations, computed here by plain loops)
/// on noisy ones, the same from any number of shards, rows without a logarithm left out, and solves from it that reach
/// the minimiser a solve from zeros reaches.
/// </summary>
public class LogLinearStartTests
{
    private static double[] Start(MatrixProblem p, int shards, out LogLinearStartReply sums)
    {
        sums = (LogLinearStartReply)MatrixTestProblems.Driver(p, shards).Evaluate(new LogLinearStartRequest());
        return LogLinearStart.FromSums(sums, p.Side);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void On_exact_softmax_targets_the_start_is_the_planted_X(int shards)
    {
        // log B_j = z_j − log Σexp(z_j): centred, exactly A1 X Ã2ᵀ's rows, so the fit recovers X.
        const int n = 60, d = 4;
        var problem = MatrixTestProblems.Planted(Families.MultipleNormalized, n, d, 11, out var planted, scale: 1.5);
        var start = Start(problem, shards, out var sums);
        Assert.Equal((n, n), (sums.UsableRows, sums.Rows));
        double error = Assertions.RelativeError(start, planted);
        Assert.True(error < 1e-9, $"start is {error:E2} (relative) from the planted X");

        // A solve from it converges (its tolerance is measured against ‖∇L(0)‖, not the start's rounding-level gradient).
        var options = new SolverOptions { LogLinearStart = true };
        var solved = MatrixTestProblems.Driver(problem, shards).Solve(SolverCatalog.Create("approx-newton", options), problem.Objective, new double[d * d], options);
        Assert.True(solved.Converged, solved.Message);
        Assert.True(Assertions.RelativeError(solved.X, planted) < 1e-9, "the solve left the planted X");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_start_pass_gradient_at_zero_is_the_gradient_at_zero(bool weighted)
    {
        const int n = 45, d = 3;
        var p = MatrixTestProblems.Random(Families.MultipleNormalized, n, d, weighted, 61);
        Start(p, 2, out var sums);
        var driver = MatrixTestProblems.Driver(p, 3);
        var expected = MatrixTestProblems.Gradient(driver, p.Objective, new double[d * d]);
        // Formed by sgemm where the shard has single-precision products (only its norm is used, as the tolerance's scale).
        double error = Assertions.RelativeError(sums.GradientAtZero, expected);
        double bound = MatrixProducts.SingleAvailable ? 1e-5 : 1e-12;
        Assert.True(error < bound, $"∇L(0) from the start pass is {error:E2} (relative) off");
        double normError = Math.Abs(SpanMath.Norm(sums.GradientAtZero) / SpanMath.Norm(expected) - 1);
        Assert.True(normError < bound / 10, $"‖∇L(0)‖ from the start pass is {normError:E2} (relative) off");
    }

    [Fact]
    public void On_noisy_targets_the_start_solves_the_normal_equations_and_is_the_same_from_any_shards()
    {
        const int n = 50, d = 3;
        var p = MatrixTestProblems.Random(Families.MultipleNormalized, n, d, false, 21);
        var one = Start(p, 1, out _);
        var three = Start(p, 3, out _);
        Assert.True(Assertions.RelativeError(three, one) < 1e-12, "three shards and one disagree");
        var (residualProjected, scale) = NormalEquations(p, one, Enumerable.Range(0, n));
        Assert.True(residualProjected < 1e-10 * scale, $"A1ᵀ(A1 X Ã2ᵀ − L)Ã2 is {residualProjected:E2} against ‖A1ᵀ L Ã2‖ = {scale:E2}");
    }

    [Fact]
    public void Rows_with_a_non_positive_entry_take_no_part_and_none_usable_gives_zeros()
    {
        const int n = 40, d = 3;
        var p = MatrixTestProblems.Random(Families.MultipleNormalized, n, d, false, 31);
        var b = new DenseMatrix(n, n, (double[])p.B.Data.Clone());
        b[5, 7] = 0.0;
        b[17, 0] = -1e-3;
        var holed = MatrixProblem.Create(Families.MultipleNormalized, p.A1, p.A2, b);
        var start = Start(holed, 2, out var sums);
        Assert.Equal((n - 2L, (long)n), (sums.UsableRows, sums.Rows));
        var (residualProjected, scale) = NormalEquations(holed, start, Enumerable.Range(0, n).Where(j => j is not (5 or 17)));
        Assert.True(residualProjected < 1e-10 * scale, $"normal equations over the usable rows: {residualProjected:E2} against {scale:E2}");

        var none = new DenseMatrix(n, n);
        var zeros = Start(MatrixProblem.Create(Families.MultipleNormalized, p.A1, p.A2, none), 2, out var noSums);
        Assert.Equal(0, noSums.UsableRows);
        Assert.All(zeros, v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void A_solve_from_the_log_linear_start_asks_for_it_first_and_reaches_the_minimiser_a_solve_from_zeros_reaches()
    {
        // Dirichlet targets: a large-residual problem, so the minimiser is not the start.
        const int n = 300, d = 6;
        var p = MatrixTestProblems.Random(Families.MultipleNormalized, n, d, false, 41);
        var fromZeros = new SolverOptions { RelativeTolerance = 1e-10 };
        var fromStart = fromZeros with { LogLinearStart = true };
        var solver = SolverCatalog.Create("approx-newton", fromStart);
        var run = solver.Start(p.Objective, new double[d * d], fromStart);
        var driver = MatrixTestProblems.Driver(p, 2);
        var request = run.Start();
        Assert.IsType<LogLinearStartRequest>(request);
        while (request is not null) request = run.Submit(driver.Evaluate(request));
        var started = run.Result!;
        var plain = MatrixTestProblems.Driver(p, 2).Solve(SolverCatalog.Create("approx-newton", fromZeros), p.Objective, new double[d * d], fromZeros);
        Assert.True(started.Converged, started.Message);
        Assert.True(plain.Converged, plain.Message);
        // The fitted start, scaled to the least loss along t·X (LogLinearStartScaleTests).
        Assert.Equal(LogLinearStart.Scaled(Start(p, 2, out _), run.LogLinearStartScale!.Value), run.X0);
        Assert.Equal((long?)n, run.LogLinearStartRows);
        double difference = Assertions.RelativeError(started.X, plain.X);
        Assert.True(difference < 1e-7, $"the two solves end {difference:E2} apart (relative)");
    }

    [Fact]
    public void Only_multiple_normalized_problems_have_the_start()
    {
        const int n = 30, d = 3;
        var rescaled = MatrixTestProblems.Random(Families.MultipleRescaled, n, d, false, 51);
        var e = Assert.Throws<NotSupportedException>(() => rescaled.Shard(new RowRange(0, n), ShardComputeOptions.Sequential).Evaluate(new LogLinearStartRequest()));
        Assert.Contains("multiple normalized", e.Message);
        var vector = new VectorObjective(NormalizedSoftmax.Instance, 3, 40);
        var options = new SolverOptions { LogLinearStart = true };
        Assert.Throws<ArgumentException>(() => SolverCatalog.Create("newton", options).Start(vector, new double[3], options));
    }

    /// <summary>
    /// ‖A1ᵀ (A1 X Ã2ᵀ − L) Ã2‖ over the given rows (L: their centred log B; Ã2: A2 with its column means removed), and
    /// ‖A1ᵀ L Ã2‖ for scale — by plain loops.
    /// </summary>
    private static (double Residual, double Scale) NormalEquations(MatrixProblem p, double[] x, IEnumerable<int> rows)
    {
        int n = p.A2.Rows, d = p.Side;
        var centred = new double[n * d];
        for (int l = 0; l < d; l++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++) mean += p.A2[i, l];
            mean /= n;
            for (int i = 0; i < n; i++) centred[i * d + l] = p.A2[i, l] - mean;
        }
        var residual = new double[d * d];
        var target = new double[d * d];
        foreach (int j in rows)
        {
            var log = Enumerable.Range(0, n).Select(i => Math.Log(p.B[j, i])).ToArray();
            double logMean = log.Average();
            for (int i = 0; i < n; i++)
            {
                double fitted = 0;
                for (int k = 0; k < d; k++)
                    for (int l = 0; l < d; l++) fitted += p.A1[j, k] * x[k * d + l] * centred[i * d + l];
                double l0 = log[i] - logMean;
                for (int k = 0; k < d; k++)
                    for (int l = 0; l < d; l++)
                    {
                        residual[k * d + l] += p.A1[j, k] * (fitted - l0) * centred[i * d + l];
                        target[k * d + l] += p.A1[j, k] * l0 * centred[i * d + l];
                    }
            }
        }
        return (Math.Sqrt(residual.Sum(v => v * v)), Math.Sqrt(target.Sum(v => v * v)));
    }
}
