using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DistSoftmax.Cli.Output;
using DistSoftmax.Cli.Solving;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Data;
using DistSoftmax.Data.Sources;
using static DistSoftmax.Cli.Commands.NetworkCommandSupport;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Cli.Commands;

/// <summary>What <c>dist-softmax train</c> was asked to do (paths absolute).</summary>
/// <param name="LearningRate">η, or null for --lr auto (<see cref="TangentKernel.AutoLearningRate"/>).</param>
/// <param name="Widths">The --widths sweep (softmax, ReLU and exp at every width); empty for one network of <paramref name="Width"/>.</param>
/// <param name="NtkPoints">Most rows the tangent-kernel Gram matrix is computed on (evenly spaced when n is larger).</param>
internal sealed record TrainSettings(string Data, string Targets, int Width, Activation Activation, double? LearningRate, int Epochs,
    double BatchFraction, double Lambda, ulong Seed, int Workers, bool Paired, double InitScale, string OutDir, BackendPlan Backend,
    IReadOnlyList<int> Widths, int NtkPoints, string? TestData, string? TestTargets, IReadOnlyList<string> Arguments);

/// <summary>
/// The tangent kernel K = J Jᵀ on <paramref name="Points"/> training rows at W0 and at the end of training.
/// </summary>
/// <param name="EstimatedLambdaMax">λ_max of the n-point kernel estimated as (n/s)·λ_max(K_s) (exact when s = n).</param>
/// <param name="RelativeMovement">‖K(t) − K(0)‖_F / ‖K(0)‖_F.</param>
internal sealed record NtkDiagnostics(int Points, bool Subsampled, double InitialLambdaMin, double InitialLambdaMax, double InitialTrace,
    double FinalLambdaMin, double FinalLambdaMax, double RelativeMovement, double EstimatedLambdaMax);

/// <summary>
/// Mean per-row losses (1/n)Σ½‖f(x_i) − y_i‖² of the trained network and of kernel regression with K0, on the
/// training rows and (when a test set is given) on at most <see cref="TrainCommand.MaxTestPoints"/> test rows.
/// </summary>
/// <param name="NetworkTrainLoss">Over all n training rows (the trainer's final data loss / n).</param>
/// <param name="KernelPoints">The rows the regression was fitted on (the kernel's s sampled rows).</param>
/// <param name="KernelTrainLoss">Over <paramref name="KernelTrainRows"/> training rows: all n up to
/// <see cref="TrainCommand.MaxTestPoints"/>, evenly spaced beyond — not only the fitted rows, where it interpolates (until
/// the twenty-seventh session it was over those, ≈ 0 beside the network's loss over all rows).</param>
internal sealed record LossComparison(double NetworkTrainLoss, double? NetworkTestLoss, int KernelPoints, double KernelTrainLoss, double? KernelTestLoss,
    int TestPoints, int KernelTrainRows);

/// <summary>One trained network with its diagnostics.</summary>
/// <param name="LossGrew">The final data loss is above the initial one (or not finite): training diverged.</param>
internal sealed record TrainOutcome(Activation Activation, int Width, NetworkModel Model, double[] W0, SolverResult Result,
    IReadOnlyList<EpochRecord> History, long Rows, double LearningRate, NtkDiagnostics Ntk, LossComparison Losses, double InitialLoss,
    double FinalDataLoss, double Seconds, double Throughput, bool LossGrew);

/// <summary>
/// <c>dist-softmax train</c>: trains a two-layer network (softmax, ReLU or exp) on X → Y by full-batch gradient
/// descent or mini-batch SGD over row shards, and writes report.json, loss.png, weights.npy (W, d×m),
/// initial-weights.npy (W0) and output-weights.npy (a, m×k). It reports the tangent kernel's extreme eigenvalues at W0
/// and at the end, how far the kernel moved, and kernel regression with K0 beside the network; --lr auto (the default)
/// takes η = 1/(max(λ̂_max(K0), max_i tr K_ii / f) + 2λ). With --widths it trains softmax, ReLU and exp networks at every width and writes
/// ntk-sweep.csv and three figures instead. Every backend loads the shards through <see cref="NetworkShardLoader"/>
/// from the file names (only the description travels): local = coordinator and worker actors in this process
/// (default), inprocess = a plain loop, --seeds = a job on a running cluster whose worker nodes
/// (<c>dist-softmax worker</c>) read the files at the same paths.
/// </summary>
internal static class TrainCommand
{
    /// <summary>Most test rows both predictors are evaluated on (evenly spaced when the test set is larger).</summary>
    public const int MaxTestPoints = 2048;

