using System.CommandLine;
using System.Diagnostics;
using DistSoftmax.Cli.Solving;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Data;
using DistSoftmax.Data.Sources;
using static DistSoftmax.Cli.Commands.NetworkCommandSupport;

namespace DistSoftmax.Cli.Commands;

/// <summary>What <c>dist-softmax train</c> was asked to do (paths absolute).</summary>
internal sealed record TrainSettings(string Data, string Targets, int Width, Activation Activation, double LearningRate, int Epochs,
    double BatchFraction, double Lambda, ulong Seed, int Workers, bool Paired, double InitScale, string OutDir, BackendPlan Backend);

/// <summary>
/// <c>dist-softmax train</c>: trains a two-layer network (softmax, ReLU or exp) on X → Y by full-batch gradient
/// descent or mini-batch SGD over row shards, and writes report.json, loss.png, weights.npy (W, d×m),
/// initial-weights.npy (W0) and output-weights.npy (a, m×k). Every backend loads the shards through
/// <see cref="NetworkShardLoader"/> from the file names (only the description travels): local = coordinator and
/// worker actors in this process (default), inprocess = a plain loop, --seeds = a job on a running cluster whose
/// worker nodes (<c>dist-softmax worker</c>) read the files at the same paths.
/// </summary>
internal static class TrainCommand
{
    /// <summary>The loader of network sources over the project's file readers (.npy rows read by byte range).</summary>
    public static NetworkShardLoader FileLoader() => new(Shape, ReadRows);

    /// <summary>What a worker node loads: network sources, and the solve command's "files" and "generated" sources.</summary>
    public static IShardLoader WorkerLoader() => new CompositeShardLoader(
        new Dictionary<string, IShardLoader> { [NetworkShardLoader.Kind] = FileLoader() }, new DataShardLoader());

