using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DistSoftmax.Cli.Tests;

/// <summary>A fresh temporary directory per test, deleted afterwards.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("distsoftmax-cli-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] bytes) { string p = File(name); System.IO.File.WriteAllBytes(p, bytes); return p; }

    public string WriteText(string name, string text) { string p = File(name); System.IO.File.WriteAllText(p, text); return p; }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>What one run of the command line produced.</summary>
public sealed record CliResult(int Code, string Out, string Err)
{
    public string[] ErrLines => Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    public override string ToString() => $"exit {Code}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

public static class Cli
{
    /// <summary>Runs dist-softmax in this process with <paramref name="workingDirectory"/> as its current directory.</summary>
    public static CliResult Run(string workingDirectory, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = Program.Run(args, o, e, workingDirectory);
        return new CliResult(code, o.ToString(), e.ToString());
    }

    /// <summary>
    /// Waits until an in-process `worker` (its stdout in <paramref name="workerOut"/>) says it is up, so that a job
    /// started next finds its seed within the job's 5 s seed timeout: on a loaded CI machine a worker started at the same
    /// time as the job was once not listening yet after 5 s. Fails the test after 60 s or when the worker has stopped.
    /// </summary>
    public static async Task WaitForWorkerUp(StringWriter workerOut, StringWriter workerErr, Task<int> worker)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!workerOut.ToString().Contains("is up, serving solve jobs"))
        {
            Assert.False(worker.IsCompleted, "the worker stopped before it was up:\n" + workerOut + workerErr);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the worker was not up after 60 s:\n" + workerOut + workerErr);
            await Task.Delay(50);
        }
    }

    /// <summary>The arguments of the "solve it with:" command that generate prints (POSIX single quotes undone).</summary>
    public static string[] PrintedSolveCommand(string generateOutput)
    {
        var lines = generateOutput.Split('\n').Select(l => l.Trim()).ToArray();
        int i = Array.IndexOf(lines, "solve it with:");
        Assert.True(i >= 0 && i + 1 < lines.Length, "generate printed no solve command:\n" + generateOutput);
        var words = Regex.Matches(lines[i + 1], @"'(?:[^']|'\\'')*'|\S+").Select(m =>
            m.Value.StartsWith('\'') ? m.Value[1..^1].Replace("'\\''", "'") : m.Value).ToArray();
        Assert.Equal("dist-softmax", words[0]);
        return words[1..];
    }
}

/// <summary>
/// .npy bytes built by hand from the published format (numpy NEP 1): the magic "\x93NUMPY", version 1.0, a
/// little-endian uint16 header length, an ASCII dict literal padded with spaces and ended by '\n' so that the
/// preamble and header take a multiple of 64 bytes, then the raw data. And a reader for what the CLI writes.
/// </summary>
public static class NpyBytes
{
    public static byte[] Build(string dict, byte[] data)
    {
        int unpadded = 10 + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        byte[] header = Encoding.ASCII.GetBytes(dict + new string(' ', total - unpadded) + "\n");
        var bytes = new byte[10 + header.Length + data.Length];
        new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        header.CopyTo(bytes, 10);
        data.CopyTo(bytes, 10 + header.Length);
        return bytes;
    }

    public static byte[] F8(params double[] v)
    {
        var b = new byte[8 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(8 * i), v[i]);
        return b;
    }

    public static byte[] Vector(params double[] v) =>
        Build($"{{'descr': '<f8', 'fortran_order': False, 'shape': ({v.Length},), }}", F8(v));

    public static byte[] Matrix(int rows, int cols, params double[] v) =>
        Build($"{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}", F8(v));

    /// <summary>Shape and values of a little-endian float64 C-order .npy file (what the CLI writes).</summary>
    public static (long[] Shape, double[] Values) Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, 6).SequenceEqual(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' }), "not an .npy file");
        Assert.Equal(1, bytes[6]);
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.Contains("'descr': '<f8'", header);
        Assert.Contains("'fortran_order': False", header);
        Assert.Equal(0, (10 + headerLength) % 64);
        var shapeText = Regex.Match(header, @"'shape': \(([^)]*)\)").Groups[1].Value;
        long[] shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int offset = 10 + headerLength;
        long count = shape.Aggregate(1L, (a, b) => a * b);
        Assert.Equal(offset + 8 * count, bytes.Length);
        var values = new double[count];
        for (int i = 0; i < count; i++) values[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(offset + 8 * i));
        return (shape, values);
    }
}

public static class Png
{
    /// <summary>Checks the PNG signature and the IHDR chunk, and returns the image's width and height.</summary>
    public static (int Width, int Height) Check(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        Assert.True(b.Length > 1000, $"{path} is only {b.Length} bytes");
        Assert.True(b.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "no PNG signature");
        Assert.Equal("IHDR", Encoding.ASCII.GetString(b, 12, 4));
        // The last chunk is IEND.
        Assert.Equal("IEND", Encoding.ASCII.GetString(b, b.Length - 8, 4));
        return (BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(20)));
    }
}

public static class Report
{
    public static JsonElement Read(string dir) => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "report.json"))).RootElement;
}

/// <summary>Two runs' post-solve analyses compared: regime values and saved arrays to 1e-12 relative.</summary>
public static class AnalysisAssert
{
    public const double RelativeTolerance = 1e-12;

    /// <summary>The named regime values of two report.json files' <c>regime</c>, and the named .npy files of two output directories.</summary>
    public static void Same(string expectedDirectory, string actualDirectory, string[] regimeValues, string[] files)
    {
        var expected = Report.Read(expectedDirectory).GetProperty("regime");
        var actual = Report.Read(actualDirectory).GetProperty("regime");
        foreach (string value in regimeValues)
        {
            double e = expected.GetProperty(value).GetDouble();
            Assert.Equal(e, actual.GetProperty(value).GetDouble(), RelativeTolerance * Math.Abs(e));
        }
        foreach (string file in files)
        {
            var e = NpyBytes.Read(Path.Combine(expectedDirectory, file)).Values;
            var a = NpyBytes.Read(Path.Combine(actualDirectory, file)).Values;
            Assert.Equal(e.Length, a.Length);
            for (int i = 0; i < e.Length; i++) Assert.Equal(e[i], a[i], RelativeTolerance * (1 + Math.Abs(e[i])));
        }
    }
}
