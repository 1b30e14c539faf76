using System.CommandLine;
using System.Globalization;
using System.Text;
using DistSoftmax.Cli.Output;
using DistSoftmax.Core.Diffusion;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data;
using static DistSoftmax.Cli.Commands.NetworkCommandSupport;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// <c>dist-softmax diffusion</c>: learns the score of the Ornstein–Uhlenbeck forward marginals p_t of a 2-D
/// distribution by denoising score matching over t ∈ [t_min, T] (t an input of the network) with softmax, ReLU and
/// exp networks of equal width, stopping early on held-out samples (<see cref="DiffusionExperiment"/>); reports the
/// score error against the exact score, samples by the reverse SDE, and writes report.json, samples.npy,
/// diffusion.png (density, samples, score arrows), score-errors.png and loss.png. With --study-samples or
/// --study-widths it runs <see cref="DiffusionStudy"/> instead and writes study.csv, study-samples.png and study-width.png.
/// </summary>
internal static class DiffusionCommand
{
    /// <summary>Largest --data-points, --eval-points and --samples (each an n×2 or n×4 array of doubles).</summary>
    public const int MaxPoints = 10_000_000;

    /// <summary>Largest hidden width (W is 4×m, and every training row's features times m are computed per epoch).</summary>
    public const int MaxWidth = 1 << 20;

    /// <summary>Largest --copies; the training rows (data points × copies, each 4 features) are also bounded by <see cref="MaxTrainingRows"/>.</summary>
    public const int MaxCopies = 100_000;

    /// <summary>Largest number of training rows (--data-points × --copies).</summary>
    public const long MaxTrainingRows = 50_000_000;

    /// <summary>
    /// Largest --sampler-steps: every step scores all --samples (up to <see cref="MaxPoints"/>) through the network; the
    /// default is 200, and the Euler–Maruyama error is far below the learned score's beyond a few thousand steps.
    /// </summary>
    public const int MaxSamplerSteps = 100_000;

    /// <summary>Every file the single run may write (weights per activation) and the study's.</summary>
    private static readonly string[] RunNames =
        ["report.json", "samples.npy", "diffusion.png", "score-errors.png", "loss.png", .. Activations.Names.Select(a => $"weights-{a}.npy")];

    private static readonly string[] StudyNames = ["report.json", "study.csv", "study-samples.png", "study-width.png"];

    private static OutputPlan Outputs(CliContext ctx, string outDirectory, IReadOnlyList<string> written, string? samplesPath) =>
        PrepareOutputs(ctx, outDirectory, written, RunNames.Concat(StudyNames), [("--samples-in", samplesPath)]);

