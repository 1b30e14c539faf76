namespace DistSoftmax.Cli.Tests;

/// <summary>Hostile input files end as one escaped line and exit 2, never a crash or a control sequence on the terminal.</summary>
public class HostileInputCliTests
{
    [Fact]
    public void A_deeply_nested_header_is_a_one_line_bad_input()
    {
        using var dir = new TempDir();
        dir.Write("A.npy", NpyBytes.Build("{'descr': '<f8', 'fortran_order': False, 'shape': " + new string('(', 30000) + "}", NpyBytes.F8(1, 2)));
        dir.Write("b.npy", NpyBytes.Vector(0.5, 0.5));
        var run = Cli.Run(dir.Path, ["solve", "--A", "A.npy", "--b", "b.npy", "--out-dir", "o"]);
        Assert.Equal(2, run.Code);
        var line = Assert.Single(run.ErrLines);
        Assert.StartsWith($"error: {dir.File("A.npy")}: malformed .npy header dict (nested deeper than 32 levels", line);
        Assert.False(Directory.Exists(dir.File("o")));
    }

    [Fact]
    public void Control_characters_from_a_file_are_shown_escaped()
    {
        using var dir = new TempDir();
        dir.Write("A.npy", NpyBytes.Build("{'descr': '\u001b[31mred\u0007', 'fortran_order': False, 'shape': (2, 1), }", NpyBytes.F8(1, 2)));
        dir.Write("b.npy", NpyBytes.Vector(0.5, 0.5));
        var run = Cli.Run(dir.Path, ["solve", "--A", "A.npy", "--b", "b.npy", "--out-dir", "o"]);
        Assert.Equal(2, run.Code);
        var line = Assert.Single(run.ErrLines);
        Assert.Contains("\\x1B[31mred\\x07", line);
        Assert.DoesNotContain(line, c => char.IsControl(c));
    }
}
