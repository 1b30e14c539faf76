using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Networks;

/// <summary>
/// Options of <see cref="NetworkTrainer"/>. The objective is the summed loss
///   L(W) = ½ Σ_i ‖F(W, x_i) − y_i‖² + λ ‖W − W0‖²_F
/// and every step is W ← W − η ĝ with ĝ = ∇L (full batch) or its unbiased mini-batch estimate
/// ĝ = (1/f_b) Σ_{i ∈ batch b} ∇ℓ_i + 2λ(W − W0), f_b the batch's sampling fraction. So one η means the same
/// step size for both, and η must shrink like 1/n as the data grow.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>η, the fixed step on the summed loss.</summary>
    public double LearningRate { get; init; } = 1e-3;
    public int Epochs { get; init; } = 100;
    /// <summary>f ∈ (0, 1]: 1 is full-batch gradient descent, smaller is SGD with ⌈1/f⌉ batches per epoch.</summary>
    public double BatchFraction { get; init; } = 1.0;
    /// <summary>λ ≥ 0 of λ‖W − W0‖² (W0 the starting point).</summary>
    public double Lambda { get; init; } = 0.0;
    /// <summary>Seed of the mini-batch partitions.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>
    /// The loss on held-out data at W (e.g. the denoising loss of held-out samples), evaluated by the caller once per
    /// epoch; null for none. With it the trainer returns the W of the lowest held-out loss seen.
    /// </summary>
    public Func<double[], double>? Validation { get; init; }
    /// <summary>Early stopping: end when the held-out loss has not improved for this many epochs (0: never; needs <see cref="Validation"/>).</summary>
    public int Patience { get; init; }

    public bool FullBatch => BatchFraction >= 1.0;

    public TrainingOptions Validate()
    {
        if (!(LearningRate > 0 && double.IsFinite(LearningRate))) throw new ParameterException(nameof(LearningRate), LearningRate, "must be a finite number > 0");
        if (Epochs < 0) throw new ParameterException(nameof(Epochs), Epochs, "must be ≥ 0");
        if (!(BatchFraction > 0 && BatchFraction <= 1)) throw new ParameterException(nameof(BatchFraction), BatchFraction, "must be in (0, 1]");
        if (!(Lambda >= 0 && double.IsFinite(Lambda))) throw new ParameterException(nameof(Lambda), Lambda, "must be a finite number ≥ 0");
        if (Patience < 0) throw new ParameterException(nameof(Patience), Patience, "must be ≥ 0");
        if (Patience > 0 && Validation is null) throw new ArgumentException("early stopping (a patience > 0) needs a held-out validation loss");
        return this;
    }
}

/// <param name="Epoch">0 is the starting point; epoch e is the state after e passes over the data.</param>
/// <param name="Loss">L(W_e) with the regulariser, over all rows.</param>
/// <param name="GradientNorm">‖∇L(W_e)‖ (full batch, and SGD's last entry) or the norm of the first mini-batch estimate at W_e (SGD's other epochs).</param>
/// <param name="RelativeChange">‖W_e − W0‖_F / ‖W0‖_F: small values mean training stayed in the NTK (lazy) regime.</param>
/// <param name="ValidationLoss">The held-out loss at W_e (<see cref="TrainingOptions.Validation"/>); NaN without one.</param>
public sealed record EpochRecord(int Epoch, double Loss, double GradientNorm, double RelativeChange, double Seconds, double ValidationLoss = double.NaN);

/// <summary>
/// Full-batch gradient descent with a fixed learning rate, or mini-batch SGD, for a network objective — a
/// <see cref="Solver"/> whose steps are statistics requests, so it runs through <see cref="Drivers.InProcessDriver"/>
/// and the cluster's coordinator unchanged. Per epoch e:
///
///   full batch: GradientRequest(W_e) → ∇, ScalarsRequest(W_e) → L (served from the shards' cache), W ← W − η∇;
///   SGD:        ScalarsRequest(W_e) → L, then for b = 0..B−1: MiniBatchGradientRequest(W, seed, e, b, f) → W ← W − ηĝ_b
///               (after the last epoch, which takes no step, a full GradientRequest instead).
///
/// After the last epoch the loss (and gradient) at the final W are recorded, so <see cref="History"/> has
/// Epochs + 1 entries. The result's X is vec(W) and its exit condition MaxIterations once every epoch ran
/// (Diverged if the loss or gradient stops being finite, Cancelled on request). With a held-out
/// <see cref="TrainingOptions.Validation"/> loss the result is the W of the lowest held-out loss, and with a patience P
/// training ends early (exit Stalled) once P epochs in a row have not lowered it. One instance per run.
/// </summary>
public sealed class NetworkTrainer : Solver
{
    private readonly List<EpochRecord> _history = new();

    public TrainingOptions Options { get; }
    public IReadOnlyList<EpochRecord> History => _history;

    public NetworkTrainer(TrainingOptions options) => Options = options.Validate();

    public override string Name => Options.FullBatch ? "network-gd" : "network-sgd";

