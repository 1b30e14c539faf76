using System.Diagnostics;

namespace DistSoftmax.Data.Tests;

/// <summary>Inputs built to hang, exhaust or crash a reader are refused with one line naming the file.</summary>
public class HostileInputTests
{
    [Fact]
    public void A_header_nested_sixty_thousand_deep_is_refused_without_recursing_into_it()
    {
        using var dir = new TempDir();
        string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': " + new string('(', 60000) + "}";
        string path = dir.Write("deep.npy", NpyFixture.Build(dict, NpyFixture.F8(1, 2), major: 2));
        var e = Assert.Throws<DataFormatException>(() => Npy.ReadVector(path));
        Assert.StartsWith($"{path}: malformed .npy header dict (nested deeper than 32 levels", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_header_longer_than_a_mebibyte_is_refused_before_it_is_read()
    {
        using var dir = new TempDir();
        string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'pad': '" + new string('x', Npy.MaxHeaderBytes) + "'}";
        string path = dir.Write("long.npy", NpyFixture.Build(dict, NpyFixture.F8(1, 2), major: 2));
        var e = Assert.Throws<DataFormatException>(() => Npy.ReadVector(path));
        Assert.Contains($"is longer than the {Npy.MaxHeaderBytes} accepted", e.Message);
    }

    [Fact]
    public void A_named_pipe_is_refused_instead_of_blocking()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        string fifo = dir.File("A.csv");
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", fifo) { UseShellExecute = false })!) mkfifo.WaitForExit();
        var read = Task.Run(() => Assert.Throws<DataFormatException>(() => MatrixFile.ReadMatrix(fifo)));
        Assert.True(read.Wait(TimeSpan.FromSeconds(10)), "reading a FIFO blocked");
        Assert.Equal($"{fifo}: is a named pipe (FIFO), not a regular file", read.Result.Message);
    }

    [Fact]
    public void A_link_to_an_endless_device_is_refused()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/dev/zero")) return;
        using var dir = new TempDir();
        string link = dir.File("A.csv");
        File.CreateSymbolicLink(link, "/dev/zero");
        var e = Assert.Throws<DataFormatException>(() => MatrixFile.ReadMatrix(link));
        Assert.Equal($"{link}: is a character device, not a regular file", e.Message);
    }

    [Fact]
    public void A_text_line_longer_than_the_limit_is_refused_naming_the_line()
    {
        using var dir = new TempDir();
        string path = dir.File("A.csv");
        using (var w = new StreamWriter(path))
        {
            w.WriteLine("1,2");
            w.Write(new string('7', BoundedLineReader.MaxLineChars + 1));
        }
        var e = Assert.Throws<DataFormatException>(() => MatrixFile.ReadMatrix(path));
        Assert.Equal($"{path}: line 2 is longer than {BoundedLineReader.MaxLineChars} characters", e.Message);
    }

    [Theory]
    [InlineData("1,2\n3,4\n")]
    [InlineData("1,2\r\n3,4\r\n")]
    [InlineData("1,2\r3,4")]
    [InlineData("1,2\n\n3,4")]
    public void Lines_end_at_every_terminator_as_before(string text)
    {
        using var dir = new TempDir();
        var m = MatrixFile.ReadMatrix(dir.WriteText("A.csv", text));
        Assert.Equal((2, 2), (m.Rows, m.Cols));
    }
}