    /// <summary>Largest hidden width (--width, --widths): W alone is d×m doubles, and the kernel's Jacobian rows are as long.</summary>
    public const int MaxWidth = 1 << 22;

    /// <summary>
    /// Largest --epochs (train's and diffusion's): report.json keeps a row per epoch (train's epochHistory, diffusion's
    /// loss per epoch), about 10 MB at this bound; the defaults are 100 and the README's longest study ran 400.
    /// </summary>
    public const int MaxEpochs = 100_000;

    /// <summary>What one network writes into --out-dir.</summary>
    private static readonly string[] SingleNames = ["report.json", "loss.png", "weights.npy", "initial-weights.npy", "output-weights.npy"];

    /// <summary>What the --widths sweep writes into --out-dir.</summary>
    private static readonly string[] SweepNames = ["report.json", "ntk-sweep.csv", "ntk-lambda-min.png", "ntk-movement.png", "ntk-loss.png"];

    private static OutputPlan Outputs(CliContext ctx, TrainSettings s, string[] written) =>
        PrepareOutputs(ctx, s.OutDir, written, SingleNames.Concat(SweepNames),
            [("--data", s.Data), ("--targets", s.Targets), ("--test-data", s.TestData), ("--test-targets", s.TestTargets)]);

    private static void RequireWidth(int w, string option)
    {
        if (w > MaxWidth) throw new CliInputException(option, $"{w} is too large (at most {MaxWidth})");
    }

    /// <summary>The loader of network sources over the project's file readers (.npy rows read by byte range).</summary>
    public static NetworkShardLoader FileLoader() => new(Shape, ReadRows);

    /// <summary>What a worker node loads: network sources, and the solve command's "files" and "generated" sources.</summary>
    public static IShardLoader WorkerLoader() => new CompositeShardLoader(
        new Dictionary<string, IShardLoader> { [NetworkShardLoader.Kind] = FileLoader() }, new DataShardLoader());

