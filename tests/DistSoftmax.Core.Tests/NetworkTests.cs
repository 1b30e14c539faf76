using DistSoftmax.Core;
using System.Numerics.Tensors;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>A row-by-row reference of the two-layer networks written without the tiled kernels.</summary>
internal static class NaiveNetwork
{
    /// <summary>F(W, x) for one input (softmax without a shift: only for moderate pre-activations).</summary>
    public static double[] Output(NetworkModel model, double[] w, ReadOnlySpan<double> x, out double[] h, out double[] phi)
    {
        int d = model.InputDim, m = model.Width, k = model.Outputs;
        h = new double[m];
        for (int j = 0; j < m; j++)
            for (int p = 0; p < d; p++) h[j] += w[p * m + j] * x[p];
        phi = new double[m];
        double norm = 0;
        for (int j = 0; j < m; j++)
        {
            phi[j] = model.Activation switch
            {
                Activation.Relu => Math.Max(h[j], 0),
                _ => Math.Exp(h[j]),
            };
            norm += phi[j];
        }
        var f = new double[k];
        for (int r = 0; r < k; r++)
        {
            double s = 0;
            for (int j = 0; j < m; j++) s += model.OutputWeights[j * k + r] * phi[j];
            f[r] = model.Activation == Activation.Softmax ? m * s / norm : s / Math.Sqrt(m);
        }
        return f;
    }

    /// <summary>Loss and gradient over the rows for which <paramref name="use"/> is true, via the Jacobian ∂F/∂h.</summary>
    public static (double Loss, double[] Gradient) LossAndGradient(NetworkModel model, double[] w, DenseMatrix x, DenseMatrix y,
        Func<int, bool>? use = null)
    {
        int d = model.InputDim, m = model.Width, k = model.Outputs;
        double loss = 0;
        var grad = new double[d * m];
        for (int i = 0; i < x.Rows; i++)
        {
            if (use is not null && !use(i)) continue;
            var xi = x.Row(i);
            var f = Output(model, w, xi, out var h, out var phi);
            var res = new double[k];
            for (int r = 0; r < k; r++) { res[r] = f[r] - y[i, r]; loss += 0.5 * res[r] * res[r]; }
            double norm = phi.Sum();
            for (int j = 0; j < m; j++)
            {
                double delta = 0;
                for (int r = 0; r < k; r++)
                {
                    double a = model.OutputWeights[j * k + r];
                    double jac = model.Activation switch
                    {
                        Activation.Softmax => phi[j] / norm * (m * a - f[r]),
                        Activation.Relu => h[j] > 0 ? a / Math.Sqrt(m) : 0,
                        _ => a * phi[j] / Math.Sqrt(m),
                    };
                    delta += res[r] * jac;
                }
                for (int p = 0; p < d; p++) grad[p * m + j] += xi[p] * delta;
            }
        }
        return (loss, grad);
    }

    public static DenseMatrix Matrix(int n, int d, ulong seed, double scale = 1.0)
    {
        var a = new DenseMatrix(n, d);
        new Rng(seed).FillNormal(a.Data, scale);
        return a;
    }
}

public class NetworkTests
{
    public static IEnumerable<object[]> Activations() => new[] { new object[] { "softmax" }, new object[] { "relu" }, new object[] { "exp" } };

    private static NetworkProblem Problem(string activation, int n, int d, int m, int k, ulong seed, bool paired = false)
    {
        var model = NetworkModel.Create(Networks.Activations.Parse(activation), d, m, k, seed, paired);
        return new NetworkProblem(model, NaiveNetwork.Matrix(n, d, seed + 1, 1 / Math.Sqrt(d)), NaiveNetwork.Matrix(n, k, seed + 2));
    }