    public static Command Build(CliContext ctx)
    {
        var data = OptionFactory.File("--data", "Training inputs X: an n×d .npy (or .csv/.txt/.mtx) file. Required.");
        var targets = OptionFactory.File("--targets", "Training targets Y: n×k (a 1-D array is n×1). Required.");
        var width = OptionFactory.OptionalInt("--width", "Hidden width m. Required.", "M");
        var activation = OptionFactory.Choice("--activation", "The hidden-layer map.", "softmax", Activations.Names);
        var lr = OptionFactory.OptionalDouble("--lr", "Learning rate η on the summed loss ½Σ‖F(W,x)−y‖² (scale it like 1/n; the report prints η·tr(JᵀJ)). Required.", "ETA");
        var epochs = OptionFactory.Int("--epochs", "Passes over the data.", 100);
        var batch = OptionFactory.Double("--batch-fraction", "Mini-batch fraction f in (0, 1]: 1 is full-batch GD, smaller is SGD with ⌈1/f⌉ batches per epoch.", 1.0, "F");
        var lambda = OptionFactory.Double("--lambda", "λ of the penalty λ‖W − W0‖².", 0.0, "L");
        var seed = OptionFactory.ULong("--seed", "Seed of W0, the output layer a and the mini-batches.", 1);
        var workers = OptionFactory.Int("--workers", "Row shards, one per worker.", 1, "K");
        var init = OptionFactory.Choice("--init", "random: a ±1 and W0 ~ N(0, s²); paired: a_{j+m/2} = −a_j with equal W0 columns, so F(W0) = 0.",
            "random", "random", "paired");
        var initScale = OptionFactory.Double("--init-scale", "Standard deviation s of W0's entries.", 1.0, "S");
        var outDir = OptionFactory.Text("--out-dir", "Directory for report.json, loss.png and the weights (created if needed).", "train-out", "DIR");
        var backend = JobOptions.Backend(
            "Where shards run: local = worker actors in this process (Akka.NET local simulation); inprocess = a plain in-process loop.");
        var seeds = JobOptions.Seeds("train");
        var minWorkers = JobOptions.MinWorkers();
        var host = JobOptions.Host();
        var port = JobOptions.Port();

        var command = new Command("train",
            "Train a two-layer softmax (or ReLU, exp) network over row shards by gradient descent or mini-batch SGD; " +
            "writes report.json, loss.png, weights.npy, initial-weights.npy, output-weights.npy.");
        command.Add(data, targets, width, activation, lr, epochs, batch, lambda, seed, workers, init, initScale, outDir, backend, seeds, minWorkers, host, port);
        command.SetAction(parse => Guard(ctx, () =>
        {
            string x = parse.GetValue(data) ?? throw new CliInputException("--data", "is required (the n×d training inputs)");
            string y = parse.GetValue(targets) ?? throw new CliInputException("--targets", "is required (the n×k training targets)");
            int m = parse.GetValue(width) ?? throw new CliInputException("--width", "is required (the hidden width m)");
            double eta = parse.GetValue(lr) ?? throw new CliInputException("--lr", "is required (the learning rate η)");
            RequirePositive(m, "--width");
            RequirePositive(parse.GetValue(workers), "--workers");
            bool paired = parse.GetValue(init) == "paired";
            if (paired && m % 2 != 0) throw new CliInputException("--width", $"must be even for --init paired (got {m})");
            RequirePositive(parse.GetValue(initScale), "--init-scale");
            var training = new TrainingOptions
            {
                LearningRate = eta, Epochs = parse.GetValue(epochs), BatchFraction = parse.GetValue(batch), Lambda = parse.GetValue(lambda),
                Seed = parse.GetValue(seed),
            }.Validate();
            var plan = SolveBackends.Plan(parse.GetValue(backend)!, OptionFactory.Given(parse, backend), parse.GetValue(seeds),
                parse.GetValue(minWorkers), parse.GetValue(host), parse.GetValue(port));
            var settings = new TrainSettings(ctx.Resolve(x), ctx.Resolve(y), m, Activations.Parse(parse.GetValue(activation)!), training.LearningRate,
                training.Epochs, training.BatchFraction, training.Lambda, training.Seed, parse.GetValue(workers), paired, parse.GetValue(initScale),
                parse.GetValue(outDir)!, plan);
            return Run(ctx, settings, ctx.Cancellation);
        }));
        return command;
    }

