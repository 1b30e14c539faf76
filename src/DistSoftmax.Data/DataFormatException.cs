namespace DistSoftmax.Data;

/// <summary>
/// Bad input (or an unwritable output) in one of the data files DistSoftmax reads and writes.
/// The message is a single line that starts with the file path, e.g.
/// <c>data/A.npy: header shape (3, 4) needs 96 bytes of float64 data but the file has 40</c>,
/// so a command-line front end can print <see cref="Exception.Message"/> alone.
/// </summary>
public sealed class DataFormatException : Exception
{
    /// <summary>The file the problem is about, as the caller spelled it.</summary>
    public string Path { get; }

    public DataFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
    }
}
