using System.Text.Json;

namespace DistSoftmax.Cli.Tests;

/// <summary>Exit codes, starting points, warnings, hand-made input files and the report's contents.</summary>
public class SolveBehaviourTests
{
    private static string[] Backend => GenerateSolveTests.Backend;

    private static void Generate(TempDir dir, params string[] args)
    {
        var gen = Cli.Run(dir.Path, ["generate", .. args]);
        Assert.True(gen.Code == 0, gen.ToString());
    }

    [Fact]
    public void Stopping_at_the_iteration_limit_is_exit_code_3_with_the_reason_and_all_files()
    {
        using var dir = new TempDir();
        Generate(dir, "--problem", "normalized", "--n", "300", "--d", "5", "--out-dir", "inst");
        var run = Cli.Run(dir.Path, ["solve", "--A", "inst/A.npy", "--b", "inst/b.npy", "--max-iter", "1", "--out-dir", "o", .. Backend]);
        Assert.True(run.Code == 3, run.ToString());
        string reason = Assert.Single(run.ErrLines);
        Assert.StartsWith("dist-softmax: stopped without meeting the tolerance (max-iterations): reached 1 iterations with", reason);
        var report = Report.Read(dir.File("o"));
        Assert.Equal("max-iterations", report.GetProperty("exit").GetString());
        Assert.False(report.GetProperty("converged").GetBoolean());
        Assert.Equal(1, report.GetProperty("iterations").GetInt32());
        Assert.Equal(2, report.GetProperty("trace").GetArrayLength());
        Assert.StartsWith("reached 1 iterations", report.GetProperty("message").GetString());
        Assert.Equal(new long[] { 5 }, NpyBytes.Read(dir.File("o/x.npy")).Shape);
        Png.Check(dir.File("o/convergence.png"));
        Assert.Contains("max-iterations: reached 1 iterations", run.Out);
    }

    [Fact]
    public void A_solution_read_back_as_x0_is_where_the_next_solve_starts()
    {
        using var dir = new TempDir();
        Generate(dir, "--problem", "hyperbolic", "--unit", "sinh", "--n", "200", "--d", "4", "--noise", "0.05", "--out-dir", "inst");
        string[] common = ["solve", "--problem", "hyperbolic", "--unit", "sinh", "--A", "inst/A.npy", "--b", "inst/b.npy", "--tol", "0", "--abs-tol", "1e-9", .. Backend];
        var first = Cli.Run(dir.Path, [.. common, "--out-dir", "o1"]);
        Assert.True(first.Code == 0, first.ToString());
        var second = Cli.Run(dir.Path, [.. common, "--x0", "o1/x.npy", "--out-dir", "o2"]);
        Assert.True(second.Code == 0, second.ToString());

        var r1 = Report.Read(dir.File("o1"));
        var r2 = Report.Read(dir.File("o2"));
        Assert.Equal("zeros", r1.GetProperty("start").GetString());
        Assert.Equal($"file {dir.File("o1/x.npy")}; --tol is relative to ‖∇L‖ at the default start (zeros)", r2.GetProperty("start").GetString());
        Assert.Equal(dir.File("o1/x.npy"), r2.GetProperty("inputs").GetProperty("--x0").GetString());
        // Started at the first solution, which already meets the tolerance: no iteration, same point, same loss.
        Assert.Equal(0, r2.GetProperty("iterations").GetInt32());
        Assert.Equal(r1.GetProperty("finalLoss").GetDouble(), r2.GetProperty("trace")[0].GetProperty("loss").GetDouble());
        Assert.Equal(NpyBytes.Read(dir.File("o1/x.npy")).Values, NpyBytes.Read(dir.File("o2/x.npy")).Values);
        Assert.True(r1.GetProperty("iterations").GetInt32() > 0);
    }

    /// <summary>A (4×2) and x_true; b = exp(A x_true), so hyperbolic exp regression has the unique zero x_true.</summary>
    private static readonly double[,] A = { { 1.0, 0.0 }, { 0.0, 2.0 }, { 0.5, -1.0 }, { 3.0, 0.25 } };
    private static readonly double[] XTrue = [0.3, -0.2];

    private static double[] ExpAx(double[] x) =>
        Enumerable.Range(0, 4).Select(i => Math.Exp(A[i, 0] * x[0] + A[i, 1] * x[1])).ToArray();

    /// <summary>½‖exp(Ax) − b‖², computed here independently of the project.</summary>
    private static double HyperbolicLoss(double[] x, double[] b) => 0.5 * ExpAx(x).Zip(b, (u, v) => (u - v) * (u - v)).Sum();