    public static Command Build(CliContext ctx)
    {
        var data = OptionFactory.File("--data", "Training inputs X: an n×d .npy (or .csv/.txt/.mtx) file. Required.");
        var targets = OptionFactory.File("--targets", "Training targets Y: n×k (a 1-D array is n×1). Required.");
        var width = OptionFactory.OptionalInt("--width", "Hidden width m. Required unless --widths is given.", "M");
        var widths = OptionFactory.Text("--widths", "A width sweep m1,m2,…: trains softmax, ReLU and exp networks at every width and writes " +
            "ntk-sweep.csv, ntk-lambda-min.png, ntk-movement.png and ntk-loss.png.", "", "LIST");
        var activation = OptionFactory.Choice("--activation", "The hidden-layer map.", "softmax", Activations.Names);
        var lr = OptionFactory.Text("--lr", "Learning rate η on the summed loss ½Σ‖F(W,x)−y‖², or auto: η = 1/(max(λ̂_max(K0), max_i tr K_ii / f) + 2λ) from the " +
            "tangent kernel at W0 (docs/MATH.md).", "auto", "ETA|auto");
        var epochs = OptionFactory.Int("--epochs", "Passes over the data.", 100);
        var batch = OptionFactory.Double("--batch-fraction", "Mini-batch fraction f in (0, 1]: 1 is full-batch GD, smaller is SGD with ⌈1/f⌉ batches per epoch.", 1.0, "F");
        var lambda = OptionFactory.Double("--lambda", "λ of the penalty λ‖W − W0‖².", 0.0, "L");
        var seed = OptionFactory.ULong("--seed", "Seed of W0, the output layer a and the mini-batches.", 1);
        var workers = OptionFactory.Int("--workers", "Row shards, one per worker.", 1, "K");
        var init = OptionFactory.Choice("--init", "random: a ±1 and W0 ~ N(0, s²); paired: a_{j+m/2} = −a_j with equal W0 columns, so F(W0) = 0.",
            "random", "random", "paired");
        var initScale = OptionFactory.Double("--init-scale", "Standard deviation s of W0's entries.", 1.0, "S");
        var ntkPoints = OptionFactory.Int("--ntk-points", "Most training rows the tangent-kernel Gram matrix (and the kernel regression) uses; " +
            "larger data are subsampled at evenly spaced rows.", TangentKernel.DefaultMaxPoints, "S");
        var testData = OptionFactory.File("--test-data", "Test inputs for the test losses of the network and of kernel regression (with --test-targets).");
        var testTargets = OptionFactory.File("--test-targets", "Test targets (with --test-data).");
        var outDir = OptionFactory.Text("--out-dir", "Directory for report.json, loss.png and the weights (created if needed).", "train-out", "DIR").NonEmptyPath();
        var backend = JobOptions.Backend(
            "Where shards run: local = worker actors in this process (Akka.NET local simulation); inprocess = a plain in-process loop.");
        var seeds = JobOptions.Seeds("train");
        var minWorkers = JobOptions.MinWorkers();
        var host = JobOptions.Host();
        var port = JobOptions.Port();

        var command = new Command("train",
            "Train a two-layer softmax (or ReLU, exp) network over row shards by gradient descent or mini-batch SGD, with tangent-kernel " +
            "diagnostics and a kernel-regression baseline; writes report.json, loss.png, weights.npy, initial-weights.npy, output-weights.npy.");
        command.Add(data, targets, width, widths, activation, lr, epochs, batch, lambda, seed, workers, init, initScale, ntkPoints, testData, testTargets,
            outDir, backend, seeds, minWorkers, host, port);
        command.SetAction(parse => Guard(ctx, () =>
        {
            string x = parse.GetValue(data) ?? throw new CliInputException("--data", "is required (the n×d training inputs)");
            string y = parse.GetValue(targets) ?? throw new CliInputException("--targets", "is required (the n×k training targets)");
            var sweep = ParseWidths(parse.GetValue(widths)!);
            int? single = parse.GetValue(width);
            if (sweep.Count > 0 && single is not null) throw new CliInputException("--width", "cannot be combined with --widths");
            int m = sweep.Count > 0 ? 0 : single ?? throw new CliInputException("--width", "is required (the hidden width m), or give --widths");
            double? eta = ParseLearningRate(parse.GetValue(lr)!);
            if (sweep.Count == 0) { RequirePositive(m, "--width"); RequireWidth(m, "--width"); }
            RequirePositive(parse.GetValue(workers), "--workers");
            RequirePositive(parse.GetValue(ntkPoints), "--ntk-points");
            bool paired = parse.GetValue(init) == "paired";
            foreach (int w in sweep.Count > 0 ? sweep : [m])
                if (paired && w % 2 != 0) throw new CliInputException(sweep.Count > 0 ? "--widths" : "--width", $"must be even for --init paired (got {w})");
            RequirePositive(parse.GetValue(initScale), "--init-scale");
            if (parse.GetValue(epochs) > MaxEpochs) throw new CliInputException("--epochs", $"{parse.GetValue(epochs)} is too large (at most {MaxEpochs})");
            string? tx = parse.GetValue(testData), ty = parse.GetValue(testTargets);
            if ((tx is null) != (ty is null)) throw new CliInputException(tx is null ? "--test-data" : "--test-targets", "is needed with " + (tx is null ? "--test-targets" : "--test-data"));
            // Validates the other training options now (one line, exit 2); with --lr auto η is derived later, per network.
            var training = new TrainingOptions
            {
                LearningRate = eta ?? 1.0, Epochs = parse.GetValue(epochs), BatchFraction = parse.GetValue(batch), Lambda = parse.GetValue(lambda),
                Seed = parse.GetValue(seed),
            }.Validate();
            var plan = SolveBackends.Plan(parse.GetValue(backend)!, OptionFactory.Given(parse, backend), parse.GetValue(seeds),
                parse.GetValue(minWorkers), parse.GetValue(host), parse.GetValue(port));
            var settings = new TrainSettings(ctx.Resolve(x), ctx.Resolve(y), m, Activations.Parse(parse.GetValue(activation)!), eta,
                training.Epochs, training.BatchFraction, training.Lambda, training.Seed, parse.GetValue(workers), paired, parse.GetValue(initScale),
                parse.GetValue(outDir)!, plan, sweep, parse.GetValue(ntkPoints), tx is null ? null : ctx.Resolve(tx), ty is null ? null : ctx.Resolve(ty),
                Arguments(parse));
            return sweep.Count > 0 ? RunSweep(ctx, settings, ctx.Cancellation) : Run(ctx, settings, ctx.Cancellation);
        }));
        return command;
    }

