using System.Text.Json;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Random;
using DistSoftmax.Data;

namespace DistSoftmax.Cli.Tests;

/// <summary>The train and diffusion commands end to end through the dist-softmax command line.</summary>
public class NetworkCommandTests
{
    /// <summary>X (200×3) and a planted teacher target y = F(W*, x) of a paired softmax network with the same second layer.</summary>
    private static void WriteTeacherData(TempDir dir)
    {
        var model = NetworkModel.Create(Activation.Softmax, 3, 8, 1, 5, paired: true);
        var x = new DenseMatrix(200, 3);
        new Rng(6).FillNormal(x.Data, 0.5);
        var y = new double[200];
        model.Predict(NetworkModel.InitialWeights(3, 8, 7), x.Data, 200, y);
        Npy.Write(dir.File("X.npy"), x);
        Npy.Write(dir.File("Y.npy"), y);
    }

    private static readonly string[] Train =
        ["train", "--data", "X.npy", "--targets", "Y.npy", "--width", "8", "--init", "paired", "--seed", "5", "--lr", "1e-3", "--epochs", "40",
         "--batch-fraction", "0.5", "--workers", "2"];

    private static JsonElement ReadReport(string dir) => JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "report.json"))).RootElement;

    [Fact]
    public void Train_writes_weights_report_and_loss_curve_and_every_backend_trains_the_same_weights()
    {
        using var dir = new TempDir();
        WriteTeacherData(dir);
        var run = Cli.Run(dir.Path, [.. Train, "--out-dir", "local"]);
        Assert.True(run.Code == 0, run.ToString());
        foreach (var f in new[] { "report.json", "loss.png", "weights.npy", "initial-weights.npy", "output-weights.npy" })
            Assert.True(File.Exists(dir.File("local/" + f)), $"{f} missing\n{run}");
        var w = Npy.ReadMatrix(dir.File("local/weights.npy"));
        Assert.Equal((3, 8), (w.Rows, w.Cols));
        var report = ReadReport(dir.File("local"));
        var history = report.GetProperty("epoch_history").EnumerateArray().ToArray();
        Assert.Equal(41, history.Length);
        double first = history[0].GetProperty("loss").GetDouble(), last = history[^1].GetProperty("loss").GetDouble();
        Assert.True(last < 0.5 * first, $"loss {first} → {last}");
        Assert.True(history[^1].GetProperty("relative_change").GetDouble() > 0);
        Assert.Equal("local", report.GetProperty("backend").GetString());
        Assert.Equal(2, report.GetProperty("workers").GetInt32());

        var inProcess = Cli.Run(dir.Path, [.. Train, "--backend", "inprocess", "--out-dir", "inprocess"]);
        Assert.True(inProcess.Code == 0, inProcess.ToString());
        Assert.Equal(w.Data, Npy.ReadMatrix(dir.File("inprocess/weights.npy")).Data);
    }

    [Fact]
    public async Task A_worker_node_serves_a_training_job_with_the_local_simulations_weights()
    {
        using var dir = new TempDir();
        WriteTeacherData(dir);
        int port = BackendTests.FreePort();
        using var stopWorker = new CancellationTokenSource();
        var workerOut = new StringWriter();
        var workerErr = new StringWriter();
        var worker = Task.Run(() => Program.Run(["worker", "--host", "127.0.0.1", "--port", port.ToString()],
            new CliContext(TextWriter.Synchronized(workerOut), TextWriter.Synchronized(workerErr), dir.Path, cancellation: stopWorker.Token)));
        try
        {
            var run = Cli.Run(dir.Path, [.. Train, "--seeds", $"127.0.0.1:{port}", "--out-dir", "cl"]);
            Assert.True(run.Code == 0, run + "\n--- worker\n" + workerOut + workerErr);
            Assert.Equal("cluster", ReadReport(dir.File("cl")).GetProperty("backend").GetString());
            Assert.Equal(0, Cli.Run(dir.Path, [.. Train, "--out-dir", "lo"]).Code);
            Assert.Equal(Npy.ReadMatrix(dir.File("lo/weights.npy")).Data, Npy.ReadMatrix(dir.File("cl/weights.npy")).Data);
        }
        finally
        {
            stopWorker.Cancel();
        }
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    public static TheoryData<string[], string> BadTrainInput => new()
    {
        { ["train", "--data", "X.npy", "--targets", "Y.npy", "--width", "8", "--lr", "0.1", "--activation", "tanh"], "--activation: unknown value 'tanh'" },
        { ["train", "--data", "X.npy", "--targets", "Y.npy", "--width", "7", "--lr", "0.1", "--init", "paired"], "--width: must be even" },
        { ["train", "--data", "X.npy", "--targets", "Y.npy", "--width", "8"], "--lr: is required" },
        { ["train", "--data", "X.npy", "--targets", "Y.npy", "--width", "8", "--lr", "0.1", "--batch-fraction", "2"], "--batch-fraction: must be in (0, 1]" },
        { ["train", "--data", "missing.npy", "--targets", "Y.npy", "--width", "8", "--lr", "0.1"], "file not found" },
        { ["train", "--data", "X.npy", "--targets", "Y.npy", "--width", "8", "--lr", "0.1", "--port", "4000"], "--port: is only used with --seeds" },
    };

    [Theory]
    [MemberData(nameof(BadTrainInput))]
    public void Bad_train_input_is_one_line_naming_the_option_and_exit_code_2(string[] args, string expected)
    {
        using var dir = new TempDir();
        WriteTeacherData(dir);
        var run = Cli.Run(dir.Path, args);
        Assert.True(run.Code == 2, run.ToString());
        Assert.Single(run.ErrLines);
        Assert.Contains(expected, run.Err);
    }

    /// <summary>train plans its backend with the solve command's SolveBackends.Plan: the same checks, the same words.</summary>
    public static TheoryData<string[], string> TrainBackendInput => new()
    {
        { ["--seeds", "127.0.0.1:4053", "--backend", "inprocess"], "--backend: cannot be combined with --seeds" },
        { ["--seeds", "127.0.0.1:4053", "--host", " "], "--host: must not be empty" },
        { ["--seeds", "127.0.0.1:4053", "--min-workers", "0"], "--min-workers: must be at least 1 (got 0)" },
        { ["--seeds", "localhost:http"], "--seeds: 'localhost:http' is not a seed address" },
        { ["--min-workers", "2"], "--min-workers: is only used with --seeds" },
    };

    [Theory]
    [MemberData(nameof(TrainBackendInput))]
    public void Train_checks_its_backend_options_as_solve_does(string[] backendArgs, string expected)
    {
        using var dir = new TempDir();
        WriteTeacherData(dir);
        var run = Cli.Run(dir.Path, ["train", "--data", "X.npy", "--targets", "Y.npy", "--width", "8", "--lr", "0.1", .. backendArgs]);
        Assert.True(run.Code == 2, run.ToString());
        Assert.Single(run.ErrLines);
        Assert.Contains(expected, run.Err);
    }

    [Fact]
    public void Diffusion_writes_samples_errors_and_figures()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "diffusion", "--data-points", "300", "--width", "16", "--epochs", "5", "--activations", "softmax,relu",
            "--samples", "200", "--langevin-steps", "5", "--eval-points", "200", "--out-dir", "diff");
        Assert.True(run.Code == 0, run.ToString());
        foreach (var f in new[] { "report.json", "samples.npy", "diffusion.png", "score-errors.png", "loss.png", "weights-softmax.npy", "weights-relu.npy" })
            Assert.True(File.Exists(dir.File("diff/" + f)), $"{f} missing\n{run}");
        Assert.Equal(200, Npy.ReadMatrix(dir.File("diff/samples.npy")).Rows);
        var nets = ReadReport(dir.File("diff")).GetProperty("networks").EnumerateArray().ToArray();
        Assert.Equal(2, nets.Length);
        Assert.All(nets, n => Assert.Equal(8, n.GetProperty("relative_errors").GetArrayLength()));

        var bad = Cli.Run(dir.Path, "diffusion", "--width", "15");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--width", bad.Err);
    }
}
