using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DistSoftmax.Data;

/// <summary>Opening files for reading and writing them atomically, with every failure turned into a <see cref="DataFormatException"/>.</summary>
internal static class FileIo
{
    private const int BufferSize = 1 << 16;

    /// <summary>
    /// Opens an existing file for sequential reading. A missing file gives <c>path: file not found</c>;
    /// a directory or an unreadable file gives a one-line message naming the path.
    /// </summary>
    public static FileStream OpenRead(string path)
    {
        if (Directory.Exists(path)) throw new DataFormatException(path, "is a directory, not a file");
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found");
        if (FileType.NotRegular(path) is string kind) throw new DataFormatException(path, $"is {kind}, not a regular file");
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException) { throw new DataFormatException(path, "file not found"); }
        catch (DirectoryNotFoundException) { throw new DataFormatException(path, "file not found"); }
        catch (UnauthorizedAccessException) { throw new DataFormatException(path, "permission denied"); }
        catch (IOException e) { throw new DataFormatException(path, $"cannot open: {OneLine(e.Message)}", e); }
    }

    /// <summary>Opens a text reader (UTF-8, BOM detected) on an existing file; same errors as <see cref="OpenRead"/>.</summary>
    public static StreamReader OpenText(string path) => new(OpenRead(path), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true, BufferSize);

    /// <summary>
    /// Writes a file atomically: the content goes to <c>path + ".tmp-&lt;random&gt;"</c> in the same directory, is flushed
    /// to disk, and is then renamed over <paramref name="path"/> (replacing an existing file). If <paramref name="write"/>
    /// throws, or any I/O fails, the temporary file is deleted and the previous content of <paramref name="path"/> is untouched.
    /// I/O failures become <see cref="DataFormatException"/>s naming <paramref name="path"/>; a
    /// <see cref="DataFormatException"/> thrown by <paramref name="write"/> (e.g. a NaN to be written) passes through unchanged.
    /// </summary>
    public static void WriteAtomic(string path, Action<Stream> write)
    {
        string full;
        try { full = System.IO.Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        { throw new DataFormatException(path, $"invalid path: {OneLine(e.Message)}", e); }

        if (Directory.Exists(full)) throw new DataFormatException(path, "is a directory, not a file");
        string? dir = System.IO.Path.GetDirectoryName(full);
        if (dir is null || !Directory.Exists(dir)) throw new DataFormatException(path, $"cannot write: directory {dir ?? "(none)"} does not exist");

        string tmp = full + ".tmp-" + Random.Shared.GetHexString(12, lowercase: true);
        // (Random.Shared, not RandomNumberGenerator: the name need only be unlikely to collide — CreateNew refuses a
        // collision — and the cryptographic generator loads OpenSSL, tens of milliseconds of a command's start-up.)
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(tmp);
            switch (e)
            {
                case DataFormatException: throw;
                case UnauthorizedAccessException: throw new DataFormatException(path, "cannot write: permission denied", e);
                case IOException: throw new DataFormatException(path, $"cannot write: {OneLine(e.Message)}", e);
                default: throw;
            }
        }
    }

    private static void TryDelete(string file)
    {
        try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Collapses a (possibly multi-line) system message to one line.</summary>
    public static string OneLine(string s) => string.Join(' ', s.Split('\n', '\r', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>Finds the first NaN or ±Infinity, or -1 when all values are finite.</summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long FirstNonFinite(ReadOnlySpan<double> values)
    {
        // A double is NaN or ±∞ exactly when its 11 exponent bits are all set: tested a vector at a time (the check of
        // every input value runs at memory speed), the offending index then found by the scalar loop.
        int i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<long>.Count)
        {
            var bits = MemoryMarshal.Cast<double, long>(values);
            var exponent = new Vector<long>(ExponentBits);
            for (; i <= bits.Length - Vector<long>.Count; i += Vector<long>.Count)
                if (Vector.EqualsAny(new Vector<long>(bits.Slice(i)) & exponent, exponent)) break;
        }
        for (; i < values.Length; i++)
            if (!double.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>The exponent field of an IEEE 754 double (all ones: NaN or ±∞).</summary>
    private const long ExponentBits = 0x7FF0_0000_0000_0000;

    /// <summary>Entries that are not zero (NaN counts as non-zero, as <c>v != 0</c> says), a vector at a time.</summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long CountNonZeros(ReadOnlySpan<double> values)
    {
        long zeros = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<double>.Count)
        {
            // Each lane of Equals is −1 where the entry is ±0; lanes are summed into a vector of counts (at most
            // 2³¹ per lane for a span), then across.
            var counts = Vector<long>.Zero;
            for (; i <= values.Length - Vector<double>.Count; i += Vector<double>.Count)
                counts -= Vector.Equals(new Vector<double>(values.Slice(i)), Vector<double>.Zero);
            zeros = Vector.Sum(counts);
        }
        for (; i < values.Length; i++)
            if (values[i] == 0) zeros++;
        return values.Length - zeros;
    }

    /// <summary>"NaN", "+Infinity" or "-Infinity" for a message.</summary>
    public static string Describe(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "+Infinity" : "-Infinity";
}
