using System.Diagnostics;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Diffusion;

/// <summary>
/// The diffusion application end to end, in the setting of the Ornstein–Uhlenbeck forward process: data (mixture draws
/// or user samples) and held-out points → denoising score-matching rows over t ∈ [t_min, T] → each network trained by
/// <see cref="NetworkTrainer"/> over row shards with early stopping on the held-out rows → score errors against the
/// exact score of the forward marginals → reverse-SDE samples from the network of lowest score error.
/// </summary>
public static class DiffusionExperiment
{
    /// <summary>Fewest user samples left to train on once the held-out share is taken off.</summary>
    public const int MinTrainingSamples = 2;

    /// <param name="sample">false: skip the reverse-SDE sampling (the studies only need the errors).</param>
    /// <param name="cancellation">
    /// Ctrl+C / SIGTERM: the network in training stops at its next epoch, no further network is trained and no samples
    /// are drawn; the result holds what was trained (<see cref="DiffusionResult.Cancelled"/>).
    /// </param>
    public static DiffusionResult Run(DiffusionOptions options, GaussianMixture? mixture = null, DenseMatrix? samples = null,
        Action<string>? log = null, bool sample = true, CancellationToken cancellation = default)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        bool isMixture = samples is null;
        mixture ??= GaussianMixture.TwoComponents();
        DenseMatrix data, heldOut;
        if (samples is null)
        {
            data = mixture.Sample(options.DataPoints, Rng.ForStream(options.Seed, 10));
            heldOut = mixture.Sample(options.HeldOutPoints(options.DataPoints), Rng.ForStream(options.Seed, 11));
        }
        else
        {
            if (samples.Cols != 2) throw new ArgumentException($"diffusion samples must be n×2, got {samples.Rows}×{samples.Cols}");
            int held = options.HeldOutPoints(samples.Rows);
            if (samples.Rows - held < MinTrainingSamples)
                throw new ParameterException(nameof(DiffusionOptions.DataPoints), samples.Rows, $"must be at least {MinTrainingSamples} training samples besides the held-out ones");
            data = samples.SliceDense(0, samples.Rows - held);
            heldOut = samples.SliceDense(samples.Rows - held, held);
        }
        var target = isMixture ? mixture : GaussianMixture.Empirical(data);
        var times = DiffusionTimes.Geometric(options.TimeMax, options.TimeMin, options.EvaluationTimes);
        var features = ScoreFeatures.For(data, options.TimeMin, options.TimeMax);
        var (inputs, targets) = DenoisingScoreMatching.TrainingSet(data, features, options.Copies, options.TimeMin, options.TimeMax, options.Seed);
        var (heldInputs, heldTargets) = DenoisingScoreMatching.TrainingSet(heldOut, features, options.Copies, options.TimeMin, options.TimeMax, options.Seed, stream: 12);
        double floor = DenoisingScoreMatching.ExactScoreLoss(target, features, inputs, targets);
        log?.Invoke($"{inputs.Rows} denoising rows ({data.Rows} points × {options.Copies} draws of t ∈ [{options.TimeMin:G3}, {options.TimeMax:G3}] and z), " +
                    $"{heldInputs.Rows} held-out rows ({heldOut.Rows} points); the exact score's loss on the training rows is {floor:G5}");

        var models = new List<ScoreModelResult>();
        foreach (var activation in options.Activations)
        {
            // Ctrl+C / SIGTERM: the networks trained so far are the result, as train keeps the weights it reached. The
            // first network always runs (cancelled, its trainer stops at epoch 0 with W0), so there is one to report.
            if (cancellation.IsCancellationRequested && models.Count > 0) break;
            var started = Stopwatch.StartNew();
            var model = NetworkModel.Create(activation, ScoreFeatures.Dimension, options.Width, 2, options.Seed, paired: true);
            var w0 = NetworkModel.InitialWeights(ScoreFeatures.Dimension, options.Width, options.Seed, paired: true, options.InitScale);
            double lr = options.NormalizedLearningRate is { } c
                ? model.NormalizedLearningRate(c, w0, inputs.Data, inputs.Rows)
                : AutoLearningRate(model, w0, inputs, options.BatchFraction);
            var problem = new NetworkProblem(model, inputs, targets);
            var trainer = new NetworkTrainer(new TrainingOptions
            {
                LearningRate = lr, Epochs = options.Epochs, BatchFraction = options.BatchFraction, Seed = options.Seed,
                Validation = w => HeldOutLoss(model, w, heldInputs, heldTargets), Patience = options.Patience,
            });
            var run = trainer.Start(problem.Objective, w0, new SolverOptions(), cancellation);
            var result = problem.Driver(options.Shards).Run(run);
            var network = new ScoreNetwork(model, result.X, features);
            var (errors, weighted) = DenoisingScoreMatching.ScoreErrors(network, target, times, options.EvaluationPoints, options.Seed);
            int best = BestEpoch(trainer.History);
            models.Add(new ScoreModelResult(activation, network, lr, trainer.History, errors, weighted, best, result, started.Elapsed.TotalSeconds));
            log?.Invoke($"{activation.Name(),-8} loss {trainer.History[0].Loss:G4} → {trainer.History[best].Loss:G4} (epoch {best} of {trainer.History.Count - 1} kept; {ExitReasons.Name(result.Exit)}), " +
                        $"score error {weighted:P1} (at t = {times.Middle:G3}: {errors[times.Count / 2]:P1}), {started.Elapsed.TotalSeconds:F1} s");
        }

