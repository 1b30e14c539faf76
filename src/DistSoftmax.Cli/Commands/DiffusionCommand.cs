using System.CommandLine;
using DistSoftmax.Core.Diffusion;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Data;
using static DistSoftmax.Cli.Commands.NetworkCommandSupport;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// <c>dist-softmax diffusion</c>: learns the score of a noised 2-D distribution by denoising score matching with
/// softmax, ReLU and exp networks of equal width (<see cref="DiffusionExperiment"/>), reports the relative score error
/// per noise level against the exact score, samples by annealed Langevin dynamics, and writes report.json,
/// samples.npy, diffusion.png (density, samples, score arrows), score-errors.png and loss.png.
/// </summary>
internal static class DiffusionCommand
{
    public static Command Build(CliContext ctx)
    {
        var d = new DiffusionOptions();
        var samplesIn = OptionFactory.File("--samples-in", "User samples: an n×2 .npy (or .csv/.txt) file. Default: the two-component Gaussian mixture.");
        var dataPoints = OptionFactory.Int("--data-points", "Points drawn from the mixture.", d.DataPoints);
        var sigmaMax = OptionFactory.Double("--sigma-max", "Largest noise level σ.", d.SigmaMax, "SIGMA");
        var sigmaMin = OptionFactory.Double("--sigma-min", "Smallest noise level σ.", d.SigmaMin, "SIGMA");
        var levels = OptionFactory.Int("--levels", "Noise levels, geometric from --sigma-max to --sigma-min.", d.Levels, "L");
        var copies = OptionFactory.Int("--copies", "Noise draws per point and level.", d.Copies);
        var width = OptionFactory.Int("--width", "Hidden width m of every network (even: paired initialisation).", d.Width, "M");
        var activations = OptionFactory.Text("--activations", "Comma-separated networks to compare (softmax, relu, exp); samples come from the first.",
            "softmax,relu,exp", "LIST");
        var epochs = OptionFactory.Int("--epochs", "SGD epochs per network.", d.Epochs);
        var batch = OptionFactory.Double("--batch-fraction", "Mini-batch fraction.", d.BatchFraction, "F");
        var lr = OptionFactory.Double("--lr", "Normalised learning rate c: η = c / tr(JᵀJ) at W0.", d.NormalizedLearningRate, "C");
        var initScale = OptionFactory.Double("--init-scale", "Standard deviation of W0's entries.", d.InitScale, "S");
        var workers = OptionFactory.Int("--workers", "Row shards of the training set (in-process driver).", d.Shards, "K");
        var evalPoints = OptionFactory.Int("--eval-points", "Draws from p_σ per level for the relative score error.", d.EvaluationPoints);
        var samples = OptionFactory.Int("--samples", "Annealed Langevin samples.", d.Samples);
        var steps = OptionFactory.Int("--langevin-steps", "Langevin steps per level.", d.LangevinSteps);
        var eps = OptionFactory.Double("--langevin-epsilon", "ε of the Langevin step α_i = ε σ_i²/σ_min².", d.LangevinEpsilon, "E");
        var seed = OptionFactory.ULong("--seed", "Seed of every draw.", d.Seed);
        var outDir = OptionFactory.Text("--out-dir", "Output directory (created if needed).", "diffusion-out", "DIR");

        var command = new Command("diffusion",
            "Learn the score of a noised 2-D distribution by denoising score matching with softmax, ReLU and exp networks of equal " +
            "width; report the relative score error per noise level, sample by annealed Langevin dynamics; writes report.json, " +
            "samples.npy, diffusion.png, score-errors.png, loss.png.");
        command.Add(samplesIn, dataPoints, sigmaMax, sigmaMin, levels, copies, width, activations, epochs, batch, lr, initScale, workers,
            evalPoints, samples, steps, eps, seed, outDir);
        command.SetAction(parse => Guard(ctx, () =>
        {
            var options = new DiffusionOptions
            {
                DataPoints = parse.GetValue(dataPoints), SigmaMax = parse.GetValue(sigmaMax), SigmaMin = parse.GetValue(sigmaMin),
                Levels = parse.GetValue(levels), Copies = parse.GetValue(copies), Width = parse.GetValue(width),
                Activations = List(parse.GetValue(activations)!).Select(Activations.Parse).ToArray(),
                Epochs = parse.GetValue(epochs), BatchFraction = parse.GetValue(batch), NormalizedLearningRate = parse.GetValue(lr),
                InitScale = parse.GetValue(initScale), Shards = parse.GetValue(workers), EvaluationPoints = parse.GetValue(evalPoints),
                Samples = parse.GetValue(samples), LangevinSteps = parse.GetValue(steps), LangevinEpsilon = parse.GetValue(eps), Seed = parse.GetValue(seed),
            }.Validate();
            string? user = parse.GetValue(samplesIn);
            return Run(ctx, options, user is null ? null : ctx.Resolve(user), parse.GetValue(outDir)!);
        }));
        return command;
    }

