using DistSoftmax.Core.Networks;

namespace DistSoftmax.Core.Diffusion;

/// <summary>
/// Options of a diffusion score-estimation run (the Ornstein–Uhlenbeck forward process of <see cref="OrnsteinUhlenbeck"/>).
/// The defaults are the demo of <c>dist-softmax diffusion</c>. The learning rate is automatic by default,
/// η = 1/λ̂_max(K0) from the tangent kernel of each network at W0 (<see cref="TangentKernel.AutoLearningRate"/>, on
/// <see cref="KernelPoints"/> training rows), or normalised: η = <see cref="NormalizedLearningRate"/> / tr(JᵀJ) at W0
/// (<see cref="NetworkModel.TangentKernelTrace"/>).
/// </summary>
public sealed record DiffusionOptions
{
    /// <summary>Training points drawn from the mixture (ignored when samples are given).</summary>
    public int DataPoints { get; init; } = 2000;
    /// <summary>Held-out points for early stopping, as a fraction of the training points (drawn separately from the mixture; the last rows of user samples).</summary>
    public double HeldOutFraction { get; init; } = 0.2;
    /// <summary>t_min: the smallest diffusion time trained on, evaluated at and sampled to.</summary>
    public double TimeMin { get; init; } = 0.01;
    /// <summary>T: the largest diffusion time (p_T is within e^{−T} of N(0, I)).</summary>
    public double TimeMax { get; init; } = 3.0;
    /// <summary>(t, z) draws per training point.</summary>
    public int Copies { get; init; } = 16;
    public int Width { get; init; } = 256;
    public IReadOnlyList<Activation> Activations { get; init; } = new[] { Activation.Softmax, Activation.Relu, Activation.Exp };
    /// <summary>Most SGD epochs per network.</summary>
    public int Epochs { get; init; } = 100;
    public double BatchFraction { get; init; } = 0.05;
    /// <summary>c of η = c / tr(JᵀJ); null: η = 1/λ̂_max(K0) (auto, the default).</summary>
    public double? NormalizedLearningRate { get; init; }
    /// <summary>Standard deviation of the entries of W0.</summary>
    public double InitScale { get; init; } = 1.0;
    /// <summary>Row shards of the training set (evaluated by an in-process driver).</summary>
    public int Shards { get; init; } = 2;
    /// <summary>Early stopping: end when the held-out loss has not improved for this many epochs (0: train every epoch; the best epoch is kept either way).</summary>
    public int Patience { get; init; } = 10;
    /// <summary>Fresh p_t draws per evaluation time for the score errors.</summary>
    public int EvaluationPoints { get; init; } = 2000;
    /// <summary>Evaluation times, geometric from T to t_min.</summary>
    public int EvaluationTimes { get; init; } = 8;
    public int Samples { get; init; } = 2000;
    /// <summary>Euler–Maruyama steps of the reverse SDE (a geometric time grid from T to t_min).</summary>
    public int SamplerSteps { get; init; } = 200;
    public ulong Seed { get; init; } = 1;

    public DiffusionOptions Validate()
    {
        if (DataPoints < 2) throw new ParameterException(nameof(DataPoints), DataPoints, "must be at least 2");
        if (!(HeldOutFraction > 0 && HeldOutFraction < 1)) throw new ParameterException(nameof(HeldOutFraction), HeldOutFraction, "must be in (0, 1)");
        DiffusionTimes.Geometric(TimeMax, TimeMin, EvaluationTimes);
        if (Copies < 1) throw new ParameterException(nameof(Copies), Copies, "must be at least 1");
        if (Width < 2 || Width % 2 != 0) throw new ParameterException(nameof(Width), Width, "must be an even number ≥ 2 (paired initialisation)");
        if (Activations.Count == 0) throw new ParameterException(nameof(Activations), "", "needs at least one of softmax, relu, exp");
        if (Epochs < 1) throw new ParameterException(nameof(Epochs), Epochs, "must be at least 1");
        if (!(BatchFraction > 0 && BatchFraction <= 1)) throw new ParameterException(nameof(BatchFraction), BatchFraction, "must be in (0, 1]");
        if (NormalizedLearningRate is not null && !(NormalizedLearningRate > 0 && double.IsFinite(NormalizedLearningRate.Value))) throw new ParameterException(nameof(NormalizedLearningRate), NormalizedLearningRate, "must be > 0");
        if (!(InitScale > 0 && double.IsFinite(InitScale))) throw new ParameterException(nameof(InitScale), InitScale, "must be > 0");
        if (Shards < 1) throw new ParameterException(nameof(Shards), Shards, "must be at least 1");
        if (Patience < 0) throw new ParameterException(nameof(Patience), Patience, "must be ≥ 0");
        if (EvaluationPoints < 1) throw new ParameterException(nameof(EvaluationPoints), EvaluationPoints, "must be at least 1");
        if (Samples < 1) throw new ParameterException(nameof(Samples), Samples, "must be at least 1");
        if (SamplerSteps < 1) throw new ParameterException(nameof(SamplerSteps), SamplerSteps, "must be at least 1");
        return this;
    }

    /// <summary>Training rows the tangent kernel of the automatic learning rate is computed on (evenly spaced).</summary>
    public const int KernelPoints = 256;

    /// <summary>Held-out points for n training points: round(f·n), at least 1.</summary>
    public int HeldOutPoints(int n) => Math.Max(1, (int)Math.Round(HeldOutFraction * n));
}
