using System.Text.Json;
using DistSoftmax.Core.Linear;
using DistSoftmax.Data;

namespace DistSoftmax.Cli.Tests;

/// <summary>The sensitivity command end to end: solve's inputs, the lipschitz section, the worst direction, bad input.</summary>
public class SensitivityCommandTests
{
    private static JsonElement ReadReport(string dir) => JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "report.json"))).RootElement;

    [Fact]
    public void Vector_files_give_the_worst_case_its_direction_and_finite_difference_confirmation()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--n", "40", "--d", "3", "--out-dir", "inst").Code);
        var run = Cli.Run(dir.Path, "sensitivity", "--A", "inst/A.npy", "--b", "inst/b.npy", "--draws", "2", "--epsilons", "1e-4",
            "--backend", "inprocess", "--out-dir", "sens");
        Assert.True(run.Code == 0, run.ToString());
        var report = ReadReport(dir.File("sens"));
        Assert.Equal("dist-softmax", report.GetProperty("tool").GetString());
        Assert.Equal("sensitivity", report.GetProperty("command").GetString());
        Assert.False(string.IsNullOrEmpty(report.GetProperty("version").GetString()));
        Assert.Equal("--A", report.GetProperty("arguments")[1].GetString());
        Assert.Equal("no regulariser", report.GetProperty("regularizer").GetString());
        Assert.Equal("converged", report.GetProperty("baseSolve").GetProperty("exit").GetString());

        var lipschitz = report.GetProperty("lipschitz");
        double worst = lipschitz.GetProperty("worstCase").GetDouble();
        var random = lipschitz.GetProperty("randomDirections");
        Assert.Equal(2, random.GetProperty("perturbations").GetArrayLength());
        Assert.All(random.GetProperty("perturbations").EnumerateArray(), p => Assert.True(p.GetProperty("solutionRatio").GetDouble() <= worst * (1 + 1e-3)));
        var fd = lipschitz.GetProperty("finiteDifference").EnumerateArray().ToArray();
        Assert.Equal(new[] { 1e-3, 1e-4, 1e-5 }, fd.Select(c => c.GetProperty("epsilon").GetDouble()));
        Assert.True(fd[^1].GetProperty("relativeDifference").GetDouble() < 1e-3, fd[^1].ToString());
        var fixedX = lipschitz.GetProperty("fixedX");
        foreach (var name in new[] { "output", "loss", "gradient" }) Assert.True(fixedX.GetProperty(name).GetProperty("value").GetDouble() > 0, name);
        Assert.Equal("closed-form", fixedX.GetProperty("loss").GetProperty("method").GetString());

        // The worst direction: A's shape, unit Frobenius norm.
        var delta = (DenseMatrix)MatrixFile.ReadMatrix(dir.File("sens/worst-direction.npy"));
        Assert.Equal((40, 3), (delta.Rows, delta.Cols));
        Assert.Equal(1.0, Math.Sqrt(delta.Data.Sum(v => v * v)), 1e-12);
        Assert.Equal(3, MatrixFile.ReadVector(dir.File("sens/x.npy")).Length);
    }

    [Fact]
    public void Generated_instances_take_the_regulariser_by_solves_name_and_the_local_backend_matches_inprocess()
    {
        using var dir = new TempDir();
        string[] common = ["sensitivity", "--n", "50", "--d", "3", "--w-scalar", "0.1", "--epsilons", "1e-3", "--worst-epsilons", "1e-4", "--draws", "2"];
        var local = Cli.Run(dir.Path, [.. common, "--out-dir", "local"]);
        Assert.True(local.Code == 0, local.ToString());
        var inproc = Cli.Run(dir.Path, [.. common, "--backend", "inprocess", "--out-dir", "inproc"]);
        Assert.True(inproc.Code == 0, inproc.ToString());
        var (a, b) = (ReadReport(dir.File("local")), ReadReport(dir.File("inproc")));
        Assert.StartsWith("local simulation", a.GetProperty("execution").GetString());
        Assert.StartsWith("in-process", b.GetProperty("execution").GetString());
        Assert.Equal(a.GetProperty("lipschitz").GetProperty("randomDirections").ToString(), b.GetProperty("lipschitz").GetProperty("randomDirections").ToString());
        // The source's numbers are JSON numbers.
        var parameters = a.GetProperty("source").GetProperty("parameters");
        Assert.Equal(JsonValueKind.Number, parameters.GetProperty("n").ValueKind);
        Assert.Equal(0.1, parameters.GetProperty("w-scalar").GetDouble());
        Assert.Equal("w = 0.1 on every row", a.GetProperty("regularizer").GetString());
    }

    [Fact]
    public void Matrix_problems_perturb_the_named_matrices_and_write_one_direction_file_each()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "multiple-normalized", "--n", "6", "--d", "2", "--out-dir", "inst").Code);
        var run = Cli.Run(dir.Path, "sensitivity", "--problem", "multiple-normalized", "--instance", "inst", "--perturb", "A1,B",
            "--epsilons", "1e-4", "--draws", "1", "--out-dir", "sens");
        Assert.True(run.Code == 0, run.ToString());
        var report = ReadReport(dir.File("sens"));
        Assert.Equal(new[] { "A1", "B" }, report.GetProperty("perturbed").EnumerateArray().Select(e => e.GetString()));
        var a1 = (DenseMatrix)MatrixFile.ReadMatrix(dir.File("sens/worst-direction-A1.npy"));
        var b = (DenseMatrix)MatrixFile.ReadMatrix(dir.File("sens/worst-direction-B.npy"));
        Assert.Equal((6, 2, 6, 6), (a1.Rows, a1.Cols, b.Rows, b.Cols));
        Assert.Equal(1.0, Math.Sqrt(a1.Data.Concat(b.Data).Sum(v => v * v)), 1e-12);
        Assert.True(report.GetProperty("lipschitz").GetProperty("worstCase").GetDouble() > 0);
    }

    [Fact]
    public void A_Hessian_solve_that_does_not_converge_is_one_named_line_and_exit_5()
    {
        // CG limited to 10 steps on H = diag(λ), λ log-spaced over [1e-2, 1] (dim 200): it cannot reach 1e-10.
        int dim = 200;
        var lambda = Enumerable.Range(0, dim).Select(i => Math.Pow(10, -2 + 2.0 * i / (dim - 1))).ToArray();
        var solve = new Core.Sensitivity.ConjugateGradientHessianSolve(v => v.Select((e, i) => lambda[i] * e).ToArray(), dim, null, maxIterations: 10);
        var failure = Assert.Throws<Core.Sensitivity.HessianSolveNotConvergedException>(() => solve.Solve(Enumerable.Repeat(1.0, dim).ToArray()));
        var err = new StringWriter();
        int code = ErrorReport.Write(new CliContext(new StringWriter(), err), failure, validating: false);
        Assert.Equal(5, code);
        Assert.Equal(ExitCodes.NumericalFailure, code);
        string line = err.ToString();
        Assert.Single(line.Trim().Split('\n'));
        Assert.StartsWith("error: conjugate gradients on the Hessian at x* did not converge: relative residual ", line);
        Assert.Contains("after 10 steps", line);
        Assert.Contains("nothing written", line);
        Assert.DoesNotContain("internal error", line);
    }

    [Theory]
    [InlineData("--n 50 --d 3 --shards 2", "--shards: backend local runs every re-solve whole on one worker")]
    // An option of the other backend is refused, not ignored (--workers was silently dropped with --backend inprocess).
    [InlineData("--n 50 --d 3 --backend inprocess --workers 3",
        "error: --workers: applies only to --backend local (worker actors); backend inprocess runs the re-solves in a parallel loop: use --parallel for the solves run at once")]
    [InlineData("--n 50 --d 3 --parallel 2", "error: --parallel: applies only to --backend inprocess; backend local runs the re-solves on --workers worker actors")]
    [InlineData("--n 50 --d 3 --backend local --parallel 2", "error: --parallel: applies only to --backend inprocess")]
    [InlineData("--problem normalized --perturb A2", "--perturb: vector problems perturb A only")]
    [InlineData("--problem multiple-normalized --perturb C --n 4 --d 2", "--perturb: unknown matrix 'C'")]
    [InlineData("--problem multiple-normalized --perturb A1,A1 --n 4 --d 2", "--perturb: A1 is listed twice")]
    [InlineData("--problem multiple-normalized --perturb , --n 4 --d 2", "--perturb: names no matrix")]
    [InlineData("--n 50 --d 3 --worst-steps 0", "--worst-steps: must be at least 1")]
    [InlineData("--n 50 --d 3 --worst-epsilons 1e-3,0.001", "--worst-epsilons: 0.001 is listed twice")]
    [InlineData("--A missing.npy", "--b: is required with --A")]
    [InlineData("--worst-epsilons 1e-3,x", "--worst-epsilons: 'x' is not a number")]
    [InlineData("--w-scalar 0.1 --w w.npy", "--w-scalar: cannot be combined with --w")]
    [InlineData("--reg 0.1", "--reg")]
    [InlineData("--n 3 --d 5", "the Hessian at x* is singular")]
    [InlineData("--A a.npy --b b.npy --n 20", "--n: describes a generated instance, but data files were given")]
    public void Bad_input_is_one_line_and_exit_2(string arguments, string message)
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, ["sensitivity", .. arguments.Split(' ')]);
        Assert.True(run.Code == 2, run.ToString());
        Assert.Contains(message, run.Err);
        Assert.Single(run.Err.Trim().Split('\n'));
    }
}
