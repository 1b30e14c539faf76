using DistSoftmax.Data;

namespace DistSoftmax.Cli.Output;

/// <summary>Writes a whole file atomically: a temporary file in the same directory, flushed, then renamed over the target.</summary>
internal static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        string tmp = path + ".tmp-" + Random.Shared.GetHexString(12, lowercase: true);
        // (Random.Shared, not RandomNumberGenerator: the name need only be unlikely to collide — CreateNew refuses a
        // collision — and the cryptographic generator loads OpenSSL, tens of milliseconds of a command's start-up.)
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                fs.Write(content);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new DataFormatException(path, $"cannot write: {ErrorReport.OneLine(e.Message)}", e);
        }
    }
}