    [Fact]
    public void Hand_written_Matrix_Market_and_npy_files_are_solved_to_the_planted_point()
    {
        using var dir = new TempDir();
        // Coordinate format, 1-based, any entry order, a comment, an explicit zero left out.
        dir.WriteText("A.mtx", "%%MatrixMarket matrix coordinate real general\n% 4x2 test matrix\n4 2 7\n4 2 0.25\n1 1 1.0\n2 2 2.0\n3 1 0.5\n3 2 -1.0\n4 1 3.0\n1 2 0\n");
        var b = ExpAx(XTrue);
        dir.Write("b.npy", NpyBytes.Vector(b));
        // The same A as a Fortran-ordered (column-major) .npy: the data lists column 0, then column 1.
        dir.Write("A_fortran.npy", NpyBytes.Build("{'descr': '<f8', 'fortran_order': True, 'shape': (4, 2), }",
            NpyBytes.F8(1.0, 0.0, 0.5, 3.0, 0.0, 2.0, -1.0, 0.25)));
        double[] x0 = [0.1, 0.1];
        dir.Write("x0.npy", NpyBytes.Vector(x0));

        foreach (string aFile in new[] { "A.mtx", "A_fortran.npy" })
        {
            string outDir = "out-" + aFile;
            var run = Cli.Run(dir.Path, ["solve", "--problem", "hyperbolic", "--A", aFile, "--b", "b.npy", "--x0", "x0.npy",
                "--solver", "newton", "--tol", "1e-12", "--out-dir", outDir, .. Backend]);
            Assert.True(run.Code == 0, run.ToString());
            var (shape, x) = NpyBytes.Read(Path.Combine(dir.Path, outDir, "x.npy"));
            Assert.Equal(new long[] { 2 }, shape);
            Assert.Equal(XTrue[0], x[0], 1e-9);
            Assert.Equal(XTrue[1], x[1], 1e-9);
            var report = Report.Read(Path.Combine(dir.Path, outDir));
            double loss0 = report.GetProperty("trace")[0].GetProperty("loss").GetDouble();
            Assert.Equal(HyperbolicLoss(x0, b), loss0, 1e-13 * loss0);
            Assert.Equal(6, report.GetProperty("sizes").GetProperty("nnz").GetInt64()); // the stored explicit zero is not counted
        }
    }

