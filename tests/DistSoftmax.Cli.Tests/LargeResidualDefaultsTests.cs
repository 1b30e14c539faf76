namespace DistSoftmax.Cli.Tests;

/// <summary>
/// The reproduction of issue "Solvers that converge by default": a normalized instance (b a noisy softmax) solved as
/// rescaled or hyperbolic regression has no exact zero, so the residual stays large and the Gauss–Newton model is
/// poor. With the old default curvature every step was cut back (t ≈ 0.06) and the solve ran 200 iterations to exit 3;
/// with defaults each Newton-type solver must now converge, in both globalisations.
/// </summary>
public class LargeResidualDefaultsTests
{
    [Theory]
    [InlineData("rescaled", "exp")]
    [InlineData("rescaled", "cosh")]
    [InlineData("hyperbolic", "cosh")]
    public void Every_Newton_type_solver_converges_with_defaults_on_a_problem_without_an_exact_solution(string problem, string unit)
    {
        using var dir = new TempDir();
        var gen = Cli.Run(dir.Path, ["generate", "--problem", "normalized", "--n", "5000", "--d", "30", "--out-dir", "r"]);
        Assert.True(gen.Code == 0, gen.ToString());
        foreach (var solver in new[] { "approx-newton", "newton", "newton-cg" })
            foreach (var globalization in new[] { "auto", "trust-region" })
            {
                var run = Cli.Run(dir.Path, ["solve", "--problem", problem, "--unit", unit, "--A", "r/A.npy", "--b", "r/b.npy",
                    "--solver", solver, "--globalization", globalization, "--out-dir", "o", .. GenerateSolveTests.Backend]);
                Assert.True(run.Code == 0, $"{problem} {unit} {solver} {globalization}: {run}");
                var report = Report.Read(dir.File("o"));
                Assert.Equal("converged", report.GetProperty("exit").GetString());
                Assert.True(report.GetProperty("iterations").GetInt32() <= 30,
                    $"{problem} {unit} {solver} {globalization}: {report.GetProperty("iterations").GetInt32()} iterations");
                Assert.Equal(globalization == "trust-region" ? "trust-region" : "line-search", report.GetProperty("globalization").GetString());
            }
    }

    [Fact]
    public void A_trust_region_for_a_first_order_solver_is_a_bad_option()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, ["solve", "--solver", "lbfgs", "--globalization", "trust-region", "--out-dir", "o", .. GenerateSolveTests.Backend]);
        Assert.Equal(2, run.Code);
        var line = Assert.Single(run.ErrLines);
        Assert.Contains("--globalization", line);
        Assert.False(Directory.Exists(dir.File("o")));
    }
}
