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
public static class DiffusionCommand
{
    public static Command Create()
    {
        var d = new DiffusionOptions();
        var samplesIn = new Option<string?>("--samples-in") { Description = "User samples, an n×2 .npy file (default: a two-component Gaussian mixture)" };
        var dataPoints = new Option<int>("--data-points") { Description = "Points drawn from the mixture", DefaultValueFactory = _ => d.DataPoints }.Positive();
        var sigmaMax = new Option<double>("--sigma-max") { Description = "Largest noise level", DefaultValueFactory = _ => d.SigmaMax }.Positive();
        var sigmaMin = new Option<double>("--sigma-min") { Description = "Smallest noise level", DefaultValueFactory = _ => d.SigmaMin }.Positive();
        var levels = new Option<int>("--levels") { Description = "Noise levels (geometric)", DefaultValueFactory = _ => d.Levels }.Positive();
        var copies = new Option<int>("--copies") { Description = "Noise draws per point and level", DefaultValueFactory = _ => d.Copies }.Positive();
        var width = new Option<int>("--width") { Description = "Hidden width m of every network (even)", DefaultValueFactory = _ => d.Width }.Positive();
        var activations = new Option<string>("--activations") { Description = "Comma-separated networks to compare; samples come from the first", DefaultValueFactory = _ => "softmax,relu,exp" };
        var epochs = new Option<int>("--epochs") { Description = "SGD epochs", DefaultValueFactory = _ => d.Epochs }.Positive();
        var batch = new Option<double>("--batch-fraction") { Description = "Mini-batch fraction", DefaultValueFactory = _ => d.BatchFraction }.Positive();
        var lr = new Option<double>("--lr") { Description = "Normalised learning rate c: η = c / tr(JᵀJ) at W0", DefaultValueFactory = _ => d.NormalizedLearningRate }.Positive();
        var initScale = new Option<double>("--init-scale") { Description = "Standard deviation of W0's entries", DefaultValueFactory = _ => d.InitScale }.Positive();
        var workers = new Option<int>("--workers") { Description = "Row shards of the training set", DefaultValueFactory = _ => d.Shards }.Positive();
        var evalPoints = new Option<int>("--eval-points") { Description = "p_σ draws per level for the score error", DefaultValueFactory = _ => d.EvaluationPoints }.Positive();
        var samples = new Option<int>("--samples") { Description = "Langevin samples", DefaultValueFactory = _ => d.Samples }.Positive();
        var steps = new Option<int>("--langevin-steps") { Description = "Langevin steps per level", DefaultValueFactory = _ => d.LangevinSteps }.Positive();
        var eps = new Option<double>("--langevin-epsilon") { Description = "ε of the step α_i = ε σ_i²/σ_min²", DefaultValueFactory = _ => d.LangevinEpsilon }.Positive();
        var seed = new Option<ulong>("--seed") { Description = "Seed of every draw", DefaultValueFactory = _ => d.Seed };
        var outDir = new Option<string>("--out-dir") { Description = "Output directory", DefaultValueFactory = _ => "diffusion-out" };

        var cmd = new Command("diffusion", "Learn the score of a noised 2-D distribution with softmax/ReLU/exp networks and sample by annealed Langevin dynamics");
        foreach (var o in new Option[] { samplesIn, dataPoints, sigmaMax, sigmaMin, levels, copies, width, activations, epochs, batch, lr, initScale,
                     workers, evalPoints, samples, steps, eps, seed, outDir })
            cmd.Options.Add(o);
        cmd.SetAction((pr, ct) => Guard(() =>
        {
            var options = new DiffusionOptions
            {
                DataPoints = pr.GetValue(dataPoints), SigmaMax = pr.GetValue(sigmaMax), SigmaMin = pr.GetValue(sigmaMin), Levels = pr.GetValue(levels),
                Copies = pr.GetValue(copies), Width = pr.GetValue(width),
                Activations = pr.GetValue(activations)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Activations.Parse).ToArray(),
                Epochs = pr.GetValue(epochs), BatchFraction = pr.GetValue(batch), NormalizedLearningRate = pr.GetValue(lr), InitScale = pr.GetValue(initScale),
                Shards = pr.GetValue(workers), EvaluationPoints = pr.GetValue(evalPoints), Samples = pr.GetValue(samples),
                LangevinSteps = pr.GetValue(steps), LangevinEpsilon = pr.GetValue(eps), Seed = pr.GetValue(seed),
            };
            return RunAsync(options, pr.GetValue(samplesIn), pr.GetValue(outDir)!, Console.Out, ct);
        }));
        return cmd;
    }

    public static Task<int> RunAsync(DiffusionOptions options, string? samplesPath, string outDir, TextWriter output, CancellationToken ct = default)
    {
        DenseMatrix? user = samplesPath is null ? null : MatrixFile.ReadDense(samplesPath);
        output.WriteLine(user is null
            ? "diffusion: target = two-component Gaussian mixture (weights 0.3 / 0.7); exact noised score in closed form"
            : $"diffusion: target = the {user.Rows} samples of {samplesPath}; exact score of their noised empirical distribution");
        var result = DiffusionExperiment.Run(options, samples: user, log: m => output.WriteLine("  " + m), cancellation: ct);

        Directory.CreateDirectory(outDir);
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
        output.WriteLine($"wrote {outDir}/report.json, samples.npy, diffusion.png, score-errors.png, loss.png ({result.Seconds:F1} s)");
        return Task.FromResult(0);
    }
}
