namespace DistSoftmax.Cli.Tests;

/// <summary>
/// `solve --start`: a multiple-normalized solve starts at the log-linear fit by default and reaches the x a solve from
/// zeros reaches; the start's bad uses are one-line errors.
/// </summary>
public class LogLinearStartCliTests
{
    private static string[] Solve(params string[] extra) =>
        ["solve", "--problem", "multiple-normalized", "--A1", "m/A1.npy", "--A2", "m/A2.npy", "--B", "m/B.npy", "--tol", "1e-10", .. extra];

    [Fact]
    public void A_multiple_normalized_solve_starts_log_linear_by_default_and_ends_where_a_solve_from_zeros_ends()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "multiple-normalized", "--n", "80", "--d", "4", "--seed", "3", "--out-dir", "m").Code);
        var started = Cli.Run(dir.Path, Solve("--out-dir", "s"));
        var zeros = Cli.Run(dir.Path, Solve("--start", "zeros", "--out-dir", "z"));
        Assert.True(started.Code == 0, started.ToString());
        Assert.True(zeros.Code == 0, zeros.ToString());
        var (rs, rz) = (Report.Read(dir.File("s")), Report.Read(dir.File("z")));
        Assert.StartsWith("log-linear", rs.GetProperty("start").GetString());
        Assert.True(rs.GetProperty("options").GetProperty("logLinearStart").GetBoolean());
        Assert.Equal("zeros", rz.GetProperty("start").GetString());
        Assert.False(rz.GetProperty("options").GetProperty("logLinearStart").GetBoolean());
        var (_, xs) = NpyBytes.Read(dir.File("s/x.npy"));
        var (_, xz) = NpyBytes.Read(dir.File("z/x.npy"));
        double difference = Math.Sqrt(xs.Zip(xz, (a, b) => (a - b) * (a - b)).Sum() / xz.Sum(v => v * v));
        Assert.True(difference < 1e-7, $"the two solves end {difference:E2} apart (relative)");
        // The log-linear start's tolerance is measured against max(‖∇L(x₀)‖, ‖∇L(0)‖): never stricter than the zeros start's
        // (the start pass forms ∇L(0) by sgemm where it can, within ≈ 1e-7 of its norm; the fitted start's own gradient
        // is below it here).
        double zeroScale = rz.GetProperty("initialGradientNorm").GetDouble(), startScale = rs.GetProperty("initialGradientNorm").GetDouble();
        Assert.True(startScale >= zeroScale * (1 - 1e-6), $"scale {startScale} below ‖∇L(0)‖ = {zeroScale}");
    }

    [Theory]
    [InlineData(5, "warning: the log-linear start fitted 75 of 80 rows of B (the others have a zero or negative entry and took no part)")]
    [InlineData(80, "warning: the log-linear start fitted 0 of 80 rows of B (the others have a zero or negative entry and took no part); it started from zeros")]
    public void Rows_of_B_the_start_could_not_fit_are_reported(int zeroedRows, string expected)
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "multiple-normalized", "--n", "80", "--d", "4", "--seed", "3", "--out-dir", "m").Code);
        // A zero in a row (its mass moved to the next entry, so the row is still a distribution): no logarithm there.
        var (shape, b) = NpyBytes.Read(dir.File("m/B.npy"));
        int n = (int)shape[1];
        for (int j = 0; j < zeroedRows; j++) { b[j * n + 1] += b[j * n]; b[j * n] = 0; }
        File.WriteAllBytes(dir.File("m/B.npy"), NpyBytes.Matrix((int)shape[0], n, b));
        var run = Cli.Run(dir.Path, Solve("--out-dir", "s"));
        Assert.True(run.Code == 0, run.ToString());
        Assert.Contains(expected, run.Err.Split('\n').Select(l => l.Trim()));
        Assert.Contains(Report.Read(dir.File("s")).GetProperty("warnings").EnumerateArray(), w => w.GetString() == expected["warning: ".Length..]);
    }

    [Fact]
    public void A_start_that_fits_every_row_warns_of_nothing()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "multiple-normalized", "--n", "40", "--d", "3", "--seed", "5", "--out-dir", "m").Code);
        var run = Cli.Run(dir.Path, Solve("--out-dir", "s"));
        Assert.True(run.Code == 0, run.ToString());
        Assert.DoesNotContain("log-linear start fitted", run.Err);
        Assert.Empty(Report.Read(dir.File("s")).GetProperty("warnings").EnumerateArray());
    }

    [Theory]
    [InlineData(new[] { "--problem", "normalized", "--A", "v/A.npy", "--b", "v/b.npy", "--start", "log-linear" },
        "error: --start: log-linear is for multiple-normalized (its rows of B are distributions), not --problem normalized")]
    [InlineData(new[] { "--problem", "normalized", "--A", "v/A.npy", "--b", "v/b.npy", "--x0", "v/x0.npy", "--start", "zeros" },
        "error: --start: give either --x0 or --start, not both")]
    [InlineData(new[] { "--problem", "normalized", "--A", "v/A.npy", "--b", "v/b.npy", "--start", "ones" },
        "error: --start: unknown value 'ones' (allowed: auto, zeros, log-linear)")]
    public void Bad_uses_of_the_start_are_one_line_errors(string[] args, string message)
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "normalized", "--n", "30", "--d", "3", "--out-dir", "v").Code);
        File.Copy(dir.File("v/b.npy"), dir.File("v/x0.npy"));
        var run = Cli.Run(dir.Path, ["solve", .. args, "--out-dir", "o"]);
        Assert.Equal(2, run.Code);
        Assert.Equal(message, run.Err.Trim());
        Assert.False(Directory.Exists(dir.File("o")));
    }
}
