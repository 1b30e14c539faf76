using System.Numerics.Tensors;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Solvers;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Tests;

/// <summary>The tangent-kernel Gram matrix, its spectrum, the kernel-regression baseline and early stopping.</summary>
public class NetworkTangentKernelTests
{
    /// <summary>J (s·k)×(d·m) by central differences of the network outputs in every weight.</summary>
    private static Matrix<double> FiniteDifferenceJacobian(NetworkModel model, double[] w, double[] x, int s)
    {
        int k = model.Outputs, p = w.Length;
        const double step = 1e-6;
        var jac = Matrix<double>.Build.Dense(s * k, p);
        var plus = new double[s * k];
        var minus = new double[s * k];
        for (int c = 0; c < p; c++)
        {
            var wp = (double[])w.Clone(); wp[c] += step;
            var wm = (double[])w.Clone(); wm[c] -= step;
            model.Predict(wp, x, s, plus);
            model.Predict(wm, x, s, minus);
            for (int row = 0; row < s * k; row++) jac[row, c] = (plus[row] - minus[row]) / (2 * step);
        }
        return jac;
    }

    private static double[] Inputs(int s, int d, ulong seed)
    {
        var x = new double[s * d];
        new Rng(seed).FillNormal(x, 1 / Math.Sqrt(d));
        return x;
    }

    [Theory]
    [InlineData("softmax")]
    [InlineData("relu")]
    [InlineData("exp")]
    public void Gram_spectrum_matches_a_dense_eigendecomposition_of_J_Jt_from_finite_differences(string activation)
    {
        const int d = 4, m = 12, k = 2, s = 5;
        var model = NetworkModel.Create(Activations.Parse(activation), d, m, k, 11);
        var w = NetworkModel.InitialWeights(d, m, 12);
        var x = Inputs(s, d, 13);
        var gram = TangentKernel.Gram(model, w, x, s);
        var jac = FiniteDifferenceJacobian(model, w, x, s);
        var dense = jac * jac.Transpose();
        for (int i = 0; i < s * k; i++)
            for (int j = 0; j < s * k; j++)
                Assert.True(Math.Abs(gram[i * s * k + j] - dense[i, j]) <= 1e-6 * (1 + Math.Abs(dense[i, j])), $"K[{i},{j}] {gram[i * s * k + j]} vs {dense[i, j]}");
        var eigen = dense.Evd(Symmetricity.Symmetric).EigenValues.Select(e => e.Real).ToArray();
        var (lo, hi) = TangentKernel.Spectrum(gram, s * k);
        Assert.True(eigen.Min() > 1e-8, $"the test instance should have a positive definite kernel, λ_min = {eigen.Min()}");
        Assert.True(Math.Abs(lo - eigen.Min()) <= 1e-6 * Math.Abs(eigen.Min()), $"λ_min {lo} vs {eigen.Min()}");
        Assert.True(Math.Abs(hi - eigen.Max()) <= 1e-6 * eigen.Max(), $"λ_max {hi} vs {eigen.Max()}");
        // The trace of K is the tangent-kernel trace the trainer prints.
        double trace = Enumerable.Range(0, s * k).Sum(i => gram[i * s * k + i]);
        Assert.Equal(model.TangentKernelTrace(w, x, s), trace, 1e-10 * trace);
    }

    [Fact]
    public void Kernel_regression_is_the_minimum_norm_fit_of_the_linearised_network()
    {
        const int d = 3, m = 8, k = 2, s = 6, test = 4;
        var model = NetworkModel.Create(Activation.Softmax, d, m, k, 21);
        var w0 = NetworkModel.InitialWeights(d, m, 22);
        var x = Inputs(s, d, 23);
        var y = Inputs(s, k, 24);
        var xt = Inputs(test, d, 25);
        var regression = new KernelRegression(model, w0, x, y, s);

        // Δ = J0ᵀ (J0 J0ᵀ)⁻¹ (Y − F(W0, X)); prediction F(W0, x) + J0(x) Δ.
        var jac = FiniteDifferenceJacobian(model, w0, x, s);
        var f0 = new double[s * k];
        model.Predict(w0, x, s, f0);
        var residual = Vector<double>.Build.Dense(y.Zip(f0, (a, b) => a - b).ToArray());
        var delta = jac.Transpose() * (jac * jac.Transpose()).Solve(residual);
        var ft = new double[test * k];
        model.Predict(w0, xt, test, ft);
        var expected = Vector<double>.Build.Dense(ft) + FiniteDifferenceJacobian(model, w0, xt, test) * delta;
        var predicted = regression.Predict(xt, test);
        Assert.True(Assertions.RelativeError(predicted, expected.ToArray()) < 1e-6, $"{Assertions.RelativeError(predicted, expected.ToArray()):E2}");
        // It interpolates its training points.
        Assert.True(regression.MeanLoss(x, y, s) < 1e-16, $"training loss {regression.MeanLoss(x, y, s)}");
    }

