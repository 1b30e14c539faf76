using System.Globalization;
using System.Text.Json;
using DistSoftmax.Cli.Output;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// sweep: a 2×2 grid writes its table (columns, one row per solve, values that agree with each solve's report.json) and
/// its four plots; each point is exactly a solve command; a solve that does not converge makes it exit 3; bad grid values
/// exit 2 with one line before anything is written.
/// </summary>
public class SweepCommandTests
{
    private static readonly string[] Columns =
    [
        "problem", "unit", "n", "d", "density", "nnz", "tol", "epsilon", "delta", "solver", "repeat", "seed",
        "iterations", "exit", "converged", "final_loss", "final_gradient_norm", "solve_seconds", "seconds_per_iteration",
        "requests", "contraction_factor", "total_seconds", "point",
    ];

    private static readonly string[] Plots =
        ["iterations-vs-n.png", "time-per-iteration-vs-cost.png", "contraction-vs-epsilon.png", "approx-vs-exact.png"];

    /// <summary>sweep.csv as a header and rows of name → field (the table has no quoted fields here).</summary>
    private static (string[] Header, List<Dictionary<string, string>> Rows) ReadTable(string path)
    {
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Select(l => l.Split(',')).Select(f =>
        {
            Assert.Equal(header.Length, f.Length);
            return header.Zip(f).ToDictionary(p => p.First, p => p.Second);
        }).ToList();
        return (header, rows);
    }

    private static double Number(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static double Number(JsonElement e) =>
        e.ValueKind == JsonValueKind.String ? double.Parse(e.GetString()!, CultureInfo.InvariantCulture) : e.GetDouble();

    [Fact]
    public void Sweep_on_a_2x2_grid_writes_its_table_and_plots()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "sweep", "--n", "200,400", "--d", "3,5", "--solvers", "approx-newton,newton",
            "--backend", "inprocess", "--out-dir", "sw");
        Assert.True(run.Code == 0, run.ToString());
        Assert.Equal("", run.Err);
        var outLines = run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("dist-softmax sweep: 8 solves on 4 instances: n {200, 400} × d {3, 5} × dense", outLines[0]);
        // One untimed warm-up solve per solver first, on an instance of the smallest d with 4 × approx-newton's sample
        // size s = ⌈2·ε⁻²·d·ln(d/δ)⌉ = ⌈2·4·3·ln 300⌉ = 137 rows, but never more rows than the grid's smallest instance
        // (200 here); its folder is gone afterwards.
        Assert.Equal("warm-up: 2 untimed solves on a 200×3 instance (--no-warmup skips them)", outLines[1]);
        Assert.False(Directory.Exists(dir.File("sw/warmup")));
        for (int k = 1; k <= 8; k++) Assert.Single(outLines, l => l.StartsWith($"[{k}/8] ", StringComparison.Ordinal) && l.Contains(": converged, "));

