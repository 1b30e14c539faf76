using System.Diagnostics;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Diffusion;

/// <summary>
/// Options of a diffusion score-estimation run. The defaults are the demo of <c>dist-softmax diffusion</c>.
/// The learning rate is normalised: η = <see cref="NormalizedLearningRate"/> / tr(JᵀJ) at W0
/// (<see cref="NetworkModel.TangentKernelTrace"/>), so one value suits the softmax, ReLU and exp networks alike.
/// </summary>
public sealed record DiffusionOptions
{
    /// <summary>Points drawn from the mixture (ignored when samples are given).</summary>
    public int DataPoints { get; init; } = 2000;
    public double SigmaMax { get; init; } = 3.0;
    public double SigmaMin { get; init; } = 0.1;
    public int Levels { get; init; } = 8;
    /// <summary>Noise draws per data point and level.</summary>
    public int Copies { get; init; } = 2;
    public int Width { get; init; } = 256;
    public IReadOnlyList<Activation> Activations { get; init; } = new[] { Activation.Softmax, Activation.Relu, Activation.Exp };
    public int Epochs { get; init; } = 100;
    public double BatchFraction { get; init; } = 0.05;
    public double NormalizedLearningRate { get; init; } = 4.0;
    /// <summary>Standard deviation of the entries of W0.</summary>
    public double InitScale { get; init; } = 1.0;
    /// <summary>Row shards of the training set (evaluated by an in-process driver).</summary>
    public int Shards { get; init; } = 2;
    /// <summary>Fresh p_σ draws per level for the relative score error.</summary>
    public int EvaluationPoints { get; init; } = 2000;
    public int Samples { get; init; } = 2000;
    public int LangevinSteps { get; init; } = 60;
    /// <summary>ε of the Langevin step α_i = ε σ_i²/σ_L².</summary>
    public double LangevinEpsilon { get; init; } = 2e-3;
    public ulong Seed { get; init; } = 1;

    public DiffusionOptions Validate()
    {
        if (DataPoints < 2) throw new ParameterException(nameof(DataPoints), DataPoints, "must be at least 2");
        NoiseSchedule.Geometric(SigmaMax, SigmaMin, Levels);
        if (Copies < 1) throw new ParameterException(nameof(Copies), Copies, "must be at least 1");
        if (Width < 2 || Width % 2 != 0) throw new ParameterException(nameof(Width), Width, "must be an even number ≥ 2 (paired initialisation)");
        if (Activations.Count == 0) throw new ParameterException(nameof(Activations), "", "needs at least one of softmax, relu, exp");
        if (Epochs < 1) throw new ParameterException(nameof(Epochs), Epochs, "must be at least 1");
        if (!(BatchFraction > 0 && BatchFraction <= 1)) throw new ParameterException(nameof(BatchFraction), BatchFraction, "must be in (0, 1]");
        if (!(NormalizedLearningRate > 0)) throw new ParameterException(nameof(NormalizedLearningRate), NormalizedLearningRate, "must be > 0");
        if (!(InitScale > 0 && double.IsFinite(InitScale))) throw new ParameterException(nameof(InitScale), InitScale, "must be > 0");
        if (Shards < 1) throw new ParameterException(nameof(Shards), Shards, "must be at least 1");
        if (EvaluationPoints < 1) throw new ParameterException(nameof(EvaluationPoints), EvaluationPoints, "must be at least 1");
        if (Samples < 1) throw new ParameterException(nameof(Samples), Samples, "must be at least 1");
        if (LangevinSteps < 1) throw new ParameterException(nameof(LangevinSteps), LangevinSteps, "must be at least 1");
        if (!(LangevinEpsilon > 0)) throw new ParameterException(nameof(LangevinEpsilon), LangevinEpsilon, "must be > 0");
        return this;
    }
}

/// <summary>One trained network of a diffusion run.</summary>
/// <param name="RelativeErrors">Relative L2 score error at each level of the schedule (σ descending).</param>
public sealed record ScoreModelResult(Activation Activation, ScoreNetwork Network, double LearningRate, IReadOnlyList<EpochRecord> History,
    double[] RelativeErrors, SolverResult Training, double Seconds);

/// <param name="Target">The distribution whose noised score is exact: the mixture, or the empirical distribution of user samples.</param>
/// <param name="Models">One per activation, in the order asked; <see cref="Samples"/> come from the first.</param>
/// <param name="SampleFractions">Share of samples nearest each mixture component (null for user samples).</param>
public sealed record DiffusionResult(DiffusionOptions Options, GaussianMixture Target, bool TargetIsMixture, DenseMatrix Data,
    NoiseSchedule Schedule, ScoreFeatures Features, int TrainingRows, double ExactScoreLoss, IReadOnlyList<ScoreModelResult> Models, DenseMatrix Samples,
    double[]? TargetWeights, double[]? SampleFractions, double Seconds);

