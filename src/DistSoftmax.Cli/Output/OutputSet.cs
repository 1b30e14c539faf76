namespace DistSoftmax.Cli.Output;

/// <summary>
/// The files one run writes into an output directory, replaced as a set: a reader never finds one run's file beside
/// another run's.
///   1. <see cref="Stage"/> writes each file to <c>name.tmp-&lt;run&gt;</c> in the directory and flushes it to disk; an
///      I/O failure deletes what was staged and throws <see cref="OutputWriteException"/> — the previous set is
///      untouched.
///   2. <see cref="Commit"/> deletes every file of the previous set (all the names a run can write, staged now or not),
///      then renames the staged files into place, the one named last (the report, which lists the others) at the end.
/// A crash before Commit leaves the previous set whole (its stale temporary files are removed by the next run); a
/// crash inside Commit leaves part of the new set but nothing of the old.
/// </summary>
internal sealed class OutputSet
{
    private readonly string _directory;
    private readonly IReadOnlyList<string> _names;
    // A name unique to this run, not a secret: Random.Shared avoids loading the system's crypto library at start-up.
    private readonly string _suffix = ".tmp-" + Random.Shared.NextInt64(1L << 48).ToString("x12");
    private readonly List<(string Temporary, string Final)> _staged = new();

    /// <param name="directory">The output directory (it must exist).</param>
    /// <param name="names">Every file name a run can write there.</param>
    public OutputSet(string directory, IReadOnlyList<string> names)
    {
        _directory = directory;
        _names = names;
        foreach (string name in names)
            foreach (string stale in Directory.EnumerateFiles(directory, name + ".tmp-*"))
                TryDelete(stale);
    }

    /// <summary>Writes one file of the set to its temporary name.</summary>
    public void Stage(string name, Action<Stream> write)
    {
        string final = Path.Combine(_directory, name);
        string temporary = final + _suffix;
        try
        {
            using (var fs = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            _staged.Add((temporary, final));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            Abandon();
            throw new OutputWriteException(final, $"cannot write: {ErrorReport.OneLine(e.Message)}", e);
        }
        catch
        {
            TryDelete(temporary);
            Abandon();
            throw;
        }
    }

    /// <summary>Writes one file of the set from bytes.</summary>
    public void Stage(string name, byte[] bytes) => Stage(name, s => s.Write(bytes));

    /// <summary>Deletes the previous set and puts the staged files in place, <paramref name="last"/> at the end.</summary>
    public void Commit(string last)
    {
        try
        {
            foreach (string name in _names)
            {
                string path = Path.Combine(_directory, name);
                if (File.Exists(path)) File.Delete(path);
            }
            string lastPath = Path.Combine(_directory, last);
            foreach (var (temporary, final) in _staged.OrderBy(s => s.Final == lastPath))
                File.Move(temporary, final, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Abandon();
            throw new OutputWriteException(_directory, $"cannot put the outputs in place: {ErrorReport.OneLine(e.Message)}", e);
        }
        _staged.Clear();
    }

    /// <summary>Deletes every staged file (after a failure, or when the run does not commit).</summary>
    public void Abandon()
    {
        foreach (var (temporary, _) in _staged) TryDelete(temporary);
        _staged.Clear();
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
