using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The scale of the log-linear start (LogLinearStart.FitScale, StartScaleRequest): the shards' φ(t) = L(t·X) and its
/// two derivatives against the objective's loss and finite differences, and the fitted start on noisy targets (a lower
/// loss, at a point where Newton's step in t predicts little more) and on exact ones (the planted X kept).
/// </summary>
public class LogLinearStartScaleTests
{
    private static double[] Start(MatrixProblem p, int shards) =>
        LogLinearStart.FromSums((LogLinearStartReply)MatrixTestProblems.Driver(p, shards).Evaluate(new LogLinearStartRequest()), p.Side);

    private static double Loss(MatrixProblem p, double[] x) =>
        p.Objective.Evaluate(x, (ScalarsReply)MatrixTestProblems.Driver(p, 1).Evaluate(new ScalarsRequest(x))).Loss;

    private static StartScaleReply Ray(MatrixProblem p, int shards, double[] x, double t) =>
        (StartScaleReply)MatrixTestProblems.Driver(p, shards).Evaluate(new StartScaleRequest(x, t));

    /// <summary>‖W∘M‖² for M = A1 X A2ᵀ, by plain loops.</summary>
    private static double WeightedSquares(MatrixProblem p, double[] x)
    {
        int n = p.Rows, d = p.Side;
        double sum = 0;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < n; i++)
            {
                double z = 0;
                for (int a = 0; a < d; a++)
                    for (int c = 0; c < d; c++) z += p.A1[j, a] * x[a * d + c] * p.A2[i, c];
                double w = p.W![j, i];
                sum += w * w * z * z;
            }
        return sum;
    }

    /// <summary>Planted softmax targets mixed with Dirichlet noise: B = (1 − noise)·softmax(A1 X A2ᵀ) + noise·Dirichlet.</summary>
    private static MatrixProblem NoisyPlanted(int n, int d, double noise, ulong seed)
    {
        var planted = MatrixTestProblems.Planted(Families.MultipleNormalized, n, d, seed, out _, scale: 2.0);
        var b = new DenseMatrix(n, n);
        var rng = new Rng(seed + 7);
        for (int j = 0; j < n; j++)
        {
            var dirichlet = rng.NextDirichlet(n);
            for (int i = 0; i < n; i++) b[j, i] = (1 - noise) * planted.B[j, i] + noise * dirichlet[i];
        }
        return MatrixProblem.Create(Families.MultipleNormalized, planted.A1, planted.A2, b);
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(false, 3)]
    [InlineData(true, 2)]
    public void The_scale_reply_is_the_loss_along_the_ray_and_its_two_derivatives(bool weighted, int shards)
    {
        const int n = 150, d = 5;
        const double step = 1e-3;
        var p = MatrixTestProblems.Random(Families.MultipleNormalized, n, d, weighted, 61);
        var x = Start(p, 1);
        foreach (double t in new[] { 0.6, 1.0, 1.4 })
        {
            var ray = Ray(p, shards, x, t);
            double loss = Loss(p, LogLinearStart.Scaled(x, t));
            // M is formed in single precision where the shard can (the scale only chooses a start): ≈ 1e-7 of each term.
            Assert.True(Math.Abs(ray.Loss - loss) <= 1e-6 * loss, $"t = {t}: φ = {ray.Loss:R}, L(t·X) = {loss:R}");
            Assert.Equal((long)n, ray.Rows);
            double slope = (Loss(p, LogLinearStart.Scaled(x, t + step)) - Loss(p, LogLinearStart.Scaled(x, t - step))) / (2 * step);
            double curvature = (Ray(p, shards, x, t + step).Slope - Ray(p, shards, x, t - step).Slope) / (2 * step);
            double scale = Math.Abs(ray.Slope) + Math.Abs(ray.Curvature) + loss;
            Assert.True(Math.Abs(ray.Slope - slope) <= 1e-5 * scale, $"t = {t}: φ′ = {ray.Slope:E6}, central difference {slope:E6}");
            Assert.True(Math.Abs(ray.Curvature - curvature) <= 1e-5 * scale, $"t = {t}: φ″ = {ray.Curvature:E6}, central difference {curvature:E6}");
            // The Gauss–Newton part Σ‖∂f_j/∂t‖² (+ ‖W∘M‖²), ∂f/∂t by central differences of the row softmaxes.
            var ahead = MatrixTestProblems.RowSoftmax(p.A1, p.A2, LogLinearStart.Scaled(x, t + step));
            var behind = MatrixTestProblems.RowSoftmax(p.A1, p.A2, LogLinearStart.Scaled(x, t - step));
            double gaussNewton = 0;
            for (int i = 0; i < ahead.Length; i++) { double rate = (ahead[i] - behind[i]) / (2 * step); gaussNewton += rate * rate; }
            if (weighted) gaussNewton += WeightedSquares(p, x);
            Assert.True(Math.Abs(ray.GaussNewtonCurvature - gaussNewton) <= 1e-5 * gaussNewton,
                $"t = {t}: Gauss–Newton part {ray.GaussNewtonCurvature:E6}, by differences {gaussNewton:E6}");
        }
        // Any number of shards: the same sums.
        var one = Ray(p, 1, x, 1.2);
        var many = Ray(p, 4, x, 1.2);
        Assert.True(Math.Abs(one.Loss - many.Loss) <= 1e-12 * one.Loss && Math.Abs(one.Slope - many.Slope) <= 1e-10 * Math.Abs(one.Curvature),
            $"one shard: {one}, four: {many}");
    }

    [Fact]
    public void On_noisy_targets_the_start_is_scaled_to_a_lower_loss_where_newton_in_t_predicts_little_more()
    {
        const int n = 200, d = 5;
        var p = NoisyPlanted(n, d, 0.5, 71);
        var options = new SolverOptions { LogLinearStart = true };
        var run = SolverCatalog.Create("approx-newton", options).Start(p.Objective, new double[d * d], options);
        var driver = MatrixTestProblems.Driver(p, 2);
        var request = run.Start();
        Assert.IsType<LogLinearStartRequest>(request);
        int scaleRequests = 0;
        for (request = run.Submit(driver.Evaluate(request)); request is StartScaleRequest; request = run.Submit(driver.Evaluate(request)))
            scaleRequests++;
        Assert.IsType<ScalarsRequest>(request);
        Assert.InRange(scaleRequests, 2, LogLinearStart.MaxScaleEvaluations);

        var fitted = Start(p, 2);
        double t = run.LogLinearStartScale!.Value;
        Assert.Equal(LogLinearStart.Scaled(fitted, t), run.X0);
        double before = Loss(p, fitted), after = Loss(p, run.X0);
        Assert.True(after < 0.9 * before, $"t = {t}: L(t·X) = {after:E4} against L(X) = {before:E4}");
        // Noise lifts a row's small entries, which flattens the fitted logits: the scale is above 1.
        Assert.True(t > 1, $"t = {t}");
        var ray = Ray(p, 2, fitted, t);
        double predicted = 0.5 * ray.Slope * ray.Slope / ray.GaussNewtonCurvature;
        Assert.True(scaleRequests == LogLinearStart.MaxScaleEvaluations || predicted <= LogLinearStart.ScaleTolerance * ray.Loss,
            $"t = {t}: φ′ = {ray.Slope:E3}, Gauss–Newton φ″ = {ray.GaussNewtonCurvature:E3}, φ = {ray.Loss:E3}");

        // The solve goes on from there to the minimiser of a solve from zeros.
        while (request is not null) request = run.Submit(driver.Evaluate(request));
        var fromZeros = new SolverOptions();
        var plain = MatrixTestProblems.Driver(p, 2).Solve(SolverCatalog.Create("approx-newton", fromZeros), p.Objective, new double[d * d], fromZeros);
        Assert.True(run.Result!.Converged, run.Result.Message);
        Assert.Equal(t, run.Result.LogLinearStartScale);
        Assert.True(Assertions.RelativeError(run.Result.X, plain.X) < 1e-6, "the solves from the scaled start and from zeros end apart");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void On_exact_softmax_targets_the_start_keeps_its_scale(int shards)
    {
        const int n = 60, d = 4;
        var p = MatrixTestProblems.Planted(Families.MultipleNormalized, n, d, 11, out var planted, scale: 1.5);
        var options = new SolverOptions { LogLinearStart = true };
        var run = SolverCatalog.Create("approx-newton", options).Start(p.Objective, new double[d * d], options);
        var driver = MatrixTestProblems.Driver(p, shards);
        var request = run.Start();
        while (request is LogLinearStartRequest or StartScaleRequest) request = run.Submit(driver.Evaluate(request));
        double t = run.LogLinearStartScale!.Value;
        Assert.True(Math.Abs(t - 1) < 1e-6, $"t = {t}");
        Assert.True(Assertions.RelativeError(run.X0, planted) < 1e-6, "the scaled start left the planted X");
    }

    [Fact]
    public void A_scale_that_is_not_positive_and_finite_is_refused()
    {
        var p = MatrixTestProblems.Random(Families.MultipleNormalized, 20, 3, false, 81);
        var x = new double[9];
        foreach (double t in new[] { 0.0, -1.0, double.NaN, double.PositiveInfinity })
        {
            var e = Assert.Throws<ArgumentException>(() => MatrixTestProblems.Driver(p, 1).Evaluate(new StartScaleRequest(x, t)));
            Assert.Contains("start scale", e.Message);
        }
    }
}
