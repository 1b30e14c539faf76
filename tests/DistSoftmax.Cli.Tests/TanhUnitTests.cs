namespace DistSoftmax.Cli.Tests;

/// <summary>
/// u = tanh, added through the unit catalog alone, is accepted by generate and solve for the rescaled and hyperbolic
/// families like every other unit.
/// </summary>
public class TanhUnitTests
{
    [Fact]
    public void Generate_and_solve_a_hyperbolic_tanh_instance()
    {
        using var dir = new TempDir();
        var gen = Cli.Run(dir.Path, "generate", "--problem", "hyperbolic", "--unit", "tanh", "--n", "300", "--d", "5", "--seed", "7", "--out-dir", "inst");
        Assert.True(gen.Code == 0, gen.ToString());
        Assert.Contains("hyperbolic (tanh) instance", gen.Out);
        string[] solve = Cli.PrintedSolveCommand(gen.Out);
        Assert.Equal("tanh", solve[Array.IndexOf(solve, "--unit") + 1]);

        var run = Cli.Run(dir.Path, [.. solve, .. GenerateSolveTests.Backend]);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Equal("", run.Err);
        var report = Report.Read(dir.File("inst/solution"));
        Assert.Equal(("hyperbolic", "tanh", "converged", "zeros"), (report.GetProperty("problem").GetString(), report.GetProperty("unit").GetString(),
            report.GetProperty("exit").GetString(), report.GetProperty("start").GetString()));
        // A planted instance (noise 0): the loss reaches zero and x = x_true.
        Assert.True(report.GetProperty("finalLoss").GetDouble() < 1e-12, report.GetProperty("finalLoss").ToString());
        var (_, x) = NpyBytes.Read(dir.File("inst/solution/x.npy"));
        var (_, xTrue) = NpyBytes.Read(dir.File("inst/x_true.npy"));
        Assert.All(x.Zip(xTrue), p => Assert.Equal(p.Second, p.First, 1e-6));
    }

    [Fact]
    public void Rescaled_tanh_warns_of_the_trivial_minimiser_and_solves_from_a_given_start()
    {
        using var dir = new TempDir();
        var gen = Cli.Run(dir.Path, "generate", "--problem", "rescaled", "--unit", "tanh", "--n", "300", "--d", "5", "--seed", "7", "--out-dir", "inst");
        Assert.True(gen.Code == 0, gen.ToString());
        string[] solve = Cli.PrintedSolveCommand(gen.Out);

        // tanh 0 = 0: x = 0 zeroes u − ⟨u,1⟩b, and it is the default start.
        var trivial = Cli.Run(dir.Path, [.. solve, .. GenerateSolveTests.Backend]);
        Assert.True(trivial.Code == 0, trivial.ToString());
        Assert.StartsWith("warning: --x0: rescaled regression with u = tanh has the trivial minimiser x = 0 (tanh(0) = 0",
            Assert.Single(trivial.ErrLines));

        // From 0.8·x_true the solve finds the planted zero of the loss: u(Ax) ∝ u(Ax_true).
        var (_, xTrue) = NpyBytes.Read(dir.File("inst/x_true.npy"));
        dir.Write("x0.npy", NpyBytes.Vector(xTrue.Select(v => 0.8 * v).ToArray()));
        string[] fromX0 = [.. solve, "--x0", "x0.npy", .. GenerateSolveTests.Backend];
        fromX0[Array.IndexOf(fromX0, "--out-dir") + 1] = "from-x0";
        var run = Cli.Run(dir.Path, fromX0);
        Assert.True(run.Code == 0, run.ToString());
        Assert.Equal("", run.Err);
        var report = Report.Read(dir.File("from-x0"));
        Assert.Equal(("rescaled", "tanh", "converged"), (report.GetProperty("problem").GetString(), report.GetProperty("unit").GetString(),
            report.GetProperty("exit").GetString()));
        Assert.True(report.GetProperty("finalLoss").GetDouble() < 1e-12, report.GetProperty("finalLoss").ToString());
    }

    [Fact]
    public void Tanh_is_refused_for_a_family_without_a_unit()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "generate", "--problem", "normalized", "--unit", "tanh", "--out-dir", "g");
        Assert.Equal(2, run.Code);
        Assert.Equal("error: --unit: --problem normalized has no unit (only rescaled and hyperbolic use exp, cosh, sinh or tanh)",
            Assert.Single(run.ErrLines));
    }
}