    private static List<int> ParseWidths(string text)
    {
        var widths = new List<int>();
        foreach (var item in List(text))
        {
            if (!int.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out int w) || w < 1)
            {
                if (long.TryParse(item, NumberStyles.Integer, CultureInfo.InvariantCulture, out long big) && big > MaxWidth)
                    throw new CliInputException("--widths", $"{big} is too large (at most {MaxWidth})");
                throw new CliInputException("--widths", $"'{item}' is not a width (an integer ≥ 1)");
            }
            RequireWidth(w, "--widths");
            widths.Add(w);
        }
        return widths;
    }

    /// <summary>Trains one network and writes its outputs; exit 0 when every epoch ran and the loss did not grow, 3 otherwise.</summary>
    public static int Run(CliContext ctx, TrainSettings s, CancellationToken ct = default)
    {
        var output = ctx.Out;
        // Before any work: no output over an input, and only an earlier run's files (listed by its report.json) replaced.
        var plan = Outputs(ctx, s, SingleNames);
        string outDir = plan.Directory;
        var t = TrainOne(ctx, s, s.Activation, s.Width, verbose: true, ct);
        var model = t.Model;
        var history = t.History;

        Npy.Write(Path.Combine(outDir, "weights.npy"), new DenseMatrix(model.InputDim, s.Width, t.Result.X));
        Npy.Write(Path.Combine(outDir, "initial-weights.npy"), new DenseMatrix(model.InputDim, s.Width, t.W0));
        Npy.Write(Path.Combine(outDir, "output-weights.npy"), new DenseMatrix(s.Width, model.Outputs, model.OutputWeights));
        NetworkPlots.LossCurve(Path.Combine(outDir, "loss.png"), new[] { (s.Activation.Name(), history) },
            $"{s.Activation.Name()} network, width {s.Width}, {(s.BatchFraction >= 1 ? "GD" : $"SGD f = {s.BatchFraction}")}, η = {t.LearningRate:G3}");
        RemoveStale(plan);
        ReportEnvelope.Write(Path.Combine(outDir, "report.json"), "train", s.Arguments, new
        {
            plan.Files,
            s.Data,
            s.Targets,
            s.TestData,
            s.TestTargets,
            Rows = t.Rows,
            InputDim = model.InputDim,
            Outputs = model.Outputs,
            s.Width,
            Activation = s.Activation.Name(),
            model.OutputScale,
            Init = s.Paired ? "paired" : "random",
            s.InitScale,
            t.LearningRate,
            LearningRateRule = s.LearningRate is null ? "auto: 1/(max(λ̂_max(K0), max_i tr K_ii / f) + 2λ)" : "given",
            s.Epochs,
            s.BatchFraction,
            s.Lambda,
            s.Seed,
            s.Workers,
            Backend = s.Backend.Kind,
            Ntk = t.Ntk,
            Losses = t.Losses,
            t.Result.Exit,
            t.Result.Message,
            Diverged = t.LossGrew,
            t.InitialLoss,
            FinalLoss = history.Count > 0 ? history[^1].Loss : double.NaN,
            t.FinalDataLoss,
            FinalRelativeChange = history.Count > 0 ? history[^1].RelativeChange : double.NaN,
            t.Seconds,
            SamplesWidthPerSecond = t.Throughput,
            EpochHistory = history.Select(h => new { h.Epoch, h.Loss, h.GradientNorm, h.RelativeChange, h.Seconds }),
        });
        double change = history.Count > 0 ? history[^1].RelativeChange : 0;
        output.WriteLine($"{ExitName(t.Result.Exit)}: {t.Result.Message}; ‖W−W0‖/‖W0‖ = {change:E3} " +
                         $"({(change < LazyRegimeChange ? "NTK regime: the weights barely moved" : "beyond the lazy regime")}); {t.Seconds:F1} s, {t.Throughput:G3} samples·width/s");
        output.WriteLine($"wrote {outDir}: report.json, loss.png, weights.npy, initial-weights.npy, output-weights.npy");
        WarnAboutLoss(ctx, t);
        return t.Result.Exit == ExitCondition.MaxIterations && !t.LossGrew ? ExitCodes.Ok : ExitCodes.NotConverged;
    }

    /// <summary>A final loss more than this factor above the lowest epoch's is warned about (the run's weights are the last epoch's).</summary>
    public const double LossRoseFactor = 1.1;

    /// <summary>
    /// The loss fell and then rose again (gradient descent turned unstable once the weights left the region the learning
    /// rate was chosen for: the kernel grows as they move), so the saved last-epoch weights are worse than an earlier
    /// epoch's; without a warning the run read as a plain success (QA audit: 1198 → 472 at epoch 40, then 613–669).
    /// </summary>
    private static void WarnLossRose(CliContext ctx, TrainOutcome t)
    {
        if (t.History.Count < 2) return;
        var lowest = t.History.MinBy(h => h.Loss)!;
        double final = t.History[^1].Loss;
        if (!(final > LossRoseFactor * lowest.Loss)) return;
        ctx.Err.WriteLine($"warning: {t.Activation.Name()} network of width {t.Width}: the loss rose after epoch {lowest.Epoch} " +
                          $"(lowest {lowest.Loss:G6}, final {final:G6}, {final / lowest.Loss:G3}×) and the weights written are the last epoch's; " +
                          $"training turned unstable as the weights moved (η = {t.LearningRate:G4}): lower --lr, or stop earlier (--epochs {lowest.Epoch})");
    }

    /// <summary>‖W − W0‖/‖W0‖ below which the summary line calls the run lazy (NTK regime).</summary>
    private const double LazyRegimeChange = 0.1;

    private static string ExitName(ExitCondition e) => JsonNamingPolicy.KebabCaseLower.ConvertName(e.ToString());

    /// <summary>A run's loss warning, if any: it grew past the initial loss, or else it rose again after its lowest epoch.</summary>
    private static void WarnAboutLoss(CliContext ctx, TrainOutcome t)
    {
        if (t.LossGrew) WarnLossGrew(ctx, t);
        else WarnLossRose(ctx, t);
    }

    private static void WarnLossGrew(CliContext ctx, TrainOutcome t) =>
        ctx.Err.WriteLine($"warning: {t.Activation.Name()} network of width {t.Width}: the loss grew from {t.InitialLoss:G6} to {t.FinalDataLoss:G6} " +
                          $"(η = {t.LearningRate:G4}; lower --lr or use --lr auto)");

    /// <summary>
    /// The --widths sweep: softmax, ReLU and exp networks at every width, each trained as in <see cref="Run"/>;
    /// a table on stdout, ntk-sweep.csv, ntk-lambda-min.png, ntk-movement.png, ntk-loss.png and report.json.
    /// Exit 3 (with a warning line per run) when some run diverged.
    /// </summary>
    public static int RunSweep(CliContext ctx, TrainSettings s, CancellationToken ct = default)
    {
        var output = ctx.Out;
        var plan = Outputs(ctx, s, SweepNames);
        string outDir = plan.Directory;
        output.WriteLine($"train --widths: softmax, relu and exp networks at widths {string.Join(", ", s.Widths)}; " +
                         $"η {(s.LearningRate is null ? "auto per network" : $"= {s.LearningRate:G4}")}, {s.Epochs} epochs");
        var outcomes = new List<TrainOutcome>();
        foreach (int width in s.Widths)
        {
            foreach (var activation in new[] { Activation.Softmax, Activation.Relu, Activation.Exp })
            {
                var t = TrainOne(ctx, s, activation, width, verbose: false, ct);
                outcomes.Add(t);
                output.WriteLine($"  {activation.Name(),-8} m = {width,-6} λ_min(K0) {t.Ntk.InitialLambdaMin,10:E3}  movement {t.Ntk.RelativeMovement,10:E3}  " +
                                 $"loss/row {t.Losses.NetworkTrainLoss,10:E3}  kernel {t.Losses.KernelTrainLoss,10:E3}  ({ExitName(t.Result.Exit)}{(t.LossGrew ? ", loss grew" : "")})");
                if (ct.IsCancellationRequested) break;
            }
            if (ct.IsCancellationRequested) break;   // no other width's kernel work either
        }

        var rows = outcomes.Select(t => new WidthSweepRow(t.Activation.Name(), t.Width, t.LearningRate, t.Ntk.InitialLambdaMin, t.Ntk.InitialLambdaMax,
            t.Ntk.RelativeMovement, t.History.Count > 0 ? t.History[^1].RelativeChange : double.NaN, t.InitialLoss / t.Rows, t.Losses.NetworkTrainLoss,
            t.Losses.NetworkTestLoss, t.Losses.KernelTrainLoss, t.Losses.KernelTestLoss, t.Result.Exit, t.LossGrew)).ToArray();
        output.WriteLine();
        foreach (var line in WidthSweepRow.Table(rows)) output.WriteLine("  " + line);
        AtomicFile.Write(Path.Combine(outDir, "ntk-sweep.csv"), Encoding.UTF8.GetBytes(WidthSweepRow.Csv(rows)));
        NetworkPlots.WidthSweep(outDir, rows);
        RemoveStale(plan);
        ReportEnvelope.Write(Path.Combine(outDir, "report.json"), "train", s.Arguments, new
        {
            plan.Files,
            s.Data,
            s.Targets,
            s.TestData,
            s.TestTargets,
            s.Widths,
            LearningRateRule = s.LearningRate is null ? "auto: 1/(max(λ̂_max(K0), max_i tr K_ii / f) + 2λ)" : "given",
            s.Epochs,
            s.BatchFraction,
            s.Lambda,
            s.Seed,
            s.Workers,
            Init = s.Paired ? "paired" : "random",
            s.InitScale,
            Backend = s.Backend.Kind,
            NtkPoints = outcomes.Count > 0 ? outcomes[0].Ntk.Points : 0,
            Sweep = rows,
            Runs = outcomes.Select(t => new { Activation = t.Activation.Name(), t.Width, t.LearningRate, t.Ntk, t.Losses, t.Result.Exit, t.Result.Message }),
        });
        output.WriteLine($"wrote {outDir}: report.json, ntk-sweep.csv, ntk-lambda-min.png, ntk-movement.png, ntk-loss.png");
        foreach (var t in outcomes) WarnAboutLoss(ctx, t);
        return outcomes.All(t => t.Result.Exit == ExitCondition.MaxIterations && !t.LossGrew) ? ExitCodes.Ok : ExitCodes.NotConverged;
    }

    /// <summary>
    /// Trains one network: tangent kernel K0 on at most --ntk-points rows, η (given or auto), training on the backend,
    /// the kernel at the end, kernel regression with K0, and the losses.
    /// </summary>
    private static TrainOutcome TrainOne(CliContext ctx, TrainSettings s, Activation activation, int width, bool verbose, CancellationToken ct)
    {
        var output = ctx.Out;
        var loader = FileLoader();
        var (_, inputDim) = Shape(s.Data);
        if ((long)inputDim * width > Array.MaxLength)
            throw new CliInputException(s.Widths.Count > 0 ? "--widths" : "--width",
                $"{width} × {inputDim} input features = {(long)inputDim * width} weights is too large for one matrix (at most {Array.MaxLength})");
        var source = NetworkShardLoader.Source(s.Data, s.Targets, activation, width, s.Seed, s.Paired);
        var shape = loader.Describe(source);
        var model = ((NetworkObjective)shape.Objective).Model;
        if (s.Workers > shape.Rows) throw new CliInputException("--workers", $"{s.Workers} workers for {shape.Rows} rows");
        var w0 = NetworkModel.InitialWeights(model.InputDim, width, s.Seed, s.Paired, s.InitScale);
        var (test, testY) = ReadTestSet(s, model);

        // The tangent kernel on s ≤ --ntk-points rows (the coordinator never holds the whole training set).
        var sample = TangentKernel.EvenlySpacedRows(shape.Rows, s.NtkPoints);
        int points = sample.Length, size = points * model.Outputs;
        var xs = ReadSelectedRows(s.Data, sample);
        var ys = ReadSelectedRows(s.Targets, sample);
        var k0 = TangentKernel.Gram(model, w0, xs.Data, points);
        var (min0, max0) = TangentKernel.Spectrum(k0, size);
        double trace0 = 0;
        for (int i = 0; i < size; i++) trace0 += k0[i * size + i];
        double maxFull = TangentKernel.ScaledMaxEigenvalue(max0, points, shape.Rows);
        // The row term over every row (streamed), not only the sampled ones: any row can fall into a mini-batch.
        double maxRow = points < shape.Rows ? MaxRowTangentNorm(model, w0, s.Data, shape.Rows) : TangentKernel.MaxRowTrace(k0, points, model.Outputs);
        double eta = s.LearningRate ?? TangentKernel.AutoLearningRate(maxFull, s.Lambda, maxRow, s.BatchFraction);

        if (verbose)
        {
            string backendName = s.Backend.Kind switch { "local" => "local actor simulation", "inprocess" => "in-process driver", _ => "cluster job" };
            output.WriteLine($"train: {shape.Rows} rows × {model.InputDim} features → {model.Outputs} outputs; {activation.Name()} network of width {width} " +
                             $"({model.ParameterCount} parameters); {s.Workers} worker(s), {backendName}; " +
                             $"{(s.BatchFraction >= 1 ? "full-batch GD" : $"SGD, batch fraction {s.BatchFraction}")}, " +
                             $"η = {eta:G4}{(s.LearningRate is null ? " (auto: 1/(max(λ̂_max(K0), max_i tr K_ii / f) + 2λ))" : "")}");
            output.WriteLine($"  tangent kernel K0 = J Jᵀ on {(points < shape.Rows ? $"{points} evenly spaced rows" : $"all {points} rows")}: " +
                             $"λ_min {min0:E3}, λ_max {max0:E3}, trace {trace0:E3}; λ̂_max over all rows {maxFull:E3}: η·λ̂_max = {eta * maxFull:G3} " +
                             "(GD on the linearised network is stable for η·λ_max < 2)");
            if (!(min0 > KernelRegression.RelativeCutoff * max0))
                output.WriteLine($"  K0 is singular (λ_min ≤ {KernelRegression.RelativeCutoff:G1}·λ_max): " +
                                 (size > model.ParameterCount ? $"{size} outputs but only {model.ParameterCount} parameters (widen the network)" : "numerically rank-deficient (a smooth kernel on few input features, or repeated inputs)"));
        }

        var trainer = new NetworkTrainer(new TrainingOptions
        {
            LearningRate = eta, Epochs = s.Epochs, BatchFraction = s.BatchFraction, Lambda = s.Lambda, Seed = s.Seed,
        });
        int every = Math.Max(1, s.Epochs / 20);
        var gate = new object();
        void Progress(TraceEntry e)
        {
            if (!verbose || (e.Iteration % every != 0 && e.Iteration != s.Epochs)) return;
            // SGD records the norm of each epoch's first mini-batch estimate ĝ, and the full gradient after the last epoch.
            string label = s.BatchFraction < 1 && e.Iteration != s.Epochs ? "‖ĝ‖" : "‖∇‖";
            lock (gate) output.WriteLine($"  epoch {e.Iteration,5}  loss {e.Loss,14:G8}  {label} {e.GradientNorm,11:E3}  {e.Seconds,7:F1} s");
        }
        void Note(string line) { if (verbose) lock (gate) output.WriteLine("  " + line); }

        var clock = Stopwatch.StartNew();
        var job = new SolveJob(loader, source, shape, trainer, new SolverOptions(), w0, s.Workers);
        var result = SolveBackends.For(s.Backend).SolveAsync(job, Progress, Note, ct).GetAwaiter().GetResult();
        double seconds = clock.Elapsed.TotalSeconds;
        var history = trainer.History;
        int epochsRun = Math.Max(history.Count - 1, 0);
        double throughput = epochsRun * (double)shape.Rows * width / Math.Max(seconds, 1e-9);

        // The kernel at the end, and how far it moved.
        bool finite = result.X.All(double.IsFinite);
        var kt = finite ? TangentKernel.Gram(model, result.X, xs.Data, points) : null;
        var (minT, maxT) = kt is not null && kt.All(double.IsFinite) ? TangentKernel.Spectrum(kt, size) : (double.NaN, double.NaN);
        double movement = kt is null ? double.NaN : TangentKernel.RelativeMovement(k0, kt);
        var ntk = new NtkDiagnostics(points, points < shape.Rows, min0, max0, trace0, minT, maxT, movement, maxFull);

        // Losses: the trainer's data loss (its recorded loss minus the penalty λ‖W − W0‖²) and kernel regression with K0.
        var diff = new double[w0.Length];
        SpanMath.Subtract(result.X, w0, diff);
        double initialLoss = history.Count > 0 ? history[0].Loss : double.NaN;
        double finalLoss = history.Count > 0 ? history[^1].Loss - s.Lambda * SpanMath.Dot(diff, diff) : double.NaN;
        var kernel = new KernelRegression(model, w0, xs.Data, ys.Data, points);
        // The kernel's training loss over the training rows (at most MaxTestPoints of them, evenly spaced), as the
        // network's is over all of them: on its own fitted rows it interpolates.
        var trainRows = TangentKernel.EvenlySpacedRows(shape.Rows, MaxTestPoints);
        var (trainX, trainY) = trainRows.Length == points ? (xs, ys) : (ReadSelectedRows(s.Data, trainRows), ReadSelectedRows(s.Targets, trainRows));
        double kernelTrainLoss = kernel.MeanLoss(trainX.Data, trainY.Data, trainRows.Length);
        double? networkTest = null, kernelTest = null;
        if (test is not null)
        {
            var f = new double[test.Rows * model.Outputs];
            if (finite) model.Predict(result.X, test.Data, test.Rows, f);
            networkTest = finite ? KernelRegression.MeanSquaredLoss(f, testY!.Data, test.Rows) : double.NaN;
            kernelTest = kernel.MeanLoss(test.Data, testY!.Data, test.Rows);
        }
        var losses = new LossComparison(finalLoss / shape.Rows, networkTest, points, kernelTrainLoss, kernelTest, test?.Rows ?? 0, trainRows.Length);
        if (verbose)
        {
            output.WriteLine($"  tangent kernel at the end: λ_min {minT:E3}, λ_max {maxT:E3}; ‖K(t) − K(0)‖_F/‖K(0)‖_F = {movement:E3}");
            output.WriteLine($"  loss per row (½‖f − y‖²): network train {losses.NetworkTrainLoss:E4}" +
                             (networkTest is null ? "" : $", test {networkTest:E4}") +
                             $"; kernel regression with K0 (fitted on {points} rows) train {losses.KernelTrainLoss:E4}" +
                             (trainRows.Length == shape.Rows ? "" : $" (on {trainRows.Length} of the {shape.Rows} rows)") +
                             (kernelTest is null ? "" : $", test {kernelTest:E4}") +
                             (test is null ? "" : $" ({test.Rows} test rows)"));
        }
        bool grew = !(finalLoss <= initialLoss);
        return new TrainOutcome(activation, width, model, w0, result, history, shape.Rows, eta, ntk, losses, initialLoss, finalLoss, seconds, throughput, grew);
    }

    /// <summary>At most <see cref="MaxTestPoints"/> evenly spaced test rows, checked against the network's shape; (null, null) without a test set.</summary>
    private static (DenseMatrix? X, DenseMatrix? Y) ReadTestSet(TrainSettings s, NetworkModel model)
    {
        if (s.TestData is null || s.TestTargets is null) return (null, null);
        var (n, d) = Shape(s.TestData);
        var (ny, k) = Shape(s.TestTargets);
        if (d != model.InputDim) throw new CliInputException("--test-data", $"{s.TestData} has {d} columns but the training inputs have {model.InputDim}");
        if (k != model.Outputs) throw new CliInputException("--test-targets", $"{s.TestTargets} has {k} columns but the training targets have {model.Outputs}");
        if (ny != n) throw new CliInputException("--test-targets", $"{s.TestTargets} has {ny} rows but {s.TestData} has {n}");
        if (n < 1) throw new CliInputException("--test-data", $"{s.TestData} has no rows");
        var rows = TangentKernel.EvenlySpacedRows(n, MaxTestPoints);
        return (ReadSelectedRows(s.TestData, rows), ReadSelectedRows(s.TestTargets, rows));
    }
}