        DenseMatrix? drawn = null;
        double[]? weights = null, fractions = null;
        bool cancelled = cancellation.IsCancellationRequested;
        if (sample && !cancelled)
        {
            var grid = DiffusionTimes.Geometric(options.TimeMax, options.TimeMin, options.SamplerSteps + 1);
            try { drawn = DenoisingScoreMatching.ReverseSde(BestModel(models).Network.Scores, grid, options.Samples, options.Seed, cancellation: cancellation); }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { cancelled = true; }
            if (isMixture && drawn is not null)
            {
                weights = mixture.Components.Select(c => c.Weight).ToArray();
                fractions = mixture.AssignmentFractions(drawn, 0.0);
                log?.Invoke($"reverse-SDE samples per component {string.Join(" / ", fractions.Select(f => f.ToString("F3")))} (target {string.Join(" / ", weights.Select(f => f.ToString("F3")))})");
            }
        }
        return new DiffusionResult(options, target, isMixture, data, heldOut.Rows, times, features, inputs.Rows, floor, models, drawn, weights, fractions,
            clock.Elapsed.TotalSeconds, cancelled);
    }

    /// <summary>
    /// η from the tangent kernel at W0 on <see cref="DiffusionOptions.KernelPoints"/> evenly spaced training rows
    /// (<see cref="TangentKernel.AutoLearningRate"/>: its top eigenvalue scaled to all rows, or the largest
    /// ‖∂F(x_i)/∂W‖² over all training rows divided by the batch fraction f when that is larger).
    /// </summary>
    public static double AutoLearningRate(NetworkModel model, double[] w0, DenseMatrix inputs, double batchFraction)
    {
        var rows = TangentKernel.EvenlySpacedRows(inputs.Rows, DiffusionOptions.KernelPoints);
        int s = rows.Length, d = inputs.Cols;
        var x = new double[s * d];
        for (int i = 0; i < s; i++) inputs.Row((int)rows[i]).CopyTo(x.AsSpan(i * d, d));
        var gram = TangentKernel.Gram(model, w0, x, s);
        var (_, max) = TangentKernel.Spectrum(gram, s * model.Outputs);
        return TangentKernel.AutoLearningRate(TangentKernel.ScaledMaxEigenvalue(max, s, inputs.Rows), 0.0,
            model.RowTangentNorms(w0, inputs.Data, inputs.Rows).Max(), batchFraction);
    }

    /// <summary>The mean held-out loss (1/r)·½Σ‖F(W, φ) − y‖² over the r held-out rows.</summary>
    public static double HeldOutLoss(NetworkModel model, double[] w, DenseMatrix inputs, DenseMatrix targets)
    {
        if (!w.All(double.IsFinite)) return double.PositiveInfinity;
        var f = new double[targets.Data.Length];
        model.Predict(w, inputs.Data, inputs.Rows, f);
        SpanMath.Subtract(f, targets.Data, f);
        double loss = 0.5 * SpanMath.Dot(f, f) / inputs.Rows;
        return double.IsFinite(loss) ? loss : double.PositiveInfinity;
    }

    /// <summary>The network of lowest σ_t²-weighted score error (the first on ties): the one samples are drawn from.</summary>
    public static ScoreModelResult BestModel(IReadOnlyList<ScoreModelResult> models) =>
        models.OrderBy(m => double.IsFinite(m.WeightedError) ? m.WeightedError : double.PositiveInfinity).First();

    /// <summary>The first epoch of lowest held-out loss.</summary>
    private static int BestEpoch(IReadOnlyList<EpochRecord> history)
    {
        int best = 0;
        for (int e = 1; e < history.Count; e++)
            if (history[e].ValidationLoss < history[best].ValidationLoss) best = e;
        return best;
    }
}
