using System.Text.Json;
using DistSoftmax.Cli.Commands;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// --out-dir holds the user's files too: a command replaces or removes a file there only when it is evidently the
/// tool's own from an earlier run (listed by a dist-softmax report.json / generate.json, solve's own checkpoint record,
/// a sweep's table). Any other file under an output's name is exit 2, one line naming it, and the directory is left
/// exactly as it was; an empty --out-dir is exit 2 for every command that takes one.
/// </summary>
public class OutputOwnershipTests
{
    /// <summary>Every file in <paramref name="directory"/> (recursively) with its bytes, to show a refused run touched nothing.</summary>
    private static Dictionary<string, byte[]> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(directory, f), File.ReadAllBytes);

    private static void AssertUnchanged(Dictionary<string, byte[]> before, string directory)
    {
        var after = Snapshot(directory);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (name, bytes) in before) Assert.True(bytes.AsSpan().SequenceEqual(after[name]), $"{name} changed");
    }

    /// <summary>The one error line of a refused run, naming <paramref name="path"/>.</summary>
    private static void AssertRefused(CliResult run, string path)
    {
        Assert.True(run.Code == 2, run.ToString());
        Assert.Equal($"error: --out-dir: {path} exists and was not written by dist-softmax; choose another directory or remove it",
            Assert.Single(run.ErrLines));
    }

    private static string[] Files(string directory) => Directory.GetFiles(directory).Select(Path.GetFileName).Order().ToArray()!;

    [Fact]
    public void Solve_refuses_a_directory_with_the_users_files_under_its_output_names_and_touches_none_of_them()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--n", "200", "--d", "4", "--out-dir", "g").Code);
        // QA's case: the user's own arrays under --save names, notes named report.json and checkpoint.json; no --save given.
        Directory.CreateDirectory(dir.File("ud"));
        dir.Write("ud/gradient.npy", NpyBytes.Vector(0, 1, 2, 3, 4));
        dir.Write("ud/fitted.npy", NpyBytes.Vector(0, 1, 2));
        dir.Write("ud/hessian.npy", NpyBytes.Matrix(2, 2, 1, 0, 0, 1));
        dir.WriteText("ud/report.json", "{\"my\":\"own notes\"}\n");
        dir.WriteText("ud/checkpoint.json", "my checkpoint notes\n");
        var before = Snapshot(dir.File("ud"));

        var run = Cli.Run(dir.Path, "solve", "--A", "g/A.npy", "--b", "g/b.npy", "--backend", "inprocess", "--out-dir", "ud");
        AssertRefused(run, dir.File("ud/report.json"));
        AssertUnchanged(before, dir.File("ud"));

        // Another tool's report with a "files" list is not evidence either; nor is a checkpoint.json alone.
        dir.WriteText("ud/report.json", "{\"tool\": \"other\", \"files\": {\"report\": \"report.json\", \"gradient\": \"gradient.npy\"}}");
        AssertRefused(Cli.Run(dir.Path, "solve", "--A", "g/A.npy", "--b", "g/b.npy", "--backend", "inprocess", "--out-dir", "ud"),
            dir.File("ud/report.json"));
        foreach (string name in new[] { "report.json", "gradient.npy", "fitted.npy", "hessian.npy" }) File.Delete(dir.File("ud/" + name));
        before = Snapshot(dir.File("ud"));
        AssertRefused(Cli.Run(dir.Path, "solve", "--A", "g/A.npy", "--b", "g/b.npy", "--backend", "inprocess", "--out-dir", "ud"),
            dir.File("ud/checkpoint.json"));
        AssertUnchanged(before, dir.File("ud"));
        // With --no-checkpoint the solve leaves checkpoint.json alone, so it may run beside it.
        var free = Cli.Run(dir.Path, "solve", "--A", "g/A.npy", "--b", "g/b.npy", "--backend", "inprocess", "--no-checkpoint", "--out-dir", "ud");
        Assert.True(free.Code == 0, free.ToString());
        Assert.Equal("my checkpoint notes\n", File.ReadAllText(dir.File("ud/checkpoint.json")));
    }

    [Fact]
    public void A_second_solve_replaces_the_first_ones_outputs_and_removes_its_stale_save_arrays_and_checkpoint()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--n", "200", "--d", "4", "--out-dir", "g").Code);
        string[] solve = ["solve", "--A", "g/A.npy", "--b", "g/b.npy", "--backend", "inprocess", "--out-dir", "s"];
        var first = Cli.Run(dir.Path, [.. solve, "--save", "gradient,fitted"]);
        Assert.True(first.Code == 0, first.ToString());
        Assert.Equal(["convergence.png", "fitted.npy", "gradient.npy", "report.json", "x.npy"], Files(dir.File("s")));
        // What an interrupted solve leaves: its record (written by the tool) and checkpoint.bin beside it.
        dir.WriteText("s/checkpoint.json",
            $"{{\"version\": 1, \"workingDirectory\": \"{dir.Path}\", \"arguments\": [\"--A\", \"g/A.npy\", \"--b\", \"g/b.npy\", \"--out-dir\", \"s\"]}}");
        dir.Write("s/checkpoint.bin", [1, 2, 3]);

        var second = Cli.Run(dir.Path, solve);
        Assert.True(second.Code == 0, second.ToString());
        Assert.Equal(["convergence.png", "report.json", "x.npy"], Files(dir.File("s")));
    }

    [Fact]
    public void Generate_replaces_only_an_earlier_generates_files_and_refuses_the_users()
    {
        using var dir = new TempDir();
        var first = Cli.Run(dir.Path, "generate", "--n", "50", "--d", "3", "--out-dir", "g");
        Assert.True(first.Code == 0, first.ToString());
        Assert.Equal(["A.npy", "b.npy", "generate.json", "x_true.npy"], Files(dir.File("g")));
        // The files generate lists on stdout are the data files only (the Python package loads each of them).
        Assert.DoesNotContain("generate.json", first.Out);
        // Its own files: a sparse instance replaces them, the stale dense A.npy goes.
        var sparse = Cli.Run(dir.Path, "generate", "--n", "50", "--d", "3", "--sparse", "--out-dir", "g");
        Assert.True(sparse.Code == 0, sparse.ToString());
        Assert.Equal(["A.mtx", "b.npy", "generate.json", "x_true.npy"], Files(dir.File("g")));
        // A matrix instance over a vector one, and back: the folder holds one instance, and its manifest lists only it
        // (QA audit: both stayed, and generate.json claimed all seven files under the new arguments).
        var matrix = Cli.Run(dir.Path, "generate", "--problem", "multiple-normalized", "--n", "10", "--d", "3", "--out-dir", "m");
        Assert.True(Cli.Run(dir.Path, "generate", "--n", "10", "--d", "3", "--out-dir", "m").Code == 0);
        matrix = Cli.Run(dir.Path, "generate", "--problem", "multiple-normalized", "--n", "10", "--d", "3", "--out-dir", "m");
        Assert.True(matrix.Code == 0, matrix.ToString());
        Assert.Equal(["A1.npy", "A2.npy", "B.npy", "X_true.npy", "generate.json"], Files(dir.File("m")));
        var listed = JsonDocument.Parse(File.ReadAllText(dir.File("m/generate.json"))).RootElement.GetProperty("files")
            .EnumerateArray().Select(f => Path.GetFileName(f.GetString()!)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["A1.npy", "A2.npy", "B.npy", "X_true.npy", "generate.json"], listed);
        Assert.True(Cli.Run(dir.Path, "generate", "--n", "10", "--d", "3", "--planted", "--out-dir", "m").Code == 0);
        Assert.Equal(["A.npy", "b.npy", "generate.json", "x_true.npy"], Files(dir.File("m")));

        // The user's A.npy, beside no manifest or beside one that does not list it: refused, nothing touched.
        Directory.CreateDirectory(dir.File("u"));
        dir.Write("u/A.npy", NpyBytes.Matrix(1, 2, 5, 6));
        var before = Snapshot(dir.File("u"));
        AssertRefused(Cli.Run(dir.Path, "generate", "--n", "50", "--d", "3", "--out-dir", "u"), dir.File("u/A.npy"));
        AssertUnchanged(before, dir.File("u"));
        File.Copy(dir.File("g/A.mtx"), dir.File("g/A.npy"));   // the user's file in the generated folder
        before = Snapshot(dir.File("g"));
        AssertRefused(Cli.Run(dir.Path, "generate", "--n", "50", "--d", "3", "--sparse", "--out-dir", "g"), dir.File("g/A.npy"));
        AssertUnchanged(before, dir.File("g"));
    }

    [Fact]
    public void Sweep_refuses_the_users_table_and_replaces_its_own()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("sw"));
        dir.WriteText("sw/sweep.csv", "my,own\n1,2\n");
        var before = Snapshot(dir.File("sw"));
        string[] sweep = ["sweep", "--n", "200", "--d", "3", "--solvers", "newton", "--backend", "inprocess", "--no-warmup", "--out-dir", "sw"];
        AssertRefused(Cli.Run(dir.Path, sweep), dir.File("sw/sweep.csv"));
        AssertUnchanged(before, dir.File("sw"));

        File.Delete(dir.File("sw/sweep.csv"));
        var first = Cli.Run(dir.Path, sweep);
        Assert.True(first.Code == 0, first.ToString());
        var second = Cli.Run(dir.Path, sweep);
        Assert.True(second.Code == 0, second.ToString());
        Assert.StartsWith("problem,unit,n,", File.ReadAllText(dir.File("sw/sweep.csv")));

        // Another grid into the same folder: the earlier grid's point and instance folders go with its table (QA audit:
        // they stayed beside a table that no longer listed them); a folder holding a file of the user's stays with it.
        string[] Folders(string sub) => Directory.GetDirectories(dir.File("sw/" + sub)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        var earlierPoints = Folders("points");
        dir.WriteText($"sw/points/{earlierPoints[0]}/my-notes.txt", "mine");
        var other = Cli.Run(dir.Path, ["sweep", "--n", "150", "--d", "3", "--solvers", "newton", "--backend", "inprocess", "--no-warmup", "--out-dir", "sw"]);
        Assert.True(other.Code == 0, other.ToString());
        Assert.Contains("removed 1 folder of an earlier sweep's", other.Out);
        Assert.All(Folders("instances"), f => Assert.StartsWith("n150-", f));
        Assert.Equal([earlierPoints[0]], Folders("points").Where(f => !f.StartsWith("n150-", StringComparison.Ordinal)).ToArray());
        Assert.Equal(["my-notes.txt"], Directory.GetFiles(dir.File($"sw/points/{earlierPoints[0]}")).Select(f => Path.GetFileName(f)!).ToArray());
    }

    [Fact]
    public void Sensitivity_refuses_the_users_x_and_replaces_its_own_outputs()
    {
        using var dir = new TempDir();
        string[] sensitivity = ["sensitivity", "--n", "40", "--d", "3", "--draws", "2", "--epsilons", "1e-3", "--worst-epsilons", "1e-4",
            "--backend", "inprocess", "--out-dir", "sens"];
        Directory.CreateDirectory(dir.File("sens"));
        dir.Write("sens/x.npy", NpyBytes.Vector(7, 8, 9));
        var before = Snapshot(dir.File("sens"));
        AssertRefused(Cli.Run(dir.Path, sensitivity), dir.File("sens/x.npy"));
        AssertUnchanged(before, dir.File("sens"));

        File.Delete(dir.File("sens/x.npy"));
        var first = Cli.Run(dir.Path, sensitivity);
        Assert.True(first.Code == 0, first.ToString());
        var second = Cli.Run(dir.Path, sensitivity);
        Assert.True(second.Code == 0, second.ToString());
        Assert.Contains(dir.File("sens/x.npy"), Report.Read(dir.File("sens")).GetProperty("files").EnumerateArray().Select(f => f.GetString()));
    }

    [Theory]
    [InlineData("solve", "")]
    [InlineData("solve", "  ")]
    [InlineData("generate", "")]
    [InlineData("sweep", "")]
    [InlineData("sensitivity", "")]
    [InlineData("train", " ")]
    [InlineData("diffusion", "")]
    public void An_empty_out_dir_is_bad_input_not_the_working_directory(string command, string value)
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, command, "--out-dir", value);
        Assert.True(run.Code == 2, run.ToString());
        Assert.StartsWith("error: --out-dir: empty path", Assert.Single(run.ErrLines));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData("solve", "--A", "")]
    [InlineData("solve", "--x0", " ")]
    [InlineData("sensitivity", "--B", "")]
    public void An_empty_input_path_is_bad_input_naming_its_option_not_the_working_directory(string command, string option, string value)
    {
        // "" resolved against the working directory named the directory: "…: is a directory, not a file".
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, command, option, value);
        Assert.True(run.Code == 2, run.ToString());
        Assert.Equal($"error: {option}: empty path (give a file)", Assert.Single(run.ErrLines));
    }

    private static readonly string[] FastDiffusion =
        ["diffusion", "--data-points", "60", "--width", "4", "--epochs", "1", "--activations", "softmax", "--eval-points", "20", "--eval-times", "2",
         "--samples", "10", "--sampler-steps", "5", "--copies", "1"];

    private static string[] TrainArgs(string data, string targets, string outDir, params string[] extra) =>
        ["train", "--data", data, "--targets", targets, "--width", "4", "--epochs", "2", "--ntk-points", "20", "--backend", "inprocess", "--out-dir", outDir, .. extra];

    [Fact]
    public void Train_never_overwrites_its_input_or_the_users_files_and_replaces_its_own_earlier_run()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "hyperbolic", "--unit", "sinh", "--n", "60", "--d", "3", "--out-dir", "g").Code);
        // QA's case: the input under an output's name in --out-dir, a user's file named report.json beside it.
        Directory.CreateDirectory(dir.File("trin"));
        File.Copy(dir.File("g/A.npy"), dir.File("trin/weights.npy"));
        File.Copy(dir.File("g/b.npy"), dir.File("trin/report.json"));
        var before = Snapshot(dir.File("trin"));
        var run = Cli.Run(dir.Path, TrainArgs("trin/weights.npy", "g/b.npy", "trin"));
        Assert.True(run.Code == 2, run.ToString());
        Assert.Equal($"error: --out-dir: writing {dir.File("trin/weights.npy")} would overwrite the input file given by --data; choose another --out-dir",
            Assert.Single(run.ErrLines));
        AssertUnchanged(before, dir.File("trin"));

        // A plain user file under an output's name: refused, nothing touched (the sweep's names too).
        Directory.CreateDirectory(dir.File("ud"));
        dir.WriteText("ud/weights.npy", "mine\n");
        before = Snapshot(dir.File("ud"));
        AssertRefused(Cli.Run(dir.Path, TrainArgs("g/A.npy", "g/b.npy", "ud")), dir.File("ud/weights.npy"));
        AssertUnchanged(before, dir.File("ud"));
        File.Delete(dir.File("ud/weights.npy"));
        dir.WriteText("ud/ntk-sweep.csv", "mine\n");
        before = Snapshot(dir.File("ud"));
        AssertRefused(Cli.Run(dir.Path, ["train", "--data", "g/A.npy", "--targets", "g/b.npy", "--widths", "2,4", "--epochs", "1", "--ntk-points", "10",
            "--backend", "inprocess", "--out-dir", "ud"]), dir.File("ud/ntk-sweep.csv"));
        AssertUnchanged(before, dir.File("ud"));

        // Its own run: report "files" lists every file written; a second run replaces them; a sweep run removes the single run's files.
        var first = Cli.Run(dir.Path, TrainArgs("g/A.npy", "g/b.npy", "own"));
        Assert.True(first.Code is 0 or 3, first.ToString());
        string[] single = ["initial-weights.npy", "loss.png", "output-weights.npy", "report.json", "weights.npy"];
        Assert.Equal(single, Files(dir.File("own")));
        using (var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(dir.File("own/report.json"))))
            Assert.Equal(single, report.RootElement.GetProperty("files").EnumerateArray().Select(f => Path.GetFileName(f.GetString()!)).Order().ToArray());
        var second = Cli.Run(dir.Path, TrainArgs("g/A.npy", "g/b.npy", "own", "--seed", "9"));
        Assert.True(second.Code is 0 or 3, second.ToString());
        Assert.Equal(single, Files(dir.File("own")));
        var sweep = Cli.Run(dir.Path, ["train", "--data", "g/A.npy", "--targets", "g/b.npy", "--widths", "2,4", "--epochs", "1", "--ntk-points", "10",
            "--backend", "inprocess", "--out-dir", "own"]);
        Assert.True(sweep.Code is 0 or 3, sweep.ToString());
        Assert.Equal(["ntk-lambda-min.png", "ntk-loss.png", "ntk-movement.png", "ntk-sweep.csv", "report.json"], Files(dir.File("own")));
    }

    [Theory]
    [InlineData("--width", "2000000000")]
    [InlineData("--widths", "2000000000")]
    [InlineData("--widths", "4,99999999999")]
    public void Train_refuses_an_oversize_width_naming_the_option(string option, string value)
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "hyperbolic", "--unit", "sinh", "--n", "20", "--d", "3", "--out-dir", "g").Code);
        var run = Cli.Run(dir.Path, "train", "--data", "g/A.npy", "--targets", "g/b.npy", option, value, "--epochs", "1", "--out-dir", "o");
        Assert.True(run.Code == 2, run.ToString());
        Assert.StartsWith($"error: {option}: ", Assert.Single(run.ErrLines));
        Assert.Contains("is too large", run.ErrLines[0]);
        Assert.False(Directory.Exists(dir.File("o")));
    }

    [Fact]
    public void Diffusion_never_overwrites_samples_in_or_the_users_files_and_replaces_its_own_earlier_run()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("d"));
        var rows = Enumerable.Range(0, 40).SelectMany(i => new[] { Math.Sin(i), Math.Cos(i * 0.7) }).ToArray();
        dir.Write("d/samples.npy", NpyBytes.Matrix(40, 2, rows));
        var before = Snapshot(dir.File("d"));
        var run = Cli.Run(dir.Path, [.. FastDiffusion, "--samples-in", "d/samples.npy", "--out-dir", "d"]);
        Assert.True(run.Code == 2, run.ToString());
        Assert.Equal($"error: --out-dir: writing {dir.File("d/samples.npy")} would overwrite the input file given by --samples-in; choose another --out-dir",
            Assert.Single(run.ErrLines));
        AssertUnchanged(before, dir.File("d"));

        dir.WriteText("d/report.json", "{\"my\": \"notes\"}");
        before = Snapshot(dir.File("d"));
        AssertRefused(Cli.Run(dir.Path, [.. FastDiffusion, "--out-dir", "d"]), dir.File("d/report.json"));
        AssertUnchanged(before, dir.File("d"));

        // Its own run lists its files; a study into the same directory removes the run's files; a run after it replaces them.
        Assert.Equal(0, Cli.Run(dir.Path, [.. FastDiffusion, "--out-dir", "own"]).Code);
        string[] runFiles = ["diffusion.png", "loss.png", "report.json", "samples.npy", "score-errors.png", "weights-softmax.npy"];
        Assert.Equal(runFiles, Files(dir.File("own")));
        using (var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(dir.File("own/report.json"))))
            Assert.Equal(runFiles, report.RootElement.GetProperty("files").EnumerateArray().Select(f => Path.GetFileName(f.GetString()!)).Order().ToArray());
        Assert.Equal(0, Cli.Run(dir.Path, [.. FastDiffusion, "--out-dir", "own", "--seed", "3"]).Code);
        Assert.Equal(runFiles, Files(dir.File("own")));
        Assert.Equal(0, Cli.Run(dir.Path, [.. FastDiffusion, "--out-dir", "own", "--study-widths", "2"]).Code);
        Assert.Equal(["report.json", "study-width.png", "study.csv"], Files(dir.File("own")));
    }

    /// <summary>Too few --samples-in rows to train on once the held-out share is off: the error names --samples-in (it
    /// named --data-points, which the run does not use), and nothing is written.</summary>
    [Fact]
    public void Diffusion_with_too_few_user_samples_names_samples_in()
    {
        using var dir = new TempDir();
        dir.Write("one.npy", NpyBytes.Matrix(1, 2, 0.3, -0.2));
        var run = Cli.Run(dir.Path, "diffusion", "--samples-in", "one.npy", "--out-dir", "o");
        Assert.True(run.Code == 2, run.ToString());
        Assert.StartsWith($"error: --samples-in: {dir.File("one.npy")} has 1 rows: at least 2 must remain for training", Assert.Single(run.ErrLines));
        Assert.False(Directory.Exists(dir.File("o")));
    }

    [Theory]
    [InlineData("--data-points")]
    [InlineData("--copies")]
    [InlineData("--width")]
    [InlineData("--samples")]
    [InlineData("--eval-points")]
    [InlineData("--epochs")]
    [InlineData("--sampler-steps")]
    public void Diffusion_refuses_an_oversize_count_naming_the_option(string option)
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "diffusion", option, "2000000000", "--out-dir", "o");
        Assert.True(run.Code == 2, run.ToString());
        Assert.StartsWith($"error: {option}: 2000000000 is too large (at most ", Assert.Single(run.ErrLines));
        Assert.False(Directory.Exists(dir.File("o")));
    }

    /// <summary>The iteration counts that had no bound (a huge value ran for hours) have a named one, stated in one line.</summary>
    [Fact]
    public void Epochs_sampler_steps_and_draws_have_named_maximums()
    {
        using var dir = new TempDir();
        var cases = new (string[] Args, string Expected)[]
        {
            (["diffusion", "--epochs", $"{TrainCommand.MaxEpochs + 1}", "--out-dir", "o"], $"error: --epochs: {TrainCommand.MaxEpochs + 1} is too large (at most {TrainCommand.MaxEpochs})"),
            (["diffusion", "--sampler-steps", $"{DiffusionCommand.MaxSamplerSteps + 1}", "--out-dir", "o"],
                $"error: --sampler-steps: {DiffusionCommand.MaxSamplerSteps + 1} is too large (at most {DiffusionCommand.MaxSamplerSteps})"),
            (["train", "--data", "X.npy", "--targets", "Y.npy", "--width", "8", "--epochs", $"{TrainCommand.MaxEpochs + 1}", "--out-dir", "o"],
                $"error: --epochs: {TrainCommand.MaxEpochs + 1} is too large (at most {TrainCommand.MaxEpochs})"),
            (["sensitivity", "--n", "50", "--d", "3", "--draws", $"{SensitivityCommand.MaxDraws + 1}", "--out-dir", "o"],
                $"error: --draws: {SensitivityCommand.MaxDraws + 1} is too large (at most {SensitivityCommand.MaxDraws})"),
        };
        foreach (var (args, expected) in cases)
        {
            var run = Cli.Run(dir.Path, args);
            Assert.True(run.Code == 2, $"{string.Join(' ', args)}: {run}");
            Assert.Equal([expected], run.ErrLines);
            Assert.False(Directory.Exists(dir.File("o")));
        }
        Assert.Equal((100_000, 100_000, 1000), (TrainCommand.MaxEpochs, DiffusionCommand.MaxSamplerSteps, SensitivityCommand.MaxDraws)); // as the README states
    }
}
