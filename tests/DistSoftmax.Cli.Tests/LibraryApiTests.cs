using DistSoftmax.Core;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// The library facade (<see cref="SoftmaxRegression"/>) on in-memory data gives the command line's answer on the same
/// data, bit for bit: the same automatic solver choice, default start, shard layout and solver.
/// </summary>
public sealed class LibraryApiTests
{
    private static double[,] TwoDimensional(Core.Linear.DenseMatrix m)
    {
        var r = new double[m.Rows, m.Cols];
        for (int i = 0; i < m.Rows; i++)
            for (int j = 0; j < m.Cols; j++) r[i, j] = m[i, j];
        return r;
    }

    [Theory]
    [InlineData(SoftmaxBackend.InProcess, "inprocess")]
    [InlineData(SoftmaxBackend.LocalSimulation, "local")]
    public async Task A_normalized_problem_from_a_2d_array_gives_the_command_lines_x(SoftmaxBackend backend, string cliBackend)
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "normalized", "--n", "2000", "--d", "10", "--out-dir", "t").Code);
        var cli = Cli.Run(dir.Path, "solve", "--A", "t/A.npy", "--b", "t/b.npy", "--backend", cliBackend, "--out-dir", "o");
        Assert.True(cli.Code == 0, cli.ToString());

        var problem = SoftmaxProblem.Create("normalized", TwoDimensional(Npy.ReadMatrix(dir.File("t/A.npy"))), Npy.ReadVector(dir.File("t/b.npy")));
        var rows = new List<TraceEntry>();
        var result = await SoftmaxRegression.SolveAsync(problem, new SoftmaxSolveOptions { Backend = backend },
            new SynchronousProgress(rows.Add));

        Assert.True(result.Converged, result.Message);
        Assert.Equal(Npy.ReadVector(dir.File("o/x.npy")), result.X);
        var report = Report.Read(dir.File("o"));
        Assert.Equal(report.GetProperty("solver").GetString(), result.Solver);
        Assert.Equal(report.GetProperty("iterations").GetInt32(), result.Iterations);
        Assert.Equal(report.GetProperty("finalLoss").GetDouble(), result.Loss);
        Assert.Equal(result.Trace.Count, rows.Count);
        Assert.StartsWith("auto:", result.SolverChoiceReason);
    }

    [Fact]
    public async Task A_rescaled_cosh_problem_from_row_major_memory_starts_where_the_command_line_does()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "rescaled", "--unit", "cosh", "--n", "1500", "--d", "8", "--out-dir", "t").Code);
        var cli = Cli.Run(dir.Path, "solve", "--problem", "rescaled", "--unit", "cosh", "--A", "t/A.npy", "--b", "t/b.npy",
            "--backend", "inprocess", "--solver", "newton", "--w-scalar", "0.01", "--seed", "7", "--out-dir", "o");
        Assert.True(cli.Code == 0, cli.ToString());

        var a = Npy.ReadMatrix(dir.File("t/A.npy"));
        var problem = SoftmaxProblem.Create("rescaled", a.Data.AsMemory(), a.Cols, Npy.ReadVector(dir.File("t/b.npy")), Unit.Cosh, weight: 0.01);
        var result = await SoftmaxRegression.SolveAsync(problem, new SoftmaxSolveOptions
        {
            Backend = SoftmaxBackend.InProcess,
            Solver = "newton",
            Settings = new SolverOptions { Seed = 7 },
        });
        Assert.Equal(Npy.ReadVector(dir.File("o/x.npy")), result.X);
        Assert.Equal(ExitCondition.Converged, result.Exit);
    }

    [Fact]
    public async Task A_multiple_softmax_problem_from_MathNet_matrices_gives_the_command_lines_X()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "multiple-normalized", "--n", "30", "--d", "3", "--out-dir", "t").Code);
        var cli = Cli.Run(dir.Path, "solve", "--problem", "multiple-normalized", "--A1", "t/A1.npy", "--A2", "t/A2.npy", "--B", "t/B.npy",
            "--backend", "inprocess", "--w-scalar", "0.1", "--out-dir", "o");
        Assert.True(cli.Code is 0 or 3, cli.ToString());

        Matrix<double> Read(string name)
        {
            var m = Npy.ReadMatrix(dir.File(name));
            return Matrix<double>.Build.Dense(m.Rows, m.Cols, (i, j) => m[i, j]);
        }
        var problem = MultipleSoftmaxProblem.Create("multiple-normalized", Read("t/A1.npy"), Read("t/A2.npy"), Read("t/B.npy"), weight: 0.1);
        var result = await SoftmaxRegression.SolveMultipleAsync(problem, new SoftmaxSolveOptions { Backend = SoftmaxBackend.InProcess });
        Assert.Equal(9, result.X.Length);
        Assert.Equal(Npy.ReadMatrix(dir.File("o/x.npy")).Data, result.X);
        Assert.Equal(Report.Read(dir.File("o")).GetProperty("solver").GetString(), result.Solver);
    }

    [Fact]
    public async Task Bad_arguments_are_parameter_exceptions_naming_the_parameter()
    {
        var a = new double[,] { { 1, 2 }, { 3, 4 }, { 5, 6 } };
        Assert.Equal("B", Assert.Throws<ParameterException>(() => SoftmaxProblem.Create("normalized", a, [0.5, 0.5])).Parameter);
        Assert.Equal("A", Assert.Throws<ParameterException>(() => SoftmaxProblem.Create("normalized", new double[,] { { double.NaN } }, [1.0])).Parameter);
        Assert.Equal("Problem", Assert.Throws<ParameterException>(() => SoftmaxProblem.Create("multiple-normalized", a, [0.2, 0.3, 0.5])).Parameter);
        Assert.Equal("Unit", Assert.Throws<ParameterException>(() => SoftmaxProblem.Create("normalized", a, [0.2, 0.3, 0.5], Unit.Cosh)).Parameter);
        var ok = SoftmaxProblem.Create("normalized", a, [0.2, 0.3, 0.5]);
        var e = await Assert.ThrowsAsync<ParameterException>(() => SoftmaxRegression.SolveAsync(ok, new SoftmaxSolveOptions { X0 = [1.0] }));
        Assert.Equal("X0", e.Parameter);
        e = await Assert.ThrowsAsync<ParameterException>(() => SoftmaxRegression.SolveAsync(ok,
            new SoftmaxSolveOptions { Backend = SoftmaxBackend.Cluster, Seeds = ["127.0.0.1:4053"] }));
        Assert.Equal("SharedDirectory", e.Parameter);
    }

    [Fact]
    public async Task Cancellation_ends_the_solve_with_exit_condition_cancelled()
    {
        var a = new double[400, 5];
        var rng = new System.Random(3);
        for (int i = 0; i < 400; i++) for (int j = 0; j < 5; j++) a[i, j] = rng.NextDouble() - 0.5;
        var b = Enumerable.Range(1, 400).Select(i => i / (400.0 * 401 / 2)).ToArray(); // not uniform: x = 0 is no solution
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var result = await SoftmaxRegression.SolveAsync(SoftmaxProblem.Create("normalized", a, b),
            new SoftmaxSolveOptions { Backend = SoftmaxBackend.InProcess }, null, cts.Token);
        Assert.Equal(ExitCondition.Cancelled, result.Exit);
    }

    /// <summary>An IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SynchronousProgress(Action<TraceEntry> report) : IProgress<TraceEntry>
    {
        public void Report(TraceEntry value)
        {
            lock (this) report(value);
        }
    }
}