    private static (double Loss, double[] Gradient) Evaluate(InProcessDriver driver, IObjective objective, double[] w)
    {
        var grad = ((GradientReply)driver.Evaluate(new GradientRequest(w, Array.Empty<double>(), HessianKind.Exact, false))).Gradient;
        double loss = objective.Evaluate(w, (ScalarsReply)driver.Evaluate(new ScalarsRequest(w))).Loss;
        return (loss, grad);
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void Network_gradient_matches_central_finite_differences(string activation)
    {
        var p = Problem(activation, n: 7, d: 3, m: 6, k: 2, seed: 11);
        var w = NetworkModel.InitialWeights(3, 6, 12, scale: 0.7);
        var driver = p.Driver(2);
        var (_, grad) = Evaluate(driver, p.Objective, w);
        var fd = new double[w.Length];
        double step = 1e-6;
        for (int i = 0; i < w.Length; i++)
        {
            var plus = (double[])w.Clone(); plus[i] += step;
            var minus = (double[])w.Clone(); minus[i] -= step;
            fd[i] = (Evaluate(driver, p.Objective, plus).Loss - Evaluate(driver, p.Objective, minus).Loss) / (2 * step);
        }
        double err = Assertions.RelativeError(grad, fd);
        Assert.True(err < 1e-7, $"{activation}: gradient relative error {err:E2} against central differences");
    }

    public static IEnumerable<object[]> ShardCases()
    {
        foreach (var a in new[] { "softmax", "relu", "exp" })
            foreach (var shards in new[] { 1, 2, 4 })
                yield return new object[] { a, shards };
    }

    [Theory]
    [MemberData(nameof(ShardCases))]
    public void Sharded_loss_and_gradient_equal_the_unsharded_row_by_row_reference(string activation, int shards)
    {
        // 4500 rows: more than one fixed row block per shard for 1 and 2 shards, so blocks and shards both merge.
        var p = Problem(activation, n: 4500, d: 5, m: 10, k: 3, seed: 21);
        var w = NetworkModel.InitialWeights(5, 10, 22);
        var (loss, grad) = Evaluate(p.Driver(shards), p.Objective, w);
        var (refLoss, refGrad) = NaiveNetwork.LossAndGradient(p.Model, w, p.Inputs, p.Targets);
        Assert.True(Math.Abs(loss - refLoss) <= 1e-12 * refLoss, $"loss {loss} vs {refLoss}");
        double err = Assertions.RelativeError(grad, refGrad);
        Assert.True(err < 1e-12, $"gradient relative error {err:E2}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void Mini_batch_gradient_sums_the_keyed_rows_whatever_the_layout(int shards)
    {
        var p = Problem("softmax", n: 3001, d: 4, m: 8, k: 2, seed: 31);
        var w = NetworkModel.InitialWeights(4, 8, 32);
        var driver = p.Driver(shards);
        double f = 0.3; // batches of 30 %, 30 %, 30 % and 10 % of the rows
        int batches = MiniBatchGradientRequest.BatchesPerEpoch(f);
        Assert.Equal(4, batches);
        var sum = new double[w.Length];
        var counts = new int[batches];
        for (int b = 0; b < batches; b++)
        {
            var request = new MiniBatchGradientRequest(w, 77, 5, b, f);
            var g = ((GradientReply)driver.Evaluate(request)).Gradient;
            var (_, expected) = NaiveNetwork.LossAndGradient(p.Model, w, p.Inputs, p.Targets, i => request.Selects(i));
            Assert.True(Assertions.RelativeError(g, expected) < 1e-12, $"batch {b}: relative error {Assertions.RelativeError(g, expected):E2}");
            TensorPrimitives.Add(sum, g, sum);
            for (int i = 0; i < p.Rows; i++) if (request.Selects(i)) counts[b]++;
        }
        // The batches of an epoch partition the rows: together they give the full gradient.
        Assert.Equal(p.Rows, counts.Sum());
        var (_, full) = Evaluate(driver, p.Objective, w);
        Assert.True(Assertions.RelativeError(sum, full) < 1e-12);
        for (int b = 0; b < batches; b++)
        {
            double expectedRows = p.Rows * MiniBatchGradientRequest.FractionOf(b, f);
            Assert.InRange(counts[b], expectedRows - 4 * Math.Sqrt(expectedRows), expectedRows + 4 * Math.Sqrt(expectedRows));
        }
        // Another epoch draws another partition.
        var other = new MiniBatchGradientRequest(w, 77, 6, 0, f);
        var first = new MiniBatchGradientRequest(w, 77, 5, 0, f);
        Assert.True(Enumerable.Range(0, p.Rows).Count(i => other.Selects(i) != first.Selects(i)) > p.Rows / 10);
    }

    [Fact]
    public void Softmax_network_stays_finite_and_shift_invariant_for_pre_activations_near_1000()
    {
        // The last input feature is constant 1: adding c to the last row of W adds c to every pre-activation.
        int d = 3, m = 5, k = 2;
        var model = NetworkModel.Create(Activation.Softmax, d, m, k, 41);
        var w = NetworkModel.InitialWeights(d, m, 42);
        var x = new[] { 0.3, -0.4, 1.0 };
        var shifted = (double[])w.Clone();
        for (int j = 0; j < m; j++) shifted[(d - 1) * m + j] += 1000.0;
        var f = model.Predict(w, x);
        var fShifted = model.Predict(shifted, x);
        Assert.All(fShifted, v => Assert.True(double.IsFinite(v)));
        Assert.True(Assertions.RelativeError(fShifted, f) < 1e-12);
        var reference = NaiveNetwork.Output(model, w, x, out _, out _);
        Assert.True(Assertions.RelativeError(f, reference) < 1e-13);

        var data = new DenseMatrix(1, d, (double[])x.Clone());
        var targets = new DenseMatrix(1, k, new[] { 0.5, -0.5 });
        var p = new NetworkProblem(model, data, targets);
        var (loss, grad) = Evaluate(p.Driver(1), p.Objective, shifted);
        var (refLoss, refGrad) = Evaluate(p.Driver(1), p.Objective, w);
        Assert.True(double.IsFinite(loss) && grad.All(double.IsFinite));
        Assert.True(Math.Abs(loss - refLoss) <= 1e-12 * refLoss);
        Assert.True(Assertions.RelativeError(grad, refGrad) < 1e-10);
    }

    [Theory]
    [MemberData(nameof(Activations))]
    public void Paired_initialisation_gives_a_zero_output(string activation)
    {
        var model = NetworkModel.Create(Networks.Activations.Parse(activation), 4, 8, 3, 51, paired: true);
        var w = NetworkModel.InitialWeights(4, 8, 52, paired: true);
        var x = NaiveNetwork.Matrix(10, 4, 53);
        var f = new double[10 * 3];
        model.Predict(w, x.Data, 10, f);
        Assert.All(f, v => Assert.True(Math.Abs(v) < 1e-12, $"F(W0) = {v}"));
        // An unpaired network's output is not zero.
        var free = NetworkModel.Create(model.Activation, 4, 8, 3, 51);
        free.Predict(NetworkModel.InitialWeights(4, 8, 52), x.Data, 10, f);
        Assert.Contains(f, v => Math.Abs(v) > 1e-3);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.25)]
    public void Training_gives_the_same_iterates_on_1_2_and_4_shards_and_lowers_the_loss(double batchFraction)
    {
        // A planted (teacher) target that the paired network, starting from F = 0, can learn.
        var model = NetworkModel.Create(Activation.Softmax, 4, 16, 2, 61, paired: true);
        var inputs = NaiveNetwork.Matrix(600, 4, 62, 0.5);
        var targets = new DenseMatrix(600, 2);
        model.Predict(NetworkModel.InitialWeights(4, 16, 64), inputs.Data, 600, targets.Data);
        var p = new NetworkProblem(model, inputs, targets);
        var w0 = NetworkModel.InitialWeights(4, 16, 62, paired: true);
        var options = new TrainingOptions { LearningRate = 2e-4, Epochs = 30, BatchFraction = batchFraction, Seed = 63 };
        SolverResult? first = null;
        foreach (int shards in new[] { 1, 2, 4 })
        {
            var trainer = new NetworkTrainer(options);
            var result = p.Driver(shards).Solve(trainer, p.Objective, w0, new SolverOptions());
            Assert.Equal(ExitCondition.MaxIterations, result.Exit);
            Assert.Equal(31, trainer.History.Count);
            Assert.True(trainer.History[^1].Loss < 0.5 * trainer.History[0].Loss,
                $"loss {trainer.History[0].Loss:G4} → {trainer.History[^1].Loss:G4}");
            Assert.True(trainer.History[^1].RelativeChange > 0);
            if (first is null) first = result;
            else Assert.True(Assertions.RelativeError(result.X, first.X) < 1e-12, $"{shards} shards: iterates differ");
        }
    }

    /// <summary>SGD's epochs record a mini-batch estimate's norm, but its last entry — the weights it ends with — the full
    /// gradient's (QA audit, twenty-sixth session: 2.19 reported where ‖∇L‖ at the saved weights was 0.91).</summary>
    [Fact]
    public void Sgd_records_the_full_gradient_at_the_weights_it_ends_with()
    {
        var p = Problem("relu", n: 200, d: 3, m: 16, k: 2, seed: 91);
        var w0 = NetworkModel.InitialWeights(3, 16, 92);
        var trainer = new NetworkTrainer(new TrainingOptions { LearningRate = 1e-3, Epochs = 20, BatchFraction = 0.25, Lambda = 0.5, Seed = 93 });
        var result = p.Driver(2).Solve(trainer, p.Objective, w0, new SolverOptions());
        var (_, dataGrad) = NaiveNetwork.LossAndGradient(p.Model, result.X, p.Inputs, p.Targets);
        var diff = new double[w0.Length];
        TensorPrimitives.Subtract(result.X, w0, diff);
        var full = new double[w0.Length];
        TensorPrimitives.MultiplyAdd(diff, 2 * 0.5, dataGrad, full);
        double expected = TensorPrimitives.Norm<double>(full);
        Assert.True(Math.Abs(trainer.History[^1].GradientNorm - expected) <= 1e-10 * expected,
            $"recorded {trainer.History[^1].GradientNorm:G6}, ‖∇L‖ at the final weights {expected:G6}");
        Assert.Equal(expected, result.GradientNorm, 1e-10 * expected);
    }

    [Fact]
    public void Regularised_training_reports_the_penalty_and_stays_closer_to_the_start()
    {
        var p = Problem("relu", n: 300, d: 4, m: 32, k: 1, seed: 71);
        var w0 = NetworkModel.InitialWeights(4, 32, 72);
        var plain = new NetworkTrainer(new TrainingOptions { LearningRate = 1e-3, Epochs = 40 });
        var ridge = new NetworkTrainer(new TrainingOptions { LearningRate = 1e-3, Epochs = 40, Lambda = 5.0 });
        var driver = p.Driver(2);
        driver.Solve(plain, p.Objective, w0, new SolverOptions());
        var result = driver.Solve(ridge, p.Objective, w0, new SolverOptions());
        Assert.True(ridge.History[^1].RelativeChange < plain.History[^1].RelativeChange);
        // The recorded loss is the data loss plus λ‖W − W0‖².
        var (dataLoss, _) = NaiveNetwork.LossAndGradient(p.Model, result.X, p.Inputs, p.Targets);
        var diff = new double[w0.Length];
        TensorPrimitives.Subtract(result.X, w0, diff);
        double expected = dataLoss + 5.0 * TensorPrimitives.Dot<double>(diff, diff);
        Assert.True(Math.Abs(ridge.History[^1].Loss - expected) <= 1e-10 * expected);

        // The recorded gradient is ∇(data loss) + 2λ(W − W0), checked against central differences of the recorded loss.
        var (_, dataGrad) = NaiveNetwork.LossAndGradient(p.Model, result.X, p.Inputs, p.Targets);
        var full = new double[w0.Length];
        TensorPrimitives.MultiplyAdd(diff, 10.0, dataGrad, full);
        Assert.True(Math.Abs(ridge.History[^1].GradientNorm - TensorPrimitives.Norm<double>(full)) <= 1e-10 * TensorPrimitives.Norm<double>(full));
        double Objective(double[] w)
        {
            var (l, _) = NaiveNetwork.LossAndGradient(p.Model, w, p.Inputs, p.Targets);
            var dw = new double[w.Length];
            TensorPrimitives.Subtract(w, w0, dw);
            return l + 5.0 * TensorPrimitives.Dot<double>(dw, dw);
        }
        var fd = new double[w0.Length];
        for (int i = 0; i < fd.Length; i++)
        {
            var plus = (double[])result.X.Clone(); plus[i] += 1e-6;
            var minus = (double[])result.X.Clone(); minus[i] -= 1e-6;
            fd[i] = (Objective(plus) - Objective(minus)) / 2e-6;
        }
        Assert.True(Assertions.RelativeError(full, fd) < 1e-6, $"regularised gradient vs central differences: {Assertions.RelativeError(full, fd):E2}");
    }

    [Fact]
    public void An_exp_network_with_a_huge_learning_rate_ends_as_diverged()
    {
        var p = Problem("exp", n: 50, d: 3, m: 8, k: 1, seed: 81);
        var w0 = NetworkModel.InitialWeights(3, 8, 82);
        var trainer = new NetworkTrainer(new TrainingOptions { LearningRate = 1e3, Epochs = 50 });
        var result = p.Driver(1).Solve(trainer, p.Objective, w0, new SolverOptions());
        Assert.Equal(ExitCondition.Diverged, result.Exit);
        Assert.True(result.Iterations < 50);
    }

    [Fact]
    public void Bad_training_options_name_the_parameter()
    {
        Assert.Equal(nameof(TrainingOptions.LearningRate), Assert.Throws<ParameterException>(() => new TrainingOptions { LearningRate = 0 }.Validate()).Parameter);
        var batch = Assert.Throws<ParameterException>(() => new TrainingOptions { BatchFraction = 1.5 }.Validate());
        Assert.Equal((nameof(TrainingOptions.BatchFraction), 1.5, "must be in (0, 1]"), (batch.Parameter, (double)batch.Value!, batch.Requirement));
        var activation = Assert.Throws<ParameterException>(() => Networks.Activations.Parse("tanh"));
        Assert.Equal((Networks.Activations.ActivationParameter, "tanh"), (activation.Parameter, (string)activation.Value!));
        Assert.Equal(Networks.Activations.Names, activation.Allowed);
    }

    [Fact]
    public void File_loader_builds_the_same_shards_as_the_in_memory_problem()
    {
        var p = Problem("softmax", n: 40, d: 3, m: 6, k: 2, seed: 91);
        var files = new Dictionary<string, DenseMatrix> { ["x.npy"] = p.Inputs, ["y.npy"] = p.Targets };
        var loader = new NetworkShardLoader(path => files[path]);
        var source = NetworkShardLoader.Source("x.npy", "y.npy", Activation.Softmax, 6, 91, paired: false);
        var shape = loader.Describe(source);
        Assert.Equal(40, shape.Rows);
        Assert.Equal(18, shape.Objective.Dimension);
        var shards = ShardLayout.Split(40, 3).Select(r => loader.Load(source, r, ShardComputeOptions.Sequential)).ToArray();
        var w = NetworkModel.InitialWeights(3, 6, 92);
        var (loss, grad) = Evaluate(new InProcessDriver(shards), shape.Objective, w);
        var (refLoss, refGrad) = Evaluate(p.Driver(1), p.Objective, w);
        Assert.Equal(refLoss, loss, 1e-12 * refLoss);
        Assert.True(Assertions.RelativeError(grad, refGrad) < 1e-12);
    }
}
