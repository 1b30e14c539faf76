using DistSoftmax.Cli.Output;

namespace DistSoftmax.Cli.Tests;

/// <summary>A run's files replace the previous run's as a set; a failure or a crash never mixes the two.</summary>
public class OutputSetTests
{
    private static readonly string[] Names = ["x.npy", "report.json", "convergence.png"];

    private static TempDir PreviousRun()
    {
        var dir = new TempDir();
        foreach (var name in Names) File.WriteAllText(dir.File(name), "old " + name);
        return dir;
    }

    private static string[] Contents(TempDir dir) =>
        Directory.GetFiles(dir.Path).Select(p => Path.GetFileName(p) + "=" + File.ReadAllText(p)).Order().ToArray();

    [Fact]
    public void A_committed_set_replaces_every_file_of_the_previous_one_even_those_it_does_not_write()
    {
        using var dir = PreviousRun();
        var set = new OutputSet(dir.Path, Names);
        set.Stage("x.npy", "new x"u8.ToArray());
        set.Stage("report.json", "new report"u8.ToArray());
        set.Commit("report.json");
        Assert.Equal(["report.json=new report", "x.npy=new x"], Contents(dir));
    }

    [Fact]
    public void A_run_that_stops_before_committing_leaves_the_previous_set_whole_and_the_next_run_clears_its_leftovers()
    {
        using var dir = PreviousRun();
        var crashed = new OutputSet(dir.Path, Names);
        crashed.Stage("x.npy", "new x"u8.ToArray());          // then the process is killed: no Commit
        Assert.Equal(Names.Select(n => $"{n}=old {n}").Order(), Contents(dir).Where(c => !c.Contains(".tmp-")));
        _ = new OutputSet(dir.Path, Names);
        Assert.Equal(Names.Select(n => $"{n}=old {n}").Order(), Contents(dir));
    }

    [Fact]
    public void A_write_failure_is_an_output_error_that_leaves_nothing_new_and_the_previous_set_unchanged()
    {
        using var dir = PreviousRun();
        var set = new OutputSet(dir.Path, Names);
        set.Stage("x.npy", "new x"u8.ToArray());
        var e = Assert.Throws<OutputWriteException>(() => set.Stage("report.json", _ => throw new IOException("No space left on device")));
        Assert.Equal($"{dir.File("report.json")}: cannot write: No space left on device; no output was replaced", e.Message);
        Assert.Equal(Names.Select(n => $"{n}=old {n}").Order(), Contents(dir));
    }

    [Fact]
    public void An_output_failure_has_its_own_exit_code_and_one_line()
    {
        var err = new StringWriter();
        var ctx = new CliContext(TextWriter.Null, err);
        int code = ErrorReport.Write(ctx, new OutputWriteException("out/x.npy", "cannot write: No space left on device"), validating: false);
        Assert.Equal(ExitCodes.OutputFailure, code);
        Assert.Equal("error: out/x.npy: cannot write: No space left on device; no output was replaced", err.ToString().TrimEnd());
    }
}