    public static int Run(CliContext ctx, DiffusionOptions options, string? samplesPath, string outDirectory)
    {
        var output = ctx.Out;
        DenseMatrix? user = samplesPath is null ? null : MatrixFile.ReadDense(samplesPath);
        if (user is { Cols: not 2 }) throw new CliInputException("--samples-in", $"{samplesPath} must be n×2, got {user.Rows}×{user.Cols}");
        string outDir = OutputDirectory(ctx, outDirectory);
        output.WriteLine(user is null
            ? "diffusion: target = two-component Gaussian mixture (weights 0.3 / 0.7); exact noised score in closed form"
            : $"diffusion: target = the {user.Rows} samples of {samplesPath}; exact score of their noised empirical distribution");
        var result = DiffusionExperiment.Run(options, samples: user, log: m => output.WriteLine("  " + m), cancellation: ctx.Cancellation);

        Npy.Write(Path.Combine(outDir, "samples.npy"), result.Samples);
        foreach (var m in result.Models)
            Npy.Write(Path.Combine(outDir, $"weights-{m.Activation.Name()}.npy"), new DenseMatrix(ScoreFeatures.Dimension, options.Width, m.Network.Weights));
        NetworkPlots.Diffusion(Path.Combine(outDir, "diffusion.png"), result);
        NetworkPlots.ScoreErrors(Path.Combine(outDir, "score-errors.png"), result);
        NetworkPlots.LossCurve(Path.Combine(outDir, "loss.png"), result.Models.Select(m => (m.Activation.Name(), m.History)),
            $"Denoising score matching, width {options.Width}");

        output.WriteLine();
        output.WriteLine($"  relative L2 score error against the exact score (width {options.Width}):");
        output.WriteLine("  σ        " + string.Concat(result.Models.Select(m => $"{m.Activation.Name(),10}")));
        for (int l = 0; l < result.Schedule.Levels; l++)
            output.WriteLine($"  {result.Schedule.Sigmas[l],-8:G3} " + string.Concat(result.Models.Select(m => $"{Percent(m.RelativeErrors[l]),10}")));
        WriteJson(Path.Combine(outDir, "report.json"), new
        {
            Command = "diffusion",
            Target = user is null ? "gaussian-mixture" : samplesPath,
            Mixture = user is null ? result.Target.Components : null,
            DataPoints = result.Data.Rows,
            result.TrainingRows,
            ExactScoreLoss = result.ExactScoreLoss,
            Sigmas = result.Schedule.Sigmas,
            MiddleSigma = result.Schedule.Middle,
            Features = new { result.Features.DataVariance, result.Features.LogSigmaScale, Layout = "[x/√(v+σ²), y/√(v+σ²), log σ / scale, 1]" },
            Options = new
            {
                options.Width, options.Epochs, options.BatchFraction, NormalizedLearningRate = options.NormalizedLearningRate, options.InitScale,
                options.Copies, Workers = options.Shards, options.EvaluationPoints, options.Samples, options.LangevinSteps, options.LangevinEpsilon, options.Seed,
            },
            Networks = result.Models.Select(m => new
            {
                Activation = m.Activation.Name(),
                m.LearningRate,
                Exit = m.Training.Exit,
                m.Training.Message,
                RelativeErrors = m.RelativeErrors,
                MiddleError = m.RelativeErrors[result.Schedule.Levels / 2],
                FinalLoss = m.History[^1].Loss,
                ExcessLoss = m.History[^1].Loss - result.ExactScoreLoss,
                FinalRelativeChange = m.History[^1].RelativeChange,
                m.Seconds,
                LossPerEpoch = m.History.Select(h => h.Loss),
            }),
            SamplesFrom = result.Models[0].Activation.Name(),
            TargetWeights = result.TargetWeights,
            SampleFractions = result.SampleFractions,
            result.Seconds,
        });
        output.WriteLine($"wrote {outDir}: report.json, samples.npy, diffusion.png, score-errors.png, loss.png ({result.Seconds:F1} s)");
        return ExitCodes.Ok;
    }
}
