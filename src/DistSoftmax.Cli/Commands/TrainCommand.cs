using System.CommandLine;
using System.Diagnostics;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data;
using static DistSoftmax.Cli.Commands.NetworkCommandSupport;

namespace DistSoftmax.Cli.Commands;

/// <summary>What <c>dist-softmax train</c> was asked to do.</summary>
public sealed record TrainSettings(string Data, string Targets, int Width, Activation Activation, double LearningRate, int Epochs,
    double BatchFraction, double Lambda, ulong Seed, int Workers, bool Paired, double InitScale, string OutDir, int ProgressEvery = 0,
    bool LocalActors = true);

/// <summary>
/// <c>dist-softmax train</c>: trains a two-layer network (softmax, ReLU or exp) on X.npy → Y.npy by full-batch
/// gradient descent or mini-batch SGD over row shards, and writes report.json, loss.png, weights.npy (W, d×m),
/// initial-weights.npy (W0) and output-weights.npy (a, m×k).
/// The shards are loaded through <see cref="NetworkShardLoader"/> from the file names, exactly as a cluster worker
/// loads its rows: by default in the local actor simulation (coordinator and worker actors in one process, the
/// cluster's code), or with <c>--driver inprocess</c> by the in-process driver (one shard per worker either way).
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Training inputs X, an n×d .npy (or .csv/.txt) file", Required = true };
        var targets = new Option<string>("--targets") { Description = "Training targets Y, n×k (a vector is n×1)", Required = true };
        var width = new Option<int>("--width") { Description = "Hidden width m", Required = true }.Positive();
        var activation = new Option<string>("--activation") { Description = "Hidden activation", DefaultValueFactory = _ => "softmax" }
            .OneOf(Activations.Names);
        var lr = new Option<double>("--lr") { Description = "Learning rate η on the summed loss ½Σ‖F − y‖² (shrink it like 1/n)", Required = true }.Positive();
        var epochs = new Option<int>("--epochs") { Description = "Passes over the data", DefaultValueFactory = _ => 100 }.NonNegative();
        var batch = new Option<double>("--batch-fraction") { Description = "Mini-batch fraction f in (0, 1]; 1 is full-batch GD", DefaultValueFactory = _ => 1.0 }.Positive();
        var lambda = new Option<double>("--lambda") { Description = "λ of the penalty λ‖W − W0‖²", DefaultValueFactory = _ => 0.0 }.NonNegative();
        var seed = new Option<ulong>("--seed") { Description = "Seed of W0, a and the mini-batches", DefaultValueFactory = _ => 1UL };
        var workers = new Option<int>("--workers") { Description = "Row shards, one per worker", DefaultValueFactory = _ => 1 }.Positive();
        var init = new Option<string>("--init")
        {
            Description = "random: a ±1 and W0 Gaussian; paired: a_{j+m/2} = −a_j and equal columns, so F(W0) = 0",
            DefaultValueFactory = _ => "random",
        }.OneOf("random", "paired");
        var initScale = new Option<double>("--init-scale") { Description = "Standard deviation of W0's entries", DefaultValueFactory = _ => 1.0 }.Positive();
        var outDir = new Option<string>("--out-dir") { Description = "Directory for report.json, loss.png and the weights", DefaultValueFactory = _ => "train-out" };
        var driverOpt = new Option<string>("--driver")
        {
            Description = "local: the local actor simulation (coordinator and worker actors); inprocess: the in-process driver",
            DefaultValueFactory = _ => "local",
        }.OneOf("local", "inprocess");

        var cmd = new Command("train", "Train a two-layer softmax/ReLU/exp network over row shards (GD or mini-batch SGD)");
        foreach (var o in new Option[] { data, targets, width, activation, lr, epochs, batch, lambda, seed, workers, init, initScale, outDir, driverOpt })
            cmd.Options.Add(o);
        cmd.Validators.Add(r =>
        {
            if (r.GetValue(batch) > 1) r.AddError("--batch-fraction must be in (0, 1]");
            if (r.GetValue(init) == "paired" && r.GetValue(width) % 2 != 0) r.AddError("--width must be even for --init paired");
        });
        cmd.SetAction((pr, ct) => Guard(() => RunAsync(new TrainSettings(pr.GetValue(data)!, pr.GetValue(targets)!, pr.GetValue(width),
            Activations.Parse(pr.GetValue(activation)!), pr.GetValue(lr), pr.GetValue(epochs), pr.GetValue(batch), pr.GetValue(lambda),
            pr.GetValue(seed), pr.GetValue(workers), pr.GetValue(init) == "paired", pr.GetValue(initScale), pr.GetValue(outDir)!,
            LocalActors: pr.GetValue(driverOpt) == "local"), Console.Out, ct)));
        return cmd;
    }

    public static async Task<int> RunAsync(TrainSettings s, TextWriter output, CancellationToken ct = default)
    {
        var loader = new NetworkShardLoader(ReadMatrixOrColumn);
        var source = NetworkShardLoader.Source(Path.GetFullPath(s.Data), Path.GetFullPath(s.Targets), s.Activation, s.Width, s.Seed, s.Paired);
        var shape = loader.Describe(source);
        var objective = (NetworkObjective)shape.Objective;
        var model = objective.Model;
        var w0 = NetworkModel.InitialWeights(model.InputDim, s.Width, s.Seed, s.Paired, s.InitScale);

        var (_, inputs, _) = loader.Read(source);
        double trace = model.TangentKernelTrace(w0, inputs.Data, inputs.Rows);
        output.WriteLine($"train: {shape.Rows} rows × {model.InputDim} features → {model.Outputs} outputs; {s.Activation.Name()} network of width {s.Width} " +
                         $"({model.ParameterCount} parameters); {s.Workers} worker(s), {(s.LocalActors ? "local actor simulation" : "in-process driver")}; {(s.BatchFraction >= 1 ? "full-batch GD" : $"SGD, batch fraction {s.BatchFraction}")}, η = {s.LearningRate:G4}");
        output.WriteLine($"       tangent-kernel trace at W0 = {trace:G4} (η·trace = {s.LearningRate * trace:G3}; GD on the linearised model is stable for η·λ_max < 2)");

        var trainer = new NetworkTrainer(new TrainingOptions
        {
            LearningRate = s.LearningRate, Epochs = s.Epochs, BatchFraction = s.BatchFraction, Lambda = s.Lambda, Seed = s.Seed,
        });
        int every = s.ProgressEvery > 0 ? s.ProgressEvery : Math.Max(1, s.Epochs / 20);
        void Progress(TraceEntry e)
        {
            if (e.Iteration % every == 0 || e.Iteration == s.Epochs)
                output.WriteLine($"  epoch {e.Iteration,5}  loss {e.Loss,14:G8}  ‖∇‖ {e.GradientNorm,11:E3}  {e.Seconds,7:F1} s");
        }
        var clock = Stopwatch.StartNew();
        SolverResult result;
        if (s.LocalActors)
        {
            result = await LocalSimulation.SolveAsync(loader, source, trainer, w0, new SolverOptions(), new LocalSimulationOptions
            {
                Workers = s.Workers,
                ExtraHocon = "akka.loglevel = WARNING",
                Events = e => { if (e is SolveProgress p) Progress(p.Entry); },
            }, ct);
        }
        else
        {
            var compute = new ShardComputeOptions(Math.Max(1, Environment.ProcessorCount / s.Workers));
            var shards = ShardLayout.Split(shape.Rows, s.Workers).Select(r => loader.Load(source, r, compute)).ToArray();
            var run = trainer.Start(objective, w0, new SolverOptions(), ct);
            run.Progress += Progress;
            result = new InProcessDriver(shards, parallelShards: shards.Length > 1).Run(run);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        int epochsRun = Math.Max(trainer.History.Count - 1, 0);
        double throughput = epochsRun * (double)shape.Rows * s.Width / Math.Max(seconds, 1e-9);

        Directory.CreateDirectory(s.OutDir);
        Npy.Write(Path.Combine(s.OutDir, "weights.npy"), new DenseMatrix(model.InputDim, s.Width, result.X));
        Npy.Write(Path.Combine(s.OutDir, "initial-weights.npy"), new DenseMatrix(model.InputDim, s.Width, w0));
        Npy.Write(Path.Combine(s.OutDir, "output-weights.npy"), new DenseMatrix(s.Width, model.Outputs, model.OutputWeights));
        NetworkPlots.LossCurve(Path.Combine(s.OutDir, "loss.png"), new[] { (s.Activation.Name(), trainer.History) },
            $"{s.Activation.Name()} network, width {s.Width}, {(s.BatchFraction >= 1 ? "GD" : $"SGD f = {s.BatchFraction}")}, η = {s.LearningRate:G3}");
        WriteJson(Path.Combine(s.OutDir, "report.json"), new
        {
            Command = "train",
            Data = s.Data,
            Targets = s.Targets,
            Rows = shape.Rows,
            InputDim = model.InputDim,
            Outputs = model.Outputs,
            Width = s.Width,
            Activation = s.Activation.Name(),
            OutputScale = model.OutputScale,
            Init = s.Paired ? "paired" : "random",
            s.InitScale,
            s.LearningRate,
            s.Epochs,
            s.BatchFraction,
            s.Lambda,
            s.Seed,
            Workers = s.Workers,
            Driver = s.LocalActors ? "local-actor-simulation" : "in-process",
            TangentKernelTraceAtW0 = trace,
            Exit = result.Exit,
            result.Message,
            Seconds = seconds,
            SamplesWidthPerSecond = throughput,
            FinalLoss = trainer.History[^1].Loss,
            FinalRelativeChange = trainer.History[^1].RelativeChange,
            EpochHistory = trainer.History,
        });
        output.WriteLine($"{result.Exit}: {result.Message}; ‖W−W0‖/‖W0‖ = {trainer.History[^1].RelativeChange:E3} " +
                         $"({(trainer.History[^1].RelativeChange < 0.1 ? "NTK regime: the weights barely moved" : "beyond the lazy regime")}); " +
                         $"{seconds:F1} s, {throughput:G3} samples·width/s");
        output.WriteLine($"wrote {s.OutDir}/report.json, loss.png, weights.npy, initial-weights.npy, output-weights.npy");
        return result.Exit == ExitCondition.Diverged ? 1 : 0;
    }
}
