namespace DistSoftmax.Data;

public static partial class MatrixMarket
{
    /// <summary>
    /// The dimensions a Matrix Market file declares, from its banner and size line only (the entries are not read):
    /// rows, columns and, for a coordinate file, the declared number of stored entries (null for an array file).
    /// </summary>
    public static (int Rows, int Cols, long? Entries) ReadSize(string path)
    {
        using var reader = new LineReader(path);
        var (format, _, _) = ReadBanner(reader);
        long[] size = ReadSizeLine(reader, format);
        return ((int)size[0], (int)size[1], format == Format.Coordinate ? size[2] : null);
    }
}
