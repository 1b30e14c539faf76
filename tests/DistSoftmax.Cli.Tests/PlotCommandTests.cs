namespace DistSoftmax.Cli.Tests;

/// <summary>`plot` overlays solve reports, and refuses what is not one or an output over an input.</summary>
public class PlotCommandTests
{
    [Fact]
    public void Two_solve_reports_become_one_overlay_chart()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, ["generate", "--problem", "normalized", "--n", "300", "--d", "4", "--out-dir", "inst"]).Code);
        foreach (var solver in new[] { "newton", "lbfgs" })
        {
            var run = Cli.Run(dir.Path, ["solve", "--A", "inst/A.npy", "--b", "inst/b.npy", "--solver", solver, "--out-dir", solver, .. GenerateSolveTests.Backend]);
            Assert.True(run.Code is 0 or 3, run.ToString());
        }
        var plot = Cli.Run(dir.Path, ["plot", "newton/report.json", "lbfgs/report.json", "--out", "both.png", "--x", "time"]);
        Assert.True(plot.Code == 0, plot.ToString());
        Png.Check(dir.File("both.png"));
    }

    [Fact]
    public void A_file_that_is_not_a_report_and_an_output_over_an_input_are_bad_input()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("r.json"), "{\"tool\": \"something else\"}");
        var notReport = Cli.Run(dir.Path, ["plot", "r.json"]);
        Assert.Equal(2, notReport.Code);
        Assert.Equal($"error: {dir.File("r.json")}: is not a solve report (no \"trace\" array)", Assert.Single(notReport.ErrLines));
        var over = Cli.Run(dir.Path, ["plot", "r.json", "--out", "r.json"]);
        Assert.Equal(2, over.Code);
        Assert.StartsWith("error: --out: writing", Assert.Single(over.ErrLines));
        Assert.Equal("{\"tool\": \"something else\"}", File.ReadAllText(dir.File("r.json")));
    }

    [Fact]
    public void An_empty_trace_an_entry_without_a_field_and_a_directory_are_bad_input_naming_what_is_wrong()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("empty.json"), "{\"trace\": []}");
        File.WriteAllText(dir.File("partial.json"), "{\"trace\": [{\"iteration\": 0}]}");
        Directory.CreateDirectory(dir.File("run"));
        foreach (var (arg, expected) in new[]
                 {
                     ("empty.json", $"error: {dir.File("empty.json")}: has no iterations in its \"trace\" (nothing to plot)"),
                     ("partial.json", $"error: {dir.File("partial.json")}: is not a solve report (trace entry 0 has no \"loss\")"),
                     ("run", $"error: {dir.File("run")}: is a directory, not a report file (give DIR/report.json)"),
                 })
        {
            var run = Cli.Run(dir.Path, ["plot", arg, "--out", "o.png"]);
            Assert.True(run.Code == 2, run.ToString());
            Assert.Equal(expected, Assert.Single(run.ErrLines));
        }
        Assert.False(File.Exists(dir.File("o.png")));
        var emptyOut = Cli.Run(dir.Path, ["plot", "empty.json", "--out", ""]);
        Assert.True(emptyOut.Code == 2, emptyOut.ToString());
        Assert.Equal("error: --out: empty path (give a file, e.g. overlay.png)", Assert.Single(emptyOut.ErrLines));
    }

    /// <summary>
    /// --out replaces only an earlier image: a name that is not .png, a file that is not a PNG (a user's notes, a matrix)
    /// and a folder are refused with one line and left as they were (QA audit: plot wrote its PNG over all of them).
    /// </summary>
    [Fact]
    public void Plot_writes_only_over_an_earlier_image_and_refuses_any_other_file()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, ["generate", "--problem", "normalized", "--n", "200", "--d", "3", "--out-dir", "inst"]).Code);
        var solve = Cli.Run(dir.Path, ["solve", "--A", "inst/A.npy", "--b", "inst/b.npy", "--out-dir", "run", .. GenerateSolveTests.Backend]);
        Assert.True(solve.Code == 0, solve.ToString());
        var first = Cli.Run(dir.Path, ["plot", "run/report.json", "--out", "chart.png"]);
        Assert.True(first.Code == 0, first.ToString());
        Assert.EndsWith("chart.png (1 run)", first.Out.Trim());
        var again = Cli.Run(dir.Path, ["plot", "run/report.json", "--out", "chart.png"]);   // an earlier image: replaced
        Assert.True(again.Code == 0, again.ToString());
        Png.Check(dir.File("chart.png"));

        byte[] matrix = File.ReadAllBytes(dir.File("inst/A.npy"));
        File.WriteAllText(dir.File("notes.png"), "my notes\n");
        Directory.CreateDirectory(dir.File("folder.png"));
        foreach (var (target, expected) in new[]
                 {
                     ("inst/A.npy", $"error: --out: {dir.File("inst/A.npy")} is not a .png file name: plot writes a PNG image (e.g. overlay.png)"),
                     ("notes.png", $"error: --out: {dir.File("notes.png")} exists and is not a PNG image; plot replaces only an earlier image — choose another --out or remove it"),
                     ("folder.png", $"error: --out: {dir.File("folder.png")} is a directory; give a file, e.g. overlay.png"),
                 })
        {
            var run = Cli.Run(dir.Path, ["plot", "run/report.json", "--out", target]);
            Assert.True(run.Code == 2, run.ToString());
            Assert.Equal(expected, Assert.Single(run.ErrLines));
        }
        Assert.Equal(matrix, File.ReadAllBytes(dir.File("inst/A.npy")));
        Assert.Equal("my notes\n", File.ReadAllText(dir.File("notes.png")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.File("folder.png")));
    }
}