    [Fact]
    public void A_CSV_matrix_and_text_vectors_are_read_as_well()
    {
        using var dir = new TempDir();
        dir.WriteText("A.csv", "# rows of A\n1.0, 0.0\n0.0, 2.0\n0.5, -1.0\n3.0, 0.25\n");
        dir.WriteText("b.txt", string.Join("\n", ExpAx(XTrue).Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "\n");
        var run = Cli.Run(dir.Path, ["solve", "--problem", "hyperbolic", "--A", "A.csv", "--b", "b.txt", "--solver", "newton", "--tol", "1e-12", .. Backend]);
        Assert.True(run.Code == 0, run.ToString());
        var (_, x) = NpyBytes.Read(dir.File("out/x.npy"));
        Assert.Equal(XTrue[0], x[0], 1e-9);
        Assert.Equal(XTrue[1], x[1], 1e-9);
    }

    [Fact]
    public void A_normalized_target_that_is_not_a_distribution_warns_and_still_solves()
    {
        using var dir = new TempDir();
        dir.Write("A.npy", NpyBytes.Matrix(4, 2, 1.0, 0.0, 0.0, 2.0, 0.5, -1.0, 3.0, 0.25));
        dir.Write("b.npy", NpyBytes.Vector(0.5, 0.5, 0.5, -0.1));
        var run = Cli.Run(dir.Path, ["solve", "--A", "A.npy", "--b", "b.npy", "--max-iter", "50", .. Backend]);
        Assert.True(run.Code is 0 or 3, run.ToString());
        string expected = $"warning: {dir.File("b.npy")}: normalized softmax regression assumes b is a probability distribution " +
                          "(entries ≥ 0 summing to 1) but it has 1 negative entry and sums to 1.4; solving anyway";
        Assert.Equal(expected, run.ErrLines[0]);
        var report = Report.Read(dir.File("out"));
        Assert.Equal(expected["warning: ".Length..], Assert.Single(report.GetProperty("warnings").EnumerateArray()).GetString());
    }

    [Fact]
    public void The_report_holds_every_documented_field()
    {
        using var dir = new TempDir();
        Generate(dir, "--problem", "rescaled", "--unit", "exp", "--n", "100", "--d", "3", "--out-dir", "inst");
        var run = Cli.Run(dir.Path, ["solve", "--problem", "rescaled", "--unit", "exp", "--A", "inst/A.npy", "--b", "inst/b.npy",
            "--w-scalar", "0.5", "--seed", "9", "--workers", "3", "--epsilon", "0.3", "--delta", "0.05", "--hessian", "gauss-newton", .. Backend]);
        Assert.True(run.Code is 0 or 3, run.ToString());
        var r = Report.Read(dir.File("out"));
        string[] expected =
        [
            "tool", "version", "arguments", "startedAt", "problem", "unit", "demo", "source", "sizes", "inputs", "start", "solver",
            "globalization", "solverChoiceReason", "options", "seed", "backend", "workers", "cluster", "exit", "converged", "message", "iterations",
            "finalLoss", "initialGradientNorm", "finalGradientNorm", "requests", "warnings", "trace", "regime", "wallTime", "files",
        ];
        Assert.Equal(expected.Order(), r.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal("files", r.GetProperty("source").GetProperty("kind").GetString());
        // Source parameters: numbers as JSON numbers, paths and names as strings.
        var parameters = r.GetProperty("source").GetProperty("parameters");
        Assert.Equal(System.Text.Json.JsonValueKind.Number, parameters.GetProperty("w-scalar").ValueKind);
        Assert.Equal(0.5, parameters.GetProperty("w-scalar").GetDouble());
        Assert.Equal(System.Text.Json.JsonValueKind.String, parameters.GetProperty("A").ValueKind);
        Assert.Equal(9UL, r.GetProperty("seed").GetUInt64());
        Assert.Equal(3, r.GetProperty("workers").GetInt32());
        Assert.Equal("local", r.GetProperty("backend").GetString());
        var o = r.GetProperty("options");
        Assert.Equal(0.3, o.GetProperty("samplingEpsilon").GetDouble());
        Assert.Equal(0.05, o.GetProperty("samplingDelta").GetDouble());
        Assert.Equal("gauss-newton", o.GetProperty("hessian").GetString());
        Assert.Equal(1e-8, o.GetProperty("relativeTolerance").GetDouble());
        Assert.Equal(200, o.GetProperty("maxIterations").GetInt32());
        var entry = r.GetProperty("trace")[1];
        foreach (string f in new[] { "iteration", "loss", "gradientNorm", "stepLength", "rowsSampled", "seconds", "requests", "negativeCurvature" })
            Assert.True(entry.TryGetProperty(f, out _), f);
        Assert.True(entry.GetProperty("rowsSampled").GetInt64() > 0);
        var wall = r.GetProperty("wallTime");
        Assert.True(wall.GetProperty("totalSeconds").GetDouble() >= wall.GetProperty("solveSeconds").GetDouble());
        Assert.Equal(dir.File("out/x.npy"), r.GetProperty("files").GetProperty("x").GetString());
        Assert.Equal(dir.File("out/report.json"), r.GetProperty("files").GetProperty("report").GetString());
        Assert.Equal(dir.File("out/convergence.png"), r.GetProperty("files").GetProperty("plot").GetString());
        Assert.Equal(JsonValueKind.Null, r.GetProperty("cluster").ValueKind);
        Assert.Equal(["solve", "--problem", "rescaled"], r.GetProperty("arguments").EnumerateArray().Take(3).Select(e => e.GetString()!));
        // Indented camelCase JSON.
        string text = File.ReadAllText(dir.File("out/report.json"));
        Assert.Contains("\n  \"finalLoss\": ", text);
    }

    [Fact]
    public void Outputs_go_to_a_created_out_dir_and_leave_no_temporary_files()
    {
        using var dir = new TempDir();
        Generate(dir, "--problem", "hyperbolic", "--n", "100", "--d", "3", "--out-dir", "inst");
        var run = Cli.Run(dir.Path, ["solve", "--problem", "hyperbolic", "--A", "inst/A.npy", "--b", "inst/b.npy", "--out-dir", "deep/er/out", .. Backend]);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Equal(new[] { "convergence.png", "report.json", "x.npy" }, Directory.GetFileSystemEntries(dir.File("deep/er/out")).Select(Path.GetFileName).Order());
        // A second solve into the same directory replaces the files.
        var again = Cli.Run(dir.Path, ["solve", "--problem", "hyperbolic", "--A", "inst/A.npy", "--b", "inst/b.npy", "--out-dir", "deep/er/out", "--solver", "lbfgs", .. Backend]);
        Assert.True(again.Code == 0, again.ToString());
        Assert.Equal("lbfgs", Report.Read(dir.File("deep/er/out")).GetProperty("solver").GetString());
        Assert.Equal(3, Directory.GetFileSystemEntries(dir.File("deep/er/out")).Length);
    }

    [Fact]
    public void Every_command_has_help()
    {
        using var dir = new TempDir();
        foreach (var args in new[] { new[] { "--help" }, ["solve", "--help"], ["generate", "--help"], ["solve", "-h"] })
        {
            var run = Cli.Run(dir.Path, args);
            Assert.True(run.Code == 0, run.ToString());
            Assert.Contains("Usage:", run.Out);
            Assert.Equal("", run.Err);
        }
        var solveHelp = Cli.Run(dir.Path, "solve", "--help").Out;
        foreach (string option in new[] { "--problem", "--unit", "--A ", "--b ", "--A1", "--A2", "--B ", "--w ", "--w-scalar", "--solver", "--tol", "--abs-tol",
                     "--max-iter", "--workers", "--seed ", "--x0", "--out-dir", "--hessian", "--epsilon", "--delta", "--backend", "--seeds", "--min-workers",
                     "--host", "--port" })
            Assert.Contains(option, solveHelp);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void The_interactive_view_renders_a_live_table_and_the_same_files()
    {
        using var dir = new TempDir();
        Generate(dir, "--problem", "hyperbolic", "--n", "100", "--d", "3", "--out-dir", "inst");
        var o = new StringWriter();
        var e = new StringWriter();
        var ctx = new CliContext(o, e, dir.Path, interactive: true);
        int code = Program.Run(["solve", "--problem", "hyperbolic", "--A", "inst/A.npy", "--b", "inst/b.npy", .. Backend], ctx);
        Assert.True(code == 0, o + "\n" + e);
        Assert.Contains("rows sampled", o.ToString());
        Assert.Contains("converged after", o.ToString());
        Assert.True(File.Exists(dir.File("out/report.json")));
    }

    [Fact]
    public void An_unexpected_exception_is_one_line_and_exit_code_1()
    {
        var e = new StringWriter();
        int code = ErrorReport.Write(new CliContext(new StringWriter(), e), new InvalidOperationException("broken\ninvariant"), validating: false);
        Assert.Equal(1, code);
        Assert.Equal("error: internal error: InvalidOperationException: broken invariant" + Environment.NewLine, e.ToString());
        // An ArgumentException is bad input while checking the input, a bug afterwards.
        Assert.Equal(2, ErrorReport.Write(new CliContext(new StringWriter(), new StringWriter()), new ArgumentException("--tol must be ≥ 0"), validating: true));
        Assert.Equal(1, ErrorReport.Write(new CliContext(new StringWriter(), new StringWriter()), new ArgumentException("x"), validating: false));
    }

    [Fact]
    public void A_solve_cancelled_at_its_first_iteration_is_exit_code_3_and_writes_its_files()
    {
        using var dir = new TempDir();
        Generate(dir, "--problem", "hyperbolic", "--n", "100", "--d", "3", "--out-dir", "inst");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(["solve", "--problem", "hyperbolic", "--A", "inst/A.npy", "--b", "inst/b.npy", "--backend", "inprocess"],
            new CliContext(o, e, dir.Path, cancellation: cts.Token));
        Assert.True(code == 3, o + "\n" + e);
        Assert.Equal("dist-softmax: stopped without meeting the tolerance (cancelled): cancelled", e.ToString().Trim());
        var report = Report.Read(dir.File("out"));
        Assert.Equal("cancelled", report.GetProperty("exit").GetString());
        Assert.Equal(0, report.GetProperty("iterations").GetInt32());
        Png.Check(dir.File("out/convergence.png"));
    }

    [Fact]
    public void A_local_simulation_cancelled_before_it_starts_is_exit_code_3_and_writes_nothing()
    {
        using var dir = new TempDir();
        Generate(dir, "--problem", "hyperbolic", "--n", "100", "--d", "3", "--out-dir", "inst");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(["solve", "--problem", "hyperbolic", "--A", "inst/A.npy", "--b", "inst/b.npy"],
            new CliContext(o, e, dir.Path, cancellation: cts.Token));
        Assert.True(code == 3, o + "\n" + e);
        Assert.Equal("dist-softmax: cancelled before the solve started; nothing written", e.ToString().Trim());
        Assert.False(Directory.Exists(dir.File("out")));
    }
}