    /// <summary>Sizes checked before any allocation: one line naming the option, exit 2.</summary>
    private static void RequireSizes(int dataPoints, int copies, int width, int evalPoints, int samples, int epochs, int samplerSteps,
        IEnumerable<int> studySizes, IEnumerable<int> studyWidths)
    {
        static void AtMost(long v, long max, string option)
        {
            if (v > max) throw new CliInputException(option, $"{v} is too large (at most {max})");
        }
        AtMost(dataPoints, MaxPoints, "--data-points");
        AtMost(copies, MaxCopies, "--copies");
        AtMost(width, MaxWidth, "--width");
        AtMost(evalPoints, MaxPoints, "--eval-points");
        AtMost(samples, MaxPoints, "--samples");
        AtMost(epochs, TrainCommand.MaxEpochs, "--epochs");
        AtMost(samplerSteps, MaxSamplerSteps, "--sampler-steps");
        foreach (int n in studySizes) AtMost(n, MaxPoints, "--study-samples");
        foreach (int w in studyWidths) AtMost(w, MaxWidth, "--study-widths");
        foreach (int n in studySizes.Append(dataPoints))
            if ((long)n * copies > MaxTrainingRows)
                throw new CliInputException("--copies", $"{n} points × {copies} copies = {(long)n * copies} training rows is too large (at most {MaxTrainingRows})");
    }
    public static Command Build(CliContext ctx)
    {
        var d = new DiffusionOptions();
        var samplesIn = OptionFactory.File("--samples-in", "User samples: an n×2 .npy (or .csv/.txt) file. Default: the two-component Gaussian mixture.");
        var dataPoints = OptionFactory.Int("--data-points", "Training points drawn from the mixture.", d.DataPoints);
        var heldOut = OptionFactory.Double("--held-out", "Held-out points for early stopping, as a fraction of the training points.", d.HeldOutFraction, "F");
        var timeMin = OptionFactory.Double("--t-min", "Smallest diffusion time t_min (trained on, evaluated at and sampled to).", d.TimeMin, "T");
        var timeMax = OptionFactory.Double("--t-max", "Largest diffusion time T (p_T is within e^−T of N(0, I)).", d.TimeMax, "T");
        var copies = OptionFactory.Int("--copies", "(t, z) draws per training point.", d.Copies);
        var width = OptionFactory.Int("--width", "Hidden width m of every network (even: paired initialisation).", d.Width, "M");
        var activations = OptionFactory.Text("--activations", "Comma-separated networks to compare (softmax, relu, exp); samples come from the one of lowest score error.",
            "softmax,relu,exp", "LIST");
        var epochs = OptionFactory.Int("--epochs", "Most SGD epochs per network.", d.Epochs);
        var patience = OptionFactory.Int("--patience", "Stop when the held-out loss has not improved for this many epochs (0: never; the best epoch is kept).", d.Patience);
        var batch = OptionFactory.Double("--batch-fraction", "Mini-batch fraction.", d.BatchFraction, "F");
        var lr = OptionFactory.Text("--lr", "auto: η = 1/λ̂_max(K0), the tangent kernel at W0 of each network; or a normalised rate c: η = c / tr(JᵀJ) at W0.",
            "auto", "C|auto");
        var initScale = OptionFactory.Double("--init-scale", "Standard deviation of W0's entries.", d.InitScale, "S");
        var workers = OptionFactory.Int("--workers", "Row shards of the training set (in-process driver).", d.Shards, "K");
        var evalPoints = OptionFactory.Int("--eval-points", "Draws from p_t per evaluation time for the score errors.", d.EvaluationPoints);
        var evalTimes = OptionFactory.Int("--eval-times", "Evaluation times, geometric from T to t_min.", d.EvaluationTimes);
        var samples = OptionFactory.Int("--samples", "Reverse-SDE samples.", d.Samples);
        var steps = OptionFactory.Int("--sampler-steps", "Euler–Maruyama steps of the reverse SDE (geometric in t).", d.SamplerSteps);
        var studySamples = OptionFactory.Text("--study-samples", "Study: training points n1,n2,… (at --width) for the score error against n.", "", "LIST");
        var studyWidths = OptionFactory.Text("--study-widths", "Study: widths m1,m2,… (at --data-points) for the score error against the width.", "", "LIST");
        var seed = OptionFactory.ULong("--seed", "Seed of every draw.", d.Seed);
        var outDir = OptionFactory.Text("--out-dir", "Output directory (created if needed).", "diffusion-out", "DIR").NonEmptyPath();

        var command = new Command("diffusion",
            "Learn the score of the Ornstein–Uhlenbeck forward process of a 2-D distribution by denoising score matching (time as an input, " +
            "early stopping on held-out samples) with softmax, ReLU and exp networks of equal width; report the score error against the exact " +
            "score, sample by the reverse SDE; writes report.json, samples.npy, diffusion.png, score-errors.png, loss.png. " +
            "--study-samples/--study-widths: the score error against n and width (study.csv, study-samples.png, study-width.png).");
        command.Add(samplesIn, dataPoints, heldOut, timeMin, timeMax, copies, width, activations, epochs, patience, batch, lr, initScale, workers,
            evalPoints, evalTimes, samples, steps, studySamples, studyWidths, seed, outDir);
        command.SetAction(parse => Guard(ctx, () =>
        {
            var sizes = Integers(parse.GetValue(studySamples)!, "--study-samples", 2);
            var widths = Integers(parse.GetValue(studyWidths)!, "--study-widths", 2);
            RequireSizes(parse.GetValue(dataPoints), parse.GetValue(copies), parse.GetValue(width), parse.GetValue(evalPoints), parse.GetValue(samples),
                parse.GetValue(epochs), parse.GetValue(steps), sizes, widths);
            var options = new DiffusionOptions
            {
                DataPoints = parse.GetValue(dataPoints), HeldOutFraction = parse.GetValue(heldOut), TimeMin = parse.GetValue(timeMin),
                TimeMax = parse.GetValue(timeMax), Copies = parse.GetValue(copies), Width = parse.GetValue(width),
                Activations = ParseActivations(parse.GetValue(activations)!),
                Epochs = parse.GetValue(epochs), Patience = parse.GetValue(patience), BatchFraction = parse.GetValue(batch),
                NormalizedLearningRate = ParseLearningRate(parse.GetValue(lr)!), InitScale = parse.GetValue(initScale), Shards = parse.GetValue(workers),
                EvaluationPoints = parse.GetValue(evalPoints), EvaluationTimes = parse.GetValue(evalTimes), Samples = parse.GetValue(samples),
                SamplerSteps = parse.GetValue(steps), Seed = parse.GetValue(seed),
            }.Validate();
            foreach (int w in widths)
                if (w % 2 != 0) throw new CliInputException("--study-widths", $"must be even (paired initialisation), got {w}");
            string? user = parse.GetValue(samplesIn);
            if (sizes.Count + widths.Count > 0)
            {
                if (user is not null) throw new CliInputException("--samples-in", "cannot be combined with a study (the study measures errors against the mixture's exact score)");
                return RunStudy(ctx, options, sizes, widths, parse.GetValue(outDir)!, Arguments(parse));
            }
            return Run(ctx, options, user is null ? null : ctx.Resolve(user), parse.GetValue(outDir)!, Arguments(parse));
        }));
        return command;
    }