    internal override IEnumerable<ShardRequest> Steps(SolveRun run)
    {
        if (run.Objective is not NetworkObjective)
            throw new ArgumentException($"{Name} trains network objectives, not '{run.Objective.Name}'");
        var o = Options;
        var w0 = run.X0;
        var w = (double[])w0.Clone();
        int dim = w.Length;
        double w0Norm = SpanMath.Norm(w0);
        int batches = MiniBatchGradientRequest.BatchesPerEpoch(o.BatchFraction);
        var diff = new double[dim];
        double g0 = double.NaN;
        double[] best = w;
        double bestValidation = double.PositiveInfinity, bestLoss = double.NaN, bestGradient = double.NaN;
        int bestEpoch = 0;

        for (int epoch = 0; ; epoch++)
        {
            double[] grad;
            double loss;
            long rows;
            if (o.FullBatch)
            {
                yield return new GradientRequest(w, Array.Empty<double>(), HessianKind.Exact, false);
                grad = (double[])run.Reply<GradientReply>().Gradient.Clone();
                yield return new ScalarsRequest(w);
                loss = run.Objective.Evaluate(w, run.Reply<ScalarsReply>()).Loss;
                rows = run.Objective.Rows;
            }
            else
            {
                yield return new ScalarsRequest(w);
                loss = run.Objective.Evaluate(w, run.Reply<ScalarsReply>()).Loss;
                if (epoch >= o.Epochs)
                {
                    // The last entry describes the weights the run ends with and takes no step: the full gradient there,
                    // not a mini-batch estimate (which had been reported as ‖∇‖ of the saved weights, 2.19 against 0.91).
                    yield return new GradientRequest(w, Array.Empty<double>(), HessianKind.Exact, false);
                    grad = (double[])run.Reply<GradientReply>().Gradient.Clone();
                    rows = run.Objective.Rows;
                }
                else
                {
                    yield return new MiniBatchGradientRequest(w, o.Seed, epoch, 0, o.BatchFraction);
                    grad = BatchEstimate(run.Reply<GradientReply>(), 0);
                    rows = (long)Math.Round(run.Objective.Rows * MiniBatchGradientRequest.FractionOf(0, o.BatchFraction));
                }
            }
            SpanMath.Subtract(w, w0, diff);
            double change = SpanMath.Norm(diff);
            if (o.Lambda > 0)
            {
                loss += o.Lambda * change * change;
                SpanMath.MultiplyAdd(diff, 2 * o.Lambda, grad, grad);
            }
            double gnorm = SpanMath.Norm(grad);
            if (epoch == 0) g0 = gnorm;
            double validation = o.Validation?.Invoke(w) ?? double.NaN;
            if (validation < bestValidation || epoch == 0)
            {
                (best, bestValidation, bestLoss, bestGradient, bestEpoch) = (w, validation, loss, gnorm, epoch);
            }
            _history.Add(new EpochRecord(epoch, loss, gnorm, w0Norm > 0 ? change / w0Norm : change, run.Seconds, validation));
            run.Record(new TraceEntry(epoch, loss, gnorm, o.LearningRate, rows, run.Seconds, run.Requests));

            string kept = o.Validation is null ? "" : $"; kept epoch {bestEpoch} (held-out loss {bestValidation:G6})";
            if (!double.IsFinite(loss) || !double.IsFinite(gnorm))
            {
                string why = $"the loss or gradient stopped being finite at epoch {epoch} (lower the learning rate?)";
                if (o.Validation is null) run.Finish(w, ExitCondition.Diverged, why, epoch, loss, gnorm, g0);
                else run.Finish(best, ExitCondition.Diverged, why + kept, epoch, bestLoss, bestGradient, g0);
                yield break;
            }
            if (epoch >= o.Epochs)
            {
                if (o.Validation is null) run.Finish(w, ExitCondition.MaxIterations, $"trained {o.Epochs} epochs; loss {loss:G6}", epoch, loss, gnorm, g0);
                else run.Finish(best, ExitCondition.MaxIterations, $"trained {o.Epochs} epochs; loss {loss:G6}{kept}", epoch, bestLoss, bestGradient, g0);
                yield break;
            }
            if (o.Patience > 0 && epoch - bestEpoch >= o.Patience)
            {
                run.Finish(best, ExitCondition.Stalled,
                    $"early stopping at epoch {epoch}: the held-out loss has not improved for {o.Patience} epochs{kept}", epoch, bestLoss, bestGradient, g0);
                yield break;
            }
            if (run.CancelRequested)
            {
                // As at every other end: with a held-out set the best epoch's weights are the result.
                if (o.Validation is null) run.Finish(w, ExitCondition.Cancelled, $"cancelled after {epoch} epochs", epoch, loss, gnorm, g0);
                else run.Finish(best, ExitCondition.Cancelled, $"cancelled after {epoch} epochs{kept}", epoch, bestLoss, bestGradient, g0);
                yield break;
            }

            w = Step(w, grad);
            for (int b = 1; b < batches; b++)
            {
                yield return new MiniBatchGradientRequest(w, o.Seed, epoch, b, o.BatchFraction);
                var g = BatchEstimate(run.Reply<GradientReply>(), b);
                if (o.Lambda > 0)
                {
                    SpanMath.Subtract(w, w0, diff);
                    SpanMath.MultiplyAdd(diff, 2 * o.Lambda, g, g);
                }
                w = Step(w, g);
            }
        }
    }

    /// <summary>The Horvitz–Thompson estimate (1/f_b) Σ_{i ∈ b} ∇ℓ_i of the full data gradient.</summary>
    private double[] BatchEstimate(GradientReply reply, int batch)
    {
        var g = new double[reply.Gradient.Length];
        SpanMath.Multiply(reply.Gradient, 1.0 / MiniBatchGradientRequest.FractionOf(batch, Options.BatchFraction), g);
        return g;
    }

    /// <summary>A new array W − η g (requests keep the arrays they were sent with).</summary>
    private double[] Step(double[] w, double[] g)
    {
        var next = new double[w.Length];
        SpanMath.MultiplyAdd(g, -Options.LearningRate, w, next);
        return next;
    }
}