    /// <summary>Trains and writes the outputs; exit 0 when every epoch ran, 3 when training diverged or was cancelled.</summary>
    public static int Run(CliContext ctx, TrainSettings s, CancellationToken ct = default)
    {
        var output = ctx.Out;
        var loader = FileLoader();
        var source = NetworkShardLoader.Source(s.Data, s.Targets, s.Activation, s.Width, s.Seed, s.Paired);
        var shape = loader.Describe(source);
        var objective = (NetworkObjective)shape.Objective;
        var model = objective.Model;
        if (s.Workers > shape.Rows) throw new CliInputException("--workers", $"{s.Workers} workers for {shape.Rows} rows");
        string outDir = OutputDirectory(ctx, s.OutDir);
        var w0 = NetworkModel.InitialWeights(model.InputDim, s.Width, s.Seed, s.Paired, s.InitScale);

        // tr(JᵀJ) at W0 estimated from the first rows (the coordinator never holds the data).
        int probeRows = (int)Math.Min(shape.Rows, 10_000);
        var probe = ReadRows(s.Data, 0, probeRows);
        double trace = model.TangentKernelTrace(w0, probe.Data, probeRows) * shape.Rows / probeRows;
        string backendName = s.Backend.Kind switch { "local" => "local actor simulation", "inprocess" => "in-process driver", _ => "cluster job" };
        output.WriteLine($"train: {shape.Rows} rows × {model.InputDim} features → {model.Outputs} outputs; {s.Activation.Name()} network of width {s.Width} " +
                         $"({model.ParameterCount} parameters); {s.Workers} worker(s), {backendName}; " +
                         $"{(s.BatchFraction >= 1 ? "full-batch GD" : $"SGD, batch fraction {s.BatchFraction}")}, η = {s.LearningRate:G4}");
        output.WriteLine($"  tangent-kernel trace at W0 ≈ {trace:G4}: η·tr(JᵀJ) = {s.LearningRate * trace:G3} " +
                         "(GD on the linearised network is stable for η·λ_max < 2, and λ_max ≤ tr)");

        var trainer = new NetworkTrainer(new TrainingOptions
        {
            LearningRate = s.LearningRate, Epochs = s.Epochs, BatchFraction = s.BatchFraction, Lambda = s.Lambda, Seed = s.Seed,
        });
        int every = Math.Max(1, s.Epochs / 20);
        var gate = new object();
        void Progress(TraceEntry e)
        {
            if (e.Iteration % every != 0 && e.Iteration != s.Epochs) return;
            lock (gate) output.WriteLine($"  epoch {e.Iteration,5}  loss {e.Loss,14:G8}  ‖∇‖ {e.GradientNorm,11:E3}  {e.Seconds,7:F1} s");
        }
        void Note(string line) { lock (gate) output.WriteLine("  " + line); }

        var clock = Stopwatch.StartNew();
        var job = new SolveJob(loader, source, shape, trainer, new SolverOptions(), w0, s.Workers);
        var result = SolveBackends.For(s.Backend).SolveAsync(job, Progress, Note, ct).GetAwaiter().GetResult();
        double seconds = clock.Elapsed.TotalSeconds;
        var history = trainer.History;
        int epochsRun = Math.Max(history.Count - 1, 0);
        double throughput = epochsRun * (double)shape.Rows * s.Width / Math.Max(seconds, 1e-9);

        Npy.Write(Path.Combine(outDir, "weights.npy"), new DenseMatrix(model.InputDim, s.Width, result.X));
        Npy.Write(Path.Combine(outDir, "initial-weights.npy"), new DenseMatrix(model.InputDim, s.Width, w0));
        Npy.Write(Path.Combine(outDir, "output-weights.npy"), new DenseMatrix(s.Width, model.Outputs, model.OutputWeights));
        NetworkPlots.LossCurve(Path.Combine(outDir, "loss.png"), new[] { (s.Activation.Name(), history) },
            $"{s.Activation.Name()} network, width {s.Width}, {(s.BatchFraction >= 1 ? "GD" : $"SGD f = {s.BatchFraction}")}, η = {s.LearningRate:G3}");
        WriteJson(Path.Combine(outDir, "report.json"), new
        {
            Command = "train",
            s.Data,
            s.Targets,
            Rows = shape.Rows,
            InputDim = model.InputDim,
            Outputs = model.Outputs,
            s.Width,
            Activation = s.Activation.Name(),
            model.OutputScale,
            Init = s.Paired ? "paired" : "random",
            s.InitScale,
            s.LearningRate,
            s.Epochs,
            s.BatchFraction,
            s.Lambda,
            s.Seed,
            s.Workers,
            Backend = s.Backend.Kind,
            TangentKernelTraceAtW0 = trace,
            result.Exit,
            result.Message,
            Seconds = seconds,
            SamplesWidthPerSecond = throughput,
            FinalLoss = history.Count > 0 ? history[^1].Loss : double.NaN,
            FinalRelativeChange = history.Count > 0 ? history[^1].RelativeChange : double.NaN,
            EpochHistory = history,
        });
        double change = history.Count > 0 ? history[^1].RelativeChange : 0;
        output.WriteLine($"{result.Exit}: {result.Message}; ‖W−W0‖/‖W0‖ = {change:E3} " +
                         $"({(change < 0.1 ? "NTK regime: the weights barely moved" : "beyond the lazy regime")}); {seconds:F1} s, {throughput:G3} samples·width/s");
        output.WriteLine($"wrote {outDir}: report.json, loss.png, weights.npy, initial-weights.npy, output-weights.npy");
        return result.Exit == ExitCondition.MaxIterations ? ExitCodes.Ok : ExitCodes.NotConverged;
    }
}