    /// <summary>
    /// --activations: each name parsed by <see cref="Activations.Parse"/>, whose error names the parameter of train's
    /// single --activation; here it is reported under this command's --activations.
    /// </summary>
    private static Activation[] ParseActivations(string text)
    {
        try { return List(text).Select(Activations.Parse).ToArray(); }
        catch (DistSoftmax.Core.ParameterException e) when (e.Parameter == Activations.ActivationParameter)
        {
            throw new DistSoftmax.Core.ParameterException(nameof(DiffusionOptions.Activations), e.Value, e.Format(name => name), inner: e);
        }
    }

    private static List<int> Integers(string text, string option, int minimum)
    {
        var values = new List<int>();
        foreach (var item in List(text))
        {
            if (!int.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < minimum)
                if (long.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out long big) && big > int.MaxValue)
                    throw new CliInputException(option, $"{big} is too large (at most {int.MaxValue})");
                else throw new CliInputException(option, $"'{item}' is not an integer ≥ {minimum}");
            values.Add(v);
        }
        return values;
    }

    public static int Run(CliContext ctx, DiffusionOptions options, string? samplesPath, string outDirectory, IReadOnlyList<string> arguments)
    {
        var output = ctx.Out;
        DenseMatrix? user = samplesPath is null ? null : MatrixFile.ReadDense(samplesPath);
        if (user is { Cols: not 2 }) throw new CliInputException("--samples-in", $"{samplesPath} must be n×2, got {user.Rows}×{user.Cols}");
        // The held-out share comes off the user's rows, and at least 2 must remain to train on (it named --data-points).
        // (DiffusionExperiment checks the same for library callers, naming its option.)
        if (user is not null && user.Rows - options.HeldOutPoints(user.Rows) < DiffusionExperiment.MinTrainingSamples)
            throw new CliInputException("--samples-in", $"{samplesPath} has {user.Rows} rows: at least {DiffusionExperiment.MinTrainingSamples} must remain for training " +
                                                        $"after the {options.HeldOutPoints(user.Rows)} held out (--held-out)");
        // Before any work: no output over --samples-in, and only an earlier run's files (listed by its report.json) replaced.
        var plan = Outputs(ctx, outDirectory,
            ["report.json", "samples.npy", "diffusion.png", "score-errors.png", "loss.png", .. options.Activations.Select(a => $"weights-{a.Name()}.npy")],
            samplesPath);
        string outDir = plan.Directory;
        output.WriteLine(user is null
            ? "diffusion: target = two-component Gaussian mixture (weights 0.3 / 0.7); forward process dx = −x dt + √2 dB; exact score of p_t in closed form"
            : $"diffusion: target = the {user.Rows} samples of {samplesPath}; exact score of their empirical distribution's forward marginals");
        var result = DiffusionExperiment.Run(options, samples: user, log: m => output.WriteLine("  " + m), cancellation: ctx.Cancellation);

        // Cancelled (Ctrl+C / SIGTERM), the run writes what it has, as train does: the networks trained so far, their
        // errors and plots, no samples; exit 3.
        var written = new List<string> { "report.json", "diffusion.png", "score-errors.png", "loss.png" };
        DenseMatrix? drawn = null;
        if (result.Samples is { } sampled)
        {
            (drawn, int dropped) = FiniteRows(sampled);
            if (dropped > 0) ctx.Err.WriteLine($"warning: {dropped} of {sampled.Rows} reverse-SDE samples were not finite and are left out of samples.npy");
            Npy.Write(Path.Combine(outDir, "samples.npy"), drawn);
            written.Add("samples.npy");
        }
        foreach (var m in result.Models)
        {
            Npy.Write(Path.Combine(outDir, $"weights-{m.Activation.Name()}.npy"), new DenseMatrix(ScoreFeatures.Dimension, options.Width, m.Network.Weights));
            written.Add($"weights-{m.Activation.Name()}.npy");
        }
        if (result.Cancelled) plan = plan.Only(written);
        NetworkPlots.Diffusion(Path.Combine(outDir, "diffusion.png"), result);
        NetworkPlots.ScoreErrors(Path.Combine(outDir, "score-errors.png"), result);
        NetworkPlots.LossCurve(Path.Combine(outDir, "loss.png"), result.Models.Select(m => (m.Activation.Name(), m.History)),
            $"Denoising score matching, width {options.Width}");

        output.WriteLine();
        output.WriteLine($"  relative L2 score error against the exact score (width {options.Width}):");
        output.WriteLine("  t        " + string.Concat(result.Models.Select(m => $"{m.Activation.Name(),10}")));
        for (int l = 0; l < result.Times.Count; l++)
            output.WriteLine($"  {result.Times.Times[l],-8:G3} " + string.Concat(result.Models.Select(m => $"{Percent(m.RelativeErrors[l]),10}")));
        output.WriteLine("  σ²-wtd   " + string.Concat(result.Models.Select(m => $"{Percent(m.WeightedError),10}")));
        RemoveStale(plan);
        ReportEnvelope.Write(Path.Combine(outDir, "report.json"), "diffusion", arguments, new
        {
            plan.Files,
            ForwardProcess = "ornstein-uhlenbeck: x_t = e^(-t) x_0 + sqrt(1 - e^(-2t)) z",
            Target = user is null ? "gaussian-mixture" : samplesPath,
            Mixture = user is null ? result.Target.Components : null,
            DataPoints = result.Data.Rows,
            HeldOutPoints = result.HeldOutPoints,
            result.TrainingRows,
            result.ExactScoreLoss,
            Times = result.Times.Times,
            MiddleTime = result.Times.Middle,
            LearningRateRule = options.NormalizedLearningRate is null ? "auto: 1/λ̂_max(K0)" : "normalised: c/tr(JᵀJ)",
            Features = new { result.Features.DataVariance, result.Features.LogTimeScale, Layout = "[x/c_t, y/c_t, log t / scale, 1], c_t = sqrt(e^(-2t) v + 1 - e^(-2t))" },
            Options = new
            {
                options.Width, options.Epochs, options.Patience, options.BatchFraction, options.NormalizedLearningRate, options.InitScale, options.Copies,
                options.HeldOutFraction, options.TimeMin, options.TimeMax, Workers = options.Shards, options.EvaluationPoints, options.EvaluationTimes,
                options.Samples, options.SamplerSteps, options.Seed,
            },
            Networks = result.Models.Select(m => new
            {
                Activation = m.Activation.Name(),
                m.LearningRate,
                m.Training.Exit,
                m.Training.Message,
                m.RelativeErrors,
                m.WeightedError,
                MiddleError = m.RelativeErrors[result.Times.Count / 2],
                m.BestEpoch,
                EpochsRun = m.History.Count - 1,
                BestLoss = m.History[m.BestEpoch].Loss,
                ExcessLoss = m.History[m.BestEpoch].Loss - result.ExactScoreLoss,
                BestHeldOutLoss = m.History[m.BestEpoch].ValidationLoss,
                FinalRelativeChange = m.History[m.BestEpoch].RelativeChange,
                m.Seconds,
                LossPerEpoch = m.History.Select(h => h.Loss),
                HeldOutLossPerEpoch = m.History.Select(h => h.ValidationLoss),
            }),
            SamplesFrom = drawn is null ? null : DiffusionExperiment.BestModel(result.Models).Activation.Name(),
            SamplesWritten = drawn?.Rows ?? 0,
            result.TargetWeights,
            result.SampleFractions,
            result.Cancelled,
            result.Seconds,
        });
        output.WriteLine($"wrote {outDir}: {string.Join(", ", plan.Files.Select(Path.GetFileName))} ({result.Seconds:F1} s)");
        if (!result.Cancelled) return ExitCodes.Ok;
        ctx.Err.WriteLine($"dist-softmax: cancelled: wrote the {result.Models.Count} of {options.Activations.Count} networks trained so far " +
                          "(one cut short keeps its best held-out epoch) and no reverse-SDE samples");
        return ExitCodes.NotConverged;
    }

    /// <summary>The rows of an n×2 matrix whose entries are all finite, and how many were left out.</summary>
    private static (DenseMatrix Rows, int Dropped) FiniteRows(DenseMatrix m)
    {
        var keep = Enumerable.Range(0, m.Rows).Where(i => double.IsFinite(m[i, 0]) && double.IsFinite(m[i, 1])).ToArray();
        var result = new DenseMatrix(keep.Length, 2);
        for (int i = 0; i < keep.Length; i++) { result[i, 0] = m[keep[i], 0]; result[i, 1] = m[keep[i], 1]; }
        return (result, m.Rows - keep.Length);
    }

    /// <summary>The score-error study: a table on stdout with the winner per grid point, study.csv, study-samples.png, study-width.png, report.json.</summary>
    public static int RunStudy(CliContext ctx, DiffusionOptions options, IReadOnlyList<int> sizes, IReadOnlyList<int> widths, string outDirectory,
        IReadOnlyList<string> arguments)
    {
        var output = ctx.Out;
        var studyFiles = new List<string> { "report.json", "study.csv" };
        if (sizes.Count > 0) studyFiles.Add("study-samples.png");
        if (widths.Count > 0) studyFiles.Add("study-width.png");
        var plan = Outputs(ctx, outDirectory, studyFiles, null);
        string outDir = plan.Directory;
        output.WriteLine($"diffusion study: σ_t²-weighted relative score error of {string.Join(", ", options.Activations.Select(a => a.Name()))} " +
                         $"against n ∈ {{{string.Join(", ", sizes)}}} (width {options.Width}) and width ∈ {{{string.Join(", ", widths)}}} (n = {options.DataPoints})");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var rows = DiffusionStudy.Run(options, sizes, widths, m => output.WriteLine("  " + m), ctx.Cancellation);
        var winners = DiffusionStudy.Winners(rows).ToArray();
        output.WriteLine();
        output.WriteLine("  sweep    n       width  " + string.Concat(options.Activations.Select(a => $"{a.Name(),10}")) + "  best");
        foreach (var w in winners)
        {
            // A cancelled study's last grid point may lack networks: "–".
            var cells = options.Activations.Select(a => rows.FirstOrDefault(r => r.Sweep == w.Sweep && r.DataPoints == w.DataPoints && r.Width == w.Width && r.Activation == a.Name()));
            output.WriteLine($"  {w.Sweep,-8} {w.DataPoints,-7} {w.Width,-6} " + string.Concat(cells.Select(c => $"{(c is null ? "–" : Percent(c.WeightedError)),10}")) +
                             $"  {w.Best}{(double.IsFinite(w.RunnerUpRatio) ? $" (runner-up {w.RunnerUpRatio:F2}×)" : "")}");
        }
        var csv = new StringBuilder("sweep,activation,data_points,width,weighted_error,middle_error,epochs_run,best_epoch,exit\n");
        foreach (var r in rows)
            csv.AppendLine(string.Join(',', r.Sweep, r.Activation, r.DataPoints.ToString(CultureInfo.InvariantCulture), r.Width.ToString(CultureInfo.InvariantCulture),
                r.WeightedError.ToString("E4", CultureInfo.InvariantCulture), r.MiddleError.ToString("E4", CultureInfo.InvariantCulture),
                r.EpochsRun.ToString(CultureInfo.InvariantCulture), r.BestEpoch.ToString(CultureInfo.InvariantCulture), r.Exit));
        AtomicFile.Write(Path.Combine(outDir, "study.csv"), Encoding.UTF8.GetBytes(csv.ToString()));
        var files = new List<string> { "report.json", "study.csv" };
        // A cancelled study plots only the sweeps it has rows of.
        bool samplesRun = rows.Any(r => r.Sweep == "samples"), widthsRun = rows.Any(r => r.Sweep == "width");
        if (samplesRun) { NetworkPlots.Study(Path.Combine(outDir, "study-samples.png"), rows.Where(r => r.Sweep == "samples"), r => r.DataPoints, "training points n", $"Score error against n (width {options.Width})"); files.Add("study-samples.png"); }
        if (widthsRun) { NetworkPlots.Study(Path.Combine(outDir, "study-width.png"), rows.Where(r => r.Sweep == "width"), r => r.Width, "width m", $"Score error against width (n = {options.DataPoints})"); files.Add("study-width.png"); }
        // Cancelled (Ctrl+C / SIGTERM): the grid points trained so far are written, as train --widths writes the widths it reached; exit 3.
        int expected = (sizes.Count + widths.Count) * options.Activations.Count;
        bool cancelled = rows.Count < expected || rows.Any(r => r.Exit == ExitReasons.Name(ExitCondition.Cancelled));
        if (cancelled) plan = plan.Only(files);
        RemoveStale(plan);
        ReportEnvelope.Write(Path.Combine(outDir, "report.json"), "diffusion", arguments, new
        {
            plan.Files,
            Study = new { Samples = sizes, Widths = widths },
            Options = options,
            Rows = rows,
            Winners = winners.Select(w => new { w.Sweep, w.DataPoints, w.Width, w.Best, w.Error, RunnerUpRatio = double.IsFinite(w.RunnerUpRatio) ? w.RunnerUpRatio : (double?)null }),
            Cancelled = cancelled,
            Seconds = clock.Elapsed.TotalSeconds,
        });
        output.WriteLine($"wrote {outDir}: {string.Join(", ", files)} ({clock.Elapsed.TotalSeconds:F1} s)");
        if (!cancelled) return ExitCodes.Ok;
        ctx.Err.WriteLine($"dist-softmax: cancelled: wrote the {rows.Count} of {expected} study runs trained so far");
        return ExitCodes.NotConverged;
    }
}