/// <summary>
/// The diffusion application end to end: data (mixture draws or user samples) → denoising score-matching rows →
/// each network trained by <see cref="NetworkTrainer"/> over row shards → score errors per level against the exact
/// score → annealed Langevin samples from the first network.
/// </summary>
public static class DiffusionExperiment
{
    public static DiffusionResult Run(DiffusionOptions options, GaussianMixture? mixture = null, DenseMatrix? samples = null,
        Action<string>? log = null, CancellationToken cancellation = default)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        bool isMixture = samples is null;
        mixture ??= GaussianMixture.TwoComponents();
        var data = samples ?? mixture.Sample(options.DataPoints, Rng.ForStream(options.Seed, 10));
        if (data.Cols != 2) throw new ArgumentException($"diffusion samples must be n×2, got {data.Rows}×{data.Cols}");
        var target = isMixture ? mixture : GaussianMixture.Empirical(data);
        var schedule = NoiseSchedule.Geometric(options.SigmaMax, options.SigmaMin, options.Levels);
        var features = ScoreFeatures.For(data, schedule);
        var (inputs, targets) = DenoisingScoreMatching.TrainingSet(data, schedule, features, options.Copies, options.Seed);
        double floor = DenoisingScoreMatching.ExactScoreLoss(target, features, inputs, targets);
        log?.Invoke($"{inputs.Rows} denoising rows ({data.Rows} points × {schedule.Levels} levels × {options.Copies} draws), σ from {schedule.Max:G3} to {schedule.Min:G3}; the exact score's loss on them is {floor:G5}");

        var models = new List<ScoreModelResult>();
        foreach (var activation in options.Activations)
        {
            var started = Stopwatch.StartNew();
            var model = NetworkModel.Create(activation, ScoreFeatures.Dimension, options.Width, 2, options.Seed, paired: true);
            var w0 = NetworkModel.InitialWeights(ScoreFeatures.Dimension, options.Width, options.Seed, paired: true, options.InitScale);
            double lr = model.NormalizedLearningRate(options.NormalizedLearningRate, w0, inputs.Data, inputs.Rows);
            var problem = new NetworkProblem(model, inputs, targets);
            var trainer = new NetworkTrainer(new TrainingOptions
            {
                LearningRate = lr, Epochs = options.Epochs, BatchFraction = options.BatchFraction, Seed = options.Seed,
            });
            var run = trainer.Start(problem.Objective, w0, new SolverOptions(), cancellation);
            var result = problem.Driver(options.Shards).Run(run);
            var network = new ScoreNetwork(model, result.X, features);
            var errors = schedule.Sigmas.Select((s, l) =>
                DenoisingScoreMatching.RelativeError(network, target, s, options.EvaluationPoints, options.Seed, l)).ToArray();
            models.Add(new ScoreModelResult(activation, network, lr, trainer.History, errors, result, started.Elapsed.TotalSeconds));
            log?.Invoke($"{activation.Name(),-8} loss {trainer.History[0].Loss:G4} → {trainer.History[^1].Loss:G4} ({result.Exit}), " +
                        $"score error at σ = {schedule.Middle:G3}: {errors[schedule.Levels / 2]:P1}, {started.Elapsed.TotalSeconds:F1} s");
        }

        var first = models[0].Network;
        double cx = 0, cy = 0;
        for (int i = 0; i < data.Rows; i++) { cx += data[i, 0]; cy += data[i, 1]; }
        var drawn = DenoisingScoreMatching.AnnealedLangevin(first.Scores, schedule, options.Samples, options.LangevinSteps,
            options.LangevinEpsilon, options.Seed, (cx / data.Rows, cy / data.Rows));
        double[]? weights = null, fractions = null;
        if (isMixture)
        {
            weights = mixture.Components.Select(c => c.Weight).ToArray();
            fractions = mixture.AssignmentFractions(drawn, schedule.Min);
            log?.Invoke($"samples per component {string.Join(" / ", fractions.Select(f => f.ToString("F3")))} (target {string.Join(" / ", weights.Select(f => f.ToString("F3")))})");
        }
        return new DiffusionResult(options, target, isMixture, data, schedule, features, inputs.Rows, floor, models, drawn, weights, fractions,
            clock.Elapsed.TotalSeconds);
    }
}
