using System.CommandLine;
using System.Text.Json;
using DistSoftmax.Cli.Commands;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Random;
using DistSoftmax.Data;

namespace DistSoftmax.Cli.Tests;

/// <summary>The train, diffusion and sensitivity commands end to end on small inputs (parsed from argument arrays).</summary>
public sealed class NetworkCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ds-net-cli-" + Guid.NewGuid().ToString("N")[..8]);

    public NetworkCommandTests() => Directory.CreateDirectory(_dir);
    public void Dispose() { try { Directory.Delete(_dir, true); } catch (IOException) { } }

    private static async Task<(int Code, string Output)> Invoke(Command command, params string[] args)
    {
        var root = new RootCommand("test") { command };
        var writer = new StringWriter();
        var saved = (Console.Out, Console.Error);
        Console.SetOut(writer);
        Console.SetError(writer);
        try { return (await root.Parse(args).InvokeAsync(), writer.ToString()); }
        finally { Console.SetOut(saved.Item1); Console.SetError(saved.Item2); }
    }

    [Fact]
    public async Task Train_writes_weights_report_and_loss_curve_and_the_loss_falls()
    {
        // A planted teacher: y = F(W*, x) of a softmax network with the same second layer.
        var model = NetworkModel.Create(Activation.Softmax, 3, 8, 1, 5, paired: true);
        var x = new DenseMatrix(200, 3);
        new Rng(6).FillNormal(x.Data, 0.5);
        var y = new double[200];
        model.Predict(NetworkModel.InitialWeights(3, 8, 7), x.Data, 200, y);
        Npy.Write(Path.Combine(_dir, "X.npy"), x);
        Npy.Write(Path.Combine(_dir, "Y.npy"), y);
        string outDir = Path.Combine(_dir, "out");
        var (code, output) = await Invoke(TrainCommand.Create(), "train", "--data", Path.Combine(_dir, "X.npy"), "--targets", Path.Combine(_dir, "Y.npy"),
            "--width", "8", "--init", "paired", "--seed", "5", "--lr", "1e-3", "--epochs", "40", "--batch-fraction", "0.5", "--workers", "2", "--out-dir", outDir);
        Assert.True(code == 0, output);
        foreach (var f in new[] { "report.json", "loss.png", "weights.npy", "initial-weights.npy", "output-weights.npy" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), $"{f} missing:\n{output}");
        Assert.Equal((3, 8), (Npy.ReadMatrix(Path.Combine(outDir, "weights.npy")).Rows, Npy.ReadMatrix(Path.Combine(outDir, "weights.npy")).Cols));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
        var history = report.RootElement.GetProperty("epoch_history").EnumerateArray().ToArray();
        Assert.Equal(41, history.Length);
        double first = history[0].GetProperty("loss").GetDouble(), last = history[^1].GetProperty("loss").GetDouble();
        Assert.True(last < 0.5 * first, $"loss {first} → {last}");
        Assert.True(history[^1].GetProperty("relative_change").GetDouble() > 0);
        Assert.Equal(2, report.RootElement.GetProperty("workers").GetInt32());
        Assert.Equal("local-actor-simulation", report.RootElement.GetProperty("driver").GetString());

        // The in-process driver trains the same weights as the actors.
        string inProcess = Path.Combine(_dir, "out-inprocess");
        (code, output) = await Invoke(TrainCommand.Create(), "train", "--data", Path.Combine(_dir, "X.npy"), "--targets", Path.Combine(_dir, "Y.npy"),
            "--width", "8", "--init", "paired", "--seed", "5", "--lr", "1e-3", "--epochs", "40", "--batch-fraction", "0.5", "--workers", "2",
            "--driver", "inprocess", "--out-dir", inProcess);
        Assert.True(code == 0, output);
        Assert.Equal(Npy.ReadMatrix(Path.Combine(outDir, "weights.npy")).Data, Npy.ReadMatrix(Path.Combine(inProcess, "weights.npy")).Data);
    }

    [Fact]
    public async Task Train_rejects_an_unknown_activation_and_an_odd_paired_width()
    {
        var (code, output) = await Invoke(TrainCommand.Create(), "train", "--data", "x.npy", "--targets", "y.npy", "--width", "8", "--lr", "0.1", "--activation", "tanh");
        Assert.NotEqual(0, code);
        Assert.Contains("tanh", output);
        (code, output) = await Invoke(TrainCommand.Create(), "train", "--data", "x.npy", "--targets", "y.npy", "--width", "7", "--lr", "0.1", "--init", "paired");
        Assert.NotEqual(0, code);
        Assert.Contains("--width must be even", output);
    }

    [Fact]
    public async Task Diffusion_writes_samples_errors_and_figures()
    {
        string outDir = Path.Combine(_dir, "diff");
        var (code, output) = await Invoke(DiffusionCommand.Create(), "diffusion", "--data-points", "300", "--width", "16", "--epochs", "5",
            "--activations", "softmax,relu", "--samples", "200", "--langevin-steps", "5", "--eval-points", "200", "--out-dir", outDir);
        Assert.True(code == 0, output);
        foreach (var f in new[] { "report.json", "samples.npy", "diffusion.png", "score-errors.png", "loss.png", "weights-softmax.npy", "weights-relu.npy" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), $"{f} missing:\n{output}");
        Assert.Equal(200, Npy.ReadMatrix(Path.Combine(outDir, "samples.npy")).Rows);
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
        var nets = report.RootElement.GetProperty("networks").EnumerateArray().ToArray();
        Assert.Equal(2, nets.Length);
        Assert.All(nets, n => Assert.Equal(8, n.GetProperty("relative_errors").GetArrayLength()));
    }

    [Fact]
    public async Task Sensitivity_reports_ratios_per_epsilon()
    {
        string outDir = Path.Combine(_dir, "sens");
        var (code, output) = await Invoke(SensitivityCommand.Create(), "sensitivity", "--n", "50", "--d", "3", "--epsilons", "1e-2,1e-3",
            "--draws", "2", "--parallel", "2", "--out-dir", outDir);
        Assert.True(code == 0, output);
        Assert.True(File.Exists(Path.Combine(outDir, "sensitivity.png")));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "report.json")));
        Assert.Equal(2, report.RootElement.GetProperty("empirical_lipschitz").GetArrayLength());
        Assert.Equal(4, report.RootElement.GetProperty("perturbations").GetArrayLength());

        string matrixDir = Path.Combine(_dir, "sens-matrix");
        (code, output) = await Invoke(SensitivityCommand.Create(), "sensitivity", "--problem", "multiple-normalized", "--n", "6", "--d", "2",
            "--perturb", "A1,B", "--epsilons", "1e-3", "--draws", "1", "--out-dir", matrixDir);
        Assert.True(code == 0, output);
        using var matrixReport = JsonDocument.Parse(File.ReadAllText(Path.Combine(matrixDir, "report.json")));
        Assert.Equal(new[] { "A1", "B" }, matrixReport.RootElement.GetProperty("perturbed").EnumerateArray().Select(e => e.GetString()));

        (code, output) = await Invoke(SensitivityCommand.Create(), "sensitivity", "--problem", "normalized", "--perturb", "A2", "--out-dir", matrixDir);
        Assert.NotEqual(0, code);
        Assert.Contains("--perturb", output);
    }
}