    [Fact]
    public void A_kernel_that_overflows_gives_NaN_losses_rather_than_an_exception()
    {
        const int d = 3, m = 8, k = 1, s = 5;
        var model = NetworkModel.Create(Activation.Exp, d, m, k, 41);
        var w0 = NetworkModel.InitialWeights(d, m, 42);
        var x = Inputs(s, d, 43).Select(v => v * 1e4).ToArray();   // e^h overflows at such inputs
        var y = Inputs(s, k, 44);
        Assert.Contains(TangentKernel.Gram(model, w0, x, s), v => !double.IsFinite(v));
        var regression = new KernelRegression(model, w0, x, y, s);
        Assert.True(double.IsNaN(regression.MeanLoss(x, y, s)));
    }

    [Fact]
    public void Kernel_movement_is_zero_at_the_start_and_grows_with_training()
    {
        const int d = 3, m = 8, k = 1, s = 20;
        var model = NetworkModel.Create(Activation.Relu, d, m, k, 31);
        var w0 = NetworkModel.InitialWeights(d, m, 32);
        var x = Inputs(s, d, 33);
        var k0 = TangentKernel.Gram(model, w0, x, s);
        Assert.Equal(0.0, TangentKernel.RelativeMovement(k0, k0));
        // (A ReLU kernel is invariant to scaling W: move it by a random direction instead.)
        var moved = (double[])w0.Clone();
        var step = Inputs(1, moved.Length, 34);
        TensorPrimitives.Add(moved, step, moved);
        Assert.True(TangentKernel.RelativeMovement(k0, TangentKernel.Gram(model, moved, x, s)) > 0.01);
    }

    [Fact]
    public void Subsample_rows_are_all_rows_or_evenly_spaced()
    {
        Assert.Equal(new long[] { 0, 1, 2 }, TangentKernel.EvenlySpacedRows(3, 5));
        Assert.Equal(new long[] { 0, 25, 50, 75 }, TangentKernel.EvenlySpacedRows(100, 4));
        Assert.Equal(0.5, TangentKernel.AutoLearningRate(2.0, 0.0));
        Assert.Equal(0.25, TangentKernel.AutoLearningRate(2.0, 1.0));
        Assert.Throws<ArgumentException>(() => TangentKernel.AutoLearningRate(0.0, 0.0));
    }

    [Fact]
    public void Early_stopping_ends_after_the_patience_and_returns_the_best_weights()
    {
        const int n = 40, d = 3, m = 8;
        var model = NetworkModel.Create(Activation.Relu, d, m, 1, 41);
        var problem = new NetworkProblem(model, new DenseMatrix(n, d, Inputs(n, d, 42)), new DenseMatrix(n, 1, Inputs(n, 1, 43)));
        var w0 = NetworkModel.InitialWeights(d, m, 44);
        // A held-out loss that is lowest at epoch 2 of training: the distance to the third iterate.
        var reference = new NetworkTrainer(new TrainingOptions { LearningRate = 1e-2, Epochs = 2 });
        var target = problem.Driver(1).Solve(reference, problem.Objective, w0, new SolverOptions()).X;
        double Distance(double[] w)
        {
            var diff = new double[w.Length];
            TensorPrimitives.Subtract(w, target, diff);
            return TensorPrimitives.Norm<double>(diff);
        }
        var stopping = new NetworkTrainer(new TrainingOptions { LearningRate = 1e-2, Epochs = 100, Validation = Distance, Patience = 4 });
        var result = problem.Driver(1).Solve(stopping, problem.Objective, w0, new SolverOptions());
        Assert.Equal(ExitCondition.Stalled, result.Exit);
        Assert.Equal(7, stopping.History.Count); // epochs 0..6: the best at 2, then four without improvement
        Assert.Equal(0.0, stopping.History[2].ValidationLoss);
        Assert.Equal(target, result.X);
        Assert.Contains("early stopping at epoch 6", result.Message);
        // Without a patience every epoch runs.
        var full = new NetworkTrainer(new TrainingOptions { LearningRate = 1e-2, Epochs = 10, Validation = Distance });
        var all = problem.Driver(1).Solve(full, problem.Objective, w0, new SolverOptions());
        Assert.Equal(ExitCondition.MaxIterations, all.Exit);
        Assert.Equal(11, full.History.Count);
        Assert.Equal(target, all.X);
        Assert.Throws<ArgumentException>(() => new TrainingOptions { Patience = 3 }.Validate());

        // Cancelled (Ctrl+C) at epoch 5, after the best at 2: the best weights too, as at every other end with a held-out set.
        using var cts = new CancellationTokenSource();
        int validations = 0;
        var cancelling = new NetworkTrainer(new TrainingOptions
        {
            LearningRate = 1e-2, Epochs = 100,
            Validation = w => { if (++validations == 6) cts.Cancel(); return Distance(w); },
        });
        var cancelled = problem.Driver(1).Run(cancelling.Start(problem.Objective, w0, new SolverOptions(), cts.Token));
        Assert.Equal(ExitCondition.Cancelled, cancelled.Exit);
        Assert.Equal(6, cancelling.History.Count);
        Assert.Equal(target, cancelled.X);
        Assert.Equal("cancelled after 5 epochs; kept epoch 2 (held-out loss 0)", cancelled.Message);
    }
}
