using System.Text;
using System.Text.Json;
using DistSoftmax.Cli.Output;
using DistSoftmax.Core.Solvers.Checkpoints;

namespace DistSoftmax.Cli.Solving;

/// <summary>
/// What <c>solve --resume DIR</c> needs besides the checkpoint: the solve's own command line and the directory its
/// relative paths were given against, in <c>DIR/checkpoint.json</c> (written atomically with a solve's first checkpoint;
/// removed with checkpoint.bin when the solve ends, kept when it was cancelled, killed or failed). Format:
/// <c>{"version": 1, "workingDirectory": "/abs/dir", "arguments": ["--A", "a.npy", …], "source": "files\nA=… [size, time]"}</c>;
/// <c>source</c> is the inputs' identity (<see cref="Cluster.Worker.SourceIdentity"/>: paths, sizes and modification
/// times, or the generator's parameters), absent when it has none; a resume whose inputs differ from it is refused.
/// </summary>
internal sealed record ResumeRecord(string WorkingDirectory, IReadOnlyList<string> Arguments, string? Source)
{
    public const string FileName = "checkpoint.json";
    private const int Version = 1;
    /// <summary>A larger checkpoint.json is not one this command wrote.</summary>
    private const int MaxBytes = 1 << 20;

    public void Write(string directory)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("version", Version);
            json.WriteString("workingDirectory", WorkingDirectory);
            json.WriteStartArray("arguments");
            foreach (string a in Arguments) json.WriteStringValue(a);
            json.WriteEndArray();
            if (Source is not null) json.WriteString("source", Source);
            json.WriteEndObject();
        }
        AtomicFile.Write(Path.Combine(directory, FileName), buffer.ToArray());
    }

    /// <summary>DIR's record; a <see cref="CliInputException"/> on --resume naming what is wrong.</summary>
    public static ResumeRecord Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (File.Exists(directory)) throw new CliInputException("--resume", $"{directory}: is a file, not a solve's --out-dir");
        if (!Directory.Exists(directory)) throw new CliInputException("--resume", $"{directory}: no such directory");
        if (Directory.Exists(path)) throw new CliInputException("--resume", $"{path}: is a directory, not a checkpoint record");
        if (!File.Exists(path))
            throw new CliInputException("--resume", $"{directory} holds no {FileName}: it is not the output directory of an interrupted solve " +
                "(a solve that ended removes its checkpoint; one run with --no-checkpoint writes none)");
        try
        {
            var info = new FileInfo(path);
            if (info.Length > MaxBytes) throw new CliInputException("--resume", $"{path}: larger than {MaxBytes} bytes, not a checkpoint record");
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(path, "is not a JSON object");
            if (!root.TryGetProperty("version", out var version) || version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out int v) || v != Version)
                throw Bad(path, $"has no \"version\": {Version}");
            if (!root.TryGetProperty("workingDirectory", out var wd) || wd.ValueKind != JsonValueKind.String || !Path.IsPathRooted(wd.GetString()!))
                throw Bad(path, "has no absolute \"workingDirectory\"");
            if (!root.TryGetProperty("arguments", out var args) || args.ValueKind != JsonValueKind.Array
                || args.EnumerateArray().Any(a => a.ValueKind != JsonValueKind.String))
                throw Bad(path, "has no \"arguments\" array of strings");
            string? source = null;
            if (root.TryGetProperty("source", out var s))
                source = s.ValueKind == JsonValueKind.String ? s.GetString() : throw Bad(path, "has a \"source\" that is not a string");
            return new ResumeRecord(wd.GetString()!, args.EnumerateArray().Select(a => a.GetString()!).ToArray(), source);
        }
        catch (JsonException e) { throw Bad(path, $"is not valid JSON ({e.Message})"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Bad(path, $"cannot be read: {e.Message}"); }
    }

    /// <summary>
    /// Whether DIR holds a checkpoint record this tool wrote (it parses as one): then it and checkpoint.bin beside it
    /// are the tool's own, for a new solve into DIR to replace or remove.
    /// </summary>
    public static bool IsOwn(string directory)
    {
        try { Read(directory); return true; }
        catch (CliInputException) { return false; }
    }

    /// <summary>DIR's checkpoint.bin, or null when the solve was stopped before its first checkpoint.</summary>
    public static SolverCheckpoint? ReadCheckpoint(string directory)
    {
        string path = Path.Combine(directory, CheckpointWriter.FileName);
        if (!File.Exists(path)) return null;
        try { return CheckpointFormat.Read(File.ReadAllBytes(path)); }
        catch (CheckpointFormatException e) { throw Bad(path, e.Message); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Bad(path, $"cannot be read: {e.Message}"); }
    }

    /// <summary>Removes DIR's checkpoint files (a solve that ended needs none).</summary>
    public static void Remove(string directory)
    {
        foreach (string name in new[] { CheckpointWriter.FileName, FileName })
            try { File.Delete(Path.Combine(directory, name)); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static CliInputException Bad(string path, string problem) => new("--resume", $"{path}: {ErrorReport.OneLine(problem)}");
}