        string sw = dir.File("sw");
        var (header, rows) = ReadTable(Path.Combine(sw, "sweep.csv"));
        Assert.Equal(Columns, header);
        Assert.Equal(8, rows.Count);
        var grid = rows.Select(r => (N: int.Parse(r["n"]), D: int.Parse(r["d"]), Solver: r["solver"])).Order().ToArray();
        Assert.Equal(
            from n in new[] { 200, 400 } from d in new[] { 3, 5 } from s in new[] { "approx-newton", "newton" } select (n, d, s),
            grid);
        foreach (var r in rows)
        {
            Assert.Equal("normalized", r["problem"]);
            Assert.Equal("", r["unit"]);
            Assert.Equal("1", r["density"]);
            Assert.Equal(int.Parse(r["n"]) * int.Parse(r["d"]), int.Parse(r["nnz"]));
            Assert.Equal(1e-8, Number(r["tol"]));
            // ε and δ are the sampled Hessian's: given to approx-newton, empty for exact Newton, which does not sample.
            Assert.Equal(r["solver"] == "approx-newton" ? "0.5" : "", r["epsilon"]);
            Assert.Equal(r["solver"] == "approx-newton" ? "0.01" : "", r["delta"]);
            Assert.Equal(("0", "1"), (r["repeat"], r["seed"]));
            Assert.Equal(("converged", "true"), (r["exit"], r["converged"]));

            // Every figure is the point's report.json, or derived from it as documented.
            string point = Path.Combine(sw, "points", r["point"]);
            foreach (string f in new[] { "x.npy", "report.json", "convergence.png", "solve.log" }) Assert.True(File.Exists(Path.Combine(point, f)), f);
            var report = Report.Read(point);
            Assert.Equal(r["solver"], report.GetProperty("solver").GetString());
            Assert.Equal("inprocess", report.GetProperty("backend").GetString());
            int iterations = report.GetProperty("iterations").GetInt32();
            Assert.Equal(iterations, int.Parse(r["iterations"]));
            Assert.True(iterations >= 1);
            Assert.Equal(report.GetProperty("requests").GetInt64(), long.Parse(r["requests"]));
            Assert.Equal(Number(report.GetProperty("finalLoss")), Number(r["final_loss"]));
            Assert.Equal(Number(report.GetProperty("finalGradientNorm")), Number(r["final_gradient_norm"]));
            double solveSeconds = Number(report.GetProperty("wallTime").GetProperty("solveSeconds"));
            Assert.Equal(solveSeconds, Number(r["solve_seconds"]));
            Assert.Equal(solveSeconds / iterations, Number(r["seconds_per_iteration"]), 1e-12);
            Assert.Equal(Number(report.GetProperty("wallTime").GetProperty("totalSeconds")), Number(r["total_seconds"]));
            // The contraction factor is the geometric mean of the successive gradient-norm ratios of the trace.
            var g = report.GetProperty("trace").EnumerateArray().Select(t => Number(t.GetProperty("gradientNorm"))).ToArray();
            Assert.Equal(iterations + 1, g.Length);
            double logMean = Enumerable.Range(0, iterations).Average(k => Math.Log(g[k + 1] / g[k]));
            Assert.Equal(Math.Exp(logMean), Number(r["contraction_factor"]), 1e-12);
            Assert.True(Number(r["contraction_factor"]) is > 0 and < 1);
        }
        foreach (string plot in Plots) Assert.Equal((900, 600), Png.Check(Path.Combine(sw, plot)));
    }

    [Fact]
    public void A_point_is_exactly_the_solve_command_in_its_report()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "sweep", "--n", "3000", "--d", "4", "--solvers", "approx-newton", "--epsilon", "0.3",
            "--seed", "5", "--backend", "inprocess", "--out-dir", "sw");
        Assert.True(run.Code == 0, run.ToString());
        // The warm-up: 4 × s = 4·⌈2·0.3⁻²·4·ln 400⌉ = 4·533 rows, below the grid's 3000.
        Assert.Contains("warm-up: 1 untimed solve on a 2132×4 instance (--no-warmup skips them)", run.Out);
        string point = Assert.Single(Directory.GetDirectories(dir.File("sw/points")));
        var report = Report.Read(point);
        string[] args = report.GetProperty("arguments").EnumerateArray().Select(a => a.GetString()!).ToArray();
        foreach (var (option, value) in new[] { ("--solver", "approx-newton"), ("--epsilon", "0.3"), ("--seed", "5"), ("--backend", "inprocess") })
            Assert.Equal(value, args[Array.IndexOf(args, option) + 1]);
        // The same command run as a solve gives the same x, bit for bit.
        int outDir = Array.IndexOf(args, "--out-dir");
        args[outDir + 1] = dir.File("again");
        Assert.Equal("solve", args[0]);
        var solve = Cli.Run(dir.Path, args);
        Assert.True(solve.Code == 0, solve.ToString());
        Assert.Equal(NpyBytes.Read(Path.Combine(point, "x.npy")).Values, NpyBytes.Read(dir.File("again/x.npy")).Values);
        // One solver only: no approx-newton/newton pairs, so no comparison figure, and a note saying so.
        Assert.False(File.Exists(dir.File("sw/approx-vs-exact.png")));
        Assert.Contains("note: approx-vs-exact.png not written", run.Out);
    }

    [Fact]
    public void By_default_each_point_runs_in_the_local_actor_simulation()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "sweep", "--n", "200", "--d", "3", "--solvers", "newton", "--workers", "2", "--out-dir", "sw");
        Assert.True(run.Code == 0, run.ToString());
        var report = Report.Read(Assert.Single(Directory.GetDirectories(dir.File("sw/points"))));
        Assert.Equal(("local", 2), (report.GetProperty("backend").GetString(), report.GetProperty("workers").GetInt32()));
        Assert.Single(ReadTable(dir.File("sw/sweep.csv")).Rows);
    }

    [Fact]
    public void An_auto_point_that_ran_a_solver_without_sampling_has_no_epsilon_or_delta()
    {
        // n = 200, d = 3: auto chooses exact Newton, which ignores ε and δ; the row says what ran.
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "sweep", "--n", "200", "--d", "3", "--solvers", "auto", "--backend", "inprocess", "--no-warmup", "--out-dir", "sw");
        Assert.True(run.Code == 0, run.ToString());
        var row = Assert.Single(ReadTable(dir.File("sw/sweep.csv")).Rows);
        Assert.NotEqual("approx-newton", row["solver"]);
        Assert.Equal(("", ""), (row["epsilon"], row["delta"]));
    }

    [Fact]
    public void A_solve_that_does_not_converge_makes_the_sweep_exit_3()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "sweep", "--n", "200", "--d", "3", "--solvers", "newton", "--max-iter", "1",
            "--backend", "inprocess", "--out-dir", "sw");
        Assert.True(run.Code == 3, run.ToString());
        Assert.Contains("1 of 1 solves stopped without meeting the tolerance", Assert.Single(run.ErrLines));
        var row = Assert.Single(ReadTable(dir.File("sw/sweep.csv")).Rows);
        Assert.Equal(("max-iterations", "false", "1"), (row["exit"], row["converged"], row["iterations"]));
    }

    [Fact]
    public void A_users_instance_gives_n_d_and_density_and_is_solved_once_per_repeat()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--n", "250", "--d", "4", "--sparse", "--density", "0.5", "--out-dir", "inst").Code);
        var run = Cli.Run(dir.Path, "sweep", "--A", "inst/A.mtx", "--b", "inst/b.npy", "--solvers", "newton", "--repeats", "2",
            "--seed", "7", "--backend", "inprocess", "--out-dir", "sw");
        Assert.True(run.Code == 0, run.ToString());
        var rows = ReadTable(dir.File("sw/sweep.csv")).Rows;
        Assert.Equal(new[] { ("0", "7"), ("1", "8") }, rows.Select(r => (r["repeat"], r["seed"])));
        foreach (var r in rows)
        {
            Assert.Equal(("250", "4"), (r["n"], r["d"]));
            Assert.Equal(long.Parse(r["nnz"]) / 1000.0, Number(r["density"]), 1e-15);
            Assert.True(long.Parse(r["nnz"]) < 1000);
        }
        Assert.False(Directory.Exists(dir.File("sw/instances")));

        var withN = Cli.Run(dir.Path, "sweep", "--A", "inst/A.mtx", "--b", "inst/b.npy", "--n", "100", "--out-dir", "sw2");
        Assert.Equal(2, withN.Code);
        Assert.Equal("error: --n: is not used with --A (n, d and the density come from the user's instance)", Assert.Single(withN.ErrLines));
    }

    [Fact]
    public void Seeds_where_nobody_listens_stop_the_sweep_with_exit_2_and_one_error_line()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // bound and released: nothing listens there now
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "sweep", "--n", "200,300", "--d", "3", "--seeds", $"127.0.0.1:{port}", "--seed-timeout", "2", "--out-dir", "sw");
        Assert.True(run.Code == 2, run.ToString());
        Assert.StartsWith($"error: --seeds: no seed answered within 2 s (127.0.0.1:{port}", Assert.Single(run.ErrLines));
        // The warm-up meets the unreachable cluster first; without it, the first grid point does.
        Assert.Contains("warm-up solve approx-newton: failed, the sweep stops", run.Out);
        Assert.False(File.Exists(dir.File("sw/sweep.csv")));
        run = Cli.Run(dir.Path, "sweep", "--n", "200,300", "--d", "3", "--seeds", $"127.0.0.1:{port}", "--seed-timeout", "2", "--no-warmup", "--out-dir", "sw");
        Assert.True(run.Code == 2, run.ToString());
        Assert.StartsWith($"error: --seeds: no seed answered within 2 s (127.0.0.1:{port}", Assert.Single(run.ErrLines));
        Assert.Contains("[1/4] n200-d3-dense-r0-tol1E-08-eps0.5-delta0.01-approx-newton: failed, the sweep stops", run.Out);
        Assert.Equal(Columns, ReadTable(dir.File("sw/sweep.csv")).Header);
        Assert.Empty(ReadTable(dir.File("sw/sweep.csv")).Rows);
    }

    [Fact]
    public void A_cancelled_sweep_exits_3_and_keeps_its_table_and_plots()
    {
        using var dir = new TempDir();
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(["sweep", "--n", "200", "--d", "3", "--no-warmup", "--out-dir", "sw"], new CliContext(o, e, dir.Path, cancellation: cancelled.Token));
        Assert.True(code == 3, o + "\n" + e);
        Assert.StartsWith("dist-softmax: sweep cancelled after 0 of 2 solves", e.ToString());
        Assert.Empty(ReadTable(dir.File("sw/sweep.csv")).Rows);
        foreach (string plot in Plots[..3]) Png.Check(Path.Combine(dir.File("sw"), plot));
    }

    public static TheoryData<string, string, string> BadValues() => new()
    {
        { "--n", "100,abc", "error: --n: 'abc' is not an integer" },
        { "--n", "0", "error: --n: " },
        { "--d", "5,5", "error: --d: 5 is listed twice" },
        { "--tol", "1e-8,", "error: --tol: '1e-8,' has an empty item" },
        { "--tol", "-1", "error: --tol: " },
        { "--epsilon", "1.5", "error: --epsilon: " },
        { "--delta", "0", "error: --delta: " },
        { "--density", "0", "error: --density: " },
        { "--solvers", "newton,netwon", "error: --solvers: unknown solver 'netwon'; did you mean 'newton'?" },
        { "--repeats", "0", "error: --repeats: must be at least 1 (got 0)" },
        { "--workers", "0", "error: --workers: must be at least 1 (got 0)" },
        { "--min-workers", "2", "error: --min-workers: is only used with --seeds (a cluster job)" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void Bad_grid_values_exit_2_with_one_line_and_write_nothing(string option, string value, string error)
    {
        using var dir = new TempDir();
        var grid = new Dictionary<string, string> { ["--n"] = "200", ["--d"] = "3", ["--out-dir"] = "sw" };
        grid[option] = value;
        var run = Cli.Run(dir.Path, ["sweep", .. grid.SelectMany(o => new[] { o.Key, o.Value })]);
        Assert.True(run.Code == 2, run.ToString());
        Assert.Equal("", run.Out);
        Assert.StartsWith(error, Assert.Single(run.ErrLines));
        Assert.False(Directory.Exists(dir.File("sw")));
    }

    [Fact]
    public void The_contraction_factor_is_the_geometric_mean_of_the_gradient_norm_ratios()
    {
        // ratios 0.5, 0.1, 0.2: geometric mean (0.01)^(1/3).
        Assert.Equal(Math.Pow(0.01, 1.0 / 3), SweepRow.GeometricContraction([(0, 2.0), (1, 1.0), (2, 0.1), (3, 0.02)]), 1e-15);
        Assert.True(double.IsNaN(SweepRow.GeometricContraction([(0, 2.0)])));
        Assert.True(double.IsNaN(SweepRow.GeometricContraction([(0, 2.0), (1, 0.0)])));
        Assert.True(double.IsNaN(SweepRow.GeometricContraction([(0, double.NaN), (1, 1.0)])));
    }
}
