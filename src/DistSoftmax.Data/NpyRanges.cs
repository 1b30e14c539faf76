using DistSoftmax.Core.Linear;

namespace DistSoftmax.Data;

/// <summary>The header of a .npy file: dtype string, layout and shape, without the data.</summary>
/// <param name="Dtype">The <c>descr</c> string, e.g. <c>&lt;f8</c>.</param>
/// <param name="FortranOrder">Whether the data is column-major.</param>
/// <param name="Shape">The array's dimensions.</param>
public sealed record NpyInfo(string Dtype, bool FortranOrder, long[] Shape)
{
    /// <summary>Rows of a matrix (first dimension); the length of a 1-D array.</summary>
    public long Rows => Shape[0];

    /// <summary>Columns of a 2-D array; 1 for a 1-D array.</summary>
    public long Cols => Shape.Length >= 2 ? Shape[1] : 1;

    /// <summary>Whether the array is a vector: shape (n,), (n, 1) or (1, n).</summary>
    public bool IsVector => Shape.Length == 1 || (Shape.Length == 2 && (Shape[0] == 1 || Shape[1] == 1));

    /// <summary>Number of items in a vector-shaped array.</summary>
    public long VectorLength => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Reading parts of a .npy file: the header alone, or a contiguous block of rows. A C-ordered file is read at the
/// rows' byte range only (offset = data start + first row · columns · item size), so a worker that owns rows
/// [start, start + count) of an n×d matrix reads count·d items, whatever n is. A Fortran-ordered file is read
/// whole and sliced. The whole-file checks (magic, header, dtype, exact data length) are made every time.
/// </summary>
public static partial class Npy
{
    /// <summary>Reads and checks the header only (the data length must still match the shape exactly).</summary>
    public static NpyInfo ReadInfo(string path)
    {
        using var fs = FileIo.OpenRead(path);
        var h = ReadHeader(path, fs);
        return new NpyInfo(h.Dtype.Descr, h.FortranOrder, h.Shape);
    }

    /// <summary>Rows [start, start + count) of a 2-D array as a dense count×d matrix; values must be finite.</summary>
    public static DenseMatrix ReadMatrixRows(string path, long start, int count)
    {
        using var fs = FileIo.OpenRead(path);
        var header = ReadHeader(path, fs);
        RequireMatrix(path, header);
        long rows = header.Shape[0];
        int cols = (int)header.Shape[1];
        CheckRange(path, start, count, rows, "rows");
        double[] data;
        if (header.StridedRows)
        {
            // Column-major: row i is strided through the whole file; read it all and take the block.
            var all = ReadData(path, fs, header);
            data = new double[(long)count * cols];
            for (int c = 0; c < cols; c++)
                for (int i = 0; i < count; i++)
                    data[(long)i * cols + c] = all[c * rows + start + i];
        }
        else
        {
            data = ReadItems(path, fs, header, start * cols, (long)count * cols);
        }
        CheckFiniteFrom(path, data, cols, start);
        return new DenseMatrix(count, cols, data);
    }

    /// <summary>
    /// Rows [start, start + count) of a 2-D array, checked as <see cref="ReadMatrixRows"/> checks them, without copying
    /// them where the file allows it: the rows of a C-ordered little-endian float64 file are its bytes, so they are
    /// mapped read-only (<see cref="MappedFileMemory"/>) and the matrix reads the file's page-cache pages. A worker's
    /// 400 MB of rows took 1.1–2.4 s to read into new memory on the development machine (each new page of it is a
    /// fault) and about 0.2 s to map and check. Rows of a file version this process has scanned whole are not checked
    /// again (<see cref="CheckedFiles"/>). Other dtypes, Fortran order, and files that cannot be mapped are read.
    /// The file must not be rewritten in place while the matrix is in use (a rewrite that renames a new file over it,
    /// as this tool's writers do, leaves the mapped file intact).
    /// </summary>
    public static IRowMatrix MapMatrixRows(string path, long start, int count)
    {
        var header = ReadMatrixHeader(path);
        long rows = header.Shape[0];
        int cols = (int)header.Shape[1];
        CheckRange(path, start, count, rows, "rows");
        long items = (long)count * cols;
        if (!header.Dtype.RawDoubles || header.StridedRows || items > int.MaxValue
            || MappedFileMemory.TryMap(path, header.DataOffset + start * cols * sizeof(double), (int)items) is not { } mapped)
            return ReadMatrixRows(path, start, count);
        // The mapped rows are the file's own bytes: a version this process has already checked whole needs no second pass.
        if (!CheckedFiles.Covers(path)) CheckFiniteFrom(path, mapped.Memory.Span, cols, start);
        return new MemoryDenseMatrix(count, cols, mapped.Memory);
    }

    /// <summary>
    /// Visits a 2-D array in blocks of at most <paramref name="blockRows"/> rows, in order, through one reused buffer
    /// (so checking a large file allocates one block, not a copy of it): <paramref name="visit"/> gets each block
    /// (rows×cols row-major) and the index of its first row. Values must be finite. Fortran-ordered files are read
    /// whole (their rows are strided through the file).
    /// </summary>
    public static void ScanMatrixRows(string path, int blockRows, Action<ReadOnlySpan<double>, long> visit) =>
        ScanMatrixRowsInParts(path, blockRows, 1, _ => visit);

    /// <summary>
    /// <see cref="ScanMatrixRows"/> over <paramref name="parts"/> contiguous row ranges at once, each on its own thread
    /// with its own file handle and block: part k's blocks go, in order, to the visitor <paramref name="visitorFor"/>(k),
    /// so a caller keeps one state per part and merges them afterwards. A non-finite value stops its part; the one named
    /// is the first in the file (parts are in row order), as the sequential scan would name it. Fortran-ordered files,
    /// and files with fewer rows than parts × block, are scanned by part 0 alone.
    /// </summary>
    public static void ScanMatrixRowsInParts(string path, int blockRows, int parts, Func<int, Action<ReadOnlySpan<double>, long>> visitorFor) =>
        CheckedFiles.Scan(path, () => ScanAllRows(path, blockRows, parts, visitorFor, mapWhole: false));

    /// <summary>
    /// <see cref="ScanMatrixRowsInParts"/> through one read-only mapping of the whole data of a C-ordered float64 file
    /// (<see cref="MappedFileMemory"/>) instead of reads into a buffer, returning that mapping, every page of it now
    /// touched, for the caller to hand to the shards of this process (<see cref="ScannedMatrixRows"/>), with the file
    /// version it holds (the one <see cref="CheckedFiles"/> recorded); null where the file cannot be mapped (it is then
    /// scanned by reads) or changed while it was scanned (the mapping is released). On the development machine the first touch of a mapped page is what
    /// costs (a 160 MB file: map and populate 10 ms, first touch of every page 80 ms, second 1 ms; a buffered read pass
    /// 85 ms), so scanning through the shards' own pages spares them that first touch. Not for large files: at 1.28 GB
    /// the first touch took 500 ms and a second touch still 100–250 ms, against a 195 ms read pass (the caller's limit:
    /// Sources.DataShardLoader.ShareScannedRowsUpToBytes).
    /// </summary>
    internal static (MappedFileMemory Whole, FileIdentity Version)? ScanMatrixRowsMappedInParts(string path, int blockRows, int parts,
        Func<int, Action<ReadOnlySpan<double>, long>> visitorFor)
    {
        MappedFileMemory? whole = null;
        var version = CheckedFiles.Scan(path, () => whole = ScanAllRows(path, blockRows, parts, visitorFor, mapWhole: true));
        if (whole is null) return null;
        if (version is { } scanned) return (whole, scanned);
        ((IDisposable)whole).Dispose();
        return null;
    }

    /// <summary>
    /// Rows [start, start + count) of a file scanned whole by <see cref="ScanMatrixRowsMappedInParts"/>, as a slice of its
    /// mapping <paramref name="whole"/> (which the matrix keeps alive): no new mapping and no second check. The caller
    /// makes sure the file is still the version that was scanned.
    /// </summary>
    internal static IRowMatrix ScannedMatrixRows(string path, MappedFileMemory whole, long start, int count)
    {
        var header = ReadMatrixHeader(path);
        int cols = (int)header.Shape[1];
        CheckRange(path, start, count, header.Shape[0], "rows");
        return new MemoryDenseMatrix(count, cols, whole.Memory.Slice(checked((int)(start * cols)), count * cols));
    }

    /// <summary>
    /// Checks and visits every row (see <see cref="ScanMatrixRowsInParts"/>); with <paramref name="mapWhole"/> through a
    /// mapping of the whole data where the file allows it, which is returned (null otherwise, or when it failed).
    /// </summary>
    private static MappedFileMemory? ScanAllRows(string path, int blockRows, int parts, Func<int, Action<ReadOnlySpan<double>, long>> visitorFor, bool mapWhole)
    {
        var header = ReadMatrixHeader(path);
        long rows = header.Shape[0];
        int cols = (int)header.Shape[1];
        int block = (int)Math.Clamp(blockRows, 1, Math.Max(1, rows));
        if (header.StridedRows)
        {
            var all = ReadMatrixRows(path, 0, checked((int)rows));
            visitorFor(0)(all.Data, 0);
            return null;
        }
        if (parts < 1 || rows < (long)parts * block) parts = 1;
        long items = rows * cols;
        var whole = mapWhole && header.Dtype.RawDoubles && items is > 0 and <= int.MaxValue
            ? MappedFileMemory.TryMap(path, header.DataOffset, (int)items)
            : null;
        var failures = new DataFormatException?[parts];
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, k =>
        {
            long start = rows * k / parts, end = rows * (k + 1) / parts;
            try
            {
                if (whole is null) ScanRowRange(path, header, start, end, block, visitorFor(k));
                else ScanMappedRowRange(path, whole, cols, start, end, block, visitorFor(k));
            }
            catch (DataFormatException e) { failures[k] = e; }
        });
        if (failures.FirstOrDefault(f => f is not null) is { } first)
        {
            ((IDisposable?)whole)?.Dispose();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }
        return whole;
    }

    /// <summary>Rows [start, end) of a mapped C-ordered matrix in blocks of <paramref name="block"/> rows, checked and visited in order.</summary>
    private static void ScanMappedRowRange(string path, MappedFileMemory whole, int cols, long start, long end, int block, Action<ReadOnlySpan<double>, long> visit)
    {
        for (long first = start; first < end; first += block)
        {
            int count = (int)Math.Min(block, end - first);
            ReadOnlySpan<double> span = whole.GetSpan().Slice((int)(first * cols), count * cols);
            CheckFiniteFrom(path, span, cols, first);
            visit(span, first);
        }
    }

    /// <summary>Rows [start, end) of a C-ordered matrix through one block of <paramref name="block"/> rows, checked and visited in order.</summary>
    private static void ScanRowRange(string path, Header header, long start, long end, int block, Action<ReadOnlySpan<double>, long> visit)
    {
        int cols = (int)header.Shape[1];
        using var fs = FileIo.OpenRead(path);
        var buffer = new double[(long)Math.Min(block, Math.Max(end - start, 1)) * cols];
        fs.Seek(header.DataOffset + start * cols * header.Dtype.Size, SeekOrigin.Begin);
        for (long first = start; first < end; first += block)
        {
            int count = (int)Math.Min(block, end - first);
            var span = buffer.AsSpan(0, count * cols);
            ReadDataInto(path, fs, header with { Shape = [(long)count * cols] }, span);
            CheckFiniteFrom(path, span, cols, first);
            visit(span, first);
        }
    }

    /// <summary>The checked header of a file that must hold a 2-D array (the file is closed again).</summary>
    private static Header ReadMatrixHeader(string path)
    {
        using var fs = FileIo.OpenRead(path);
        var header = ReadHeader(path, fs);
        RequireMatrix(path, header);
        return header;
    }

    /// <summary>A 2-D array is required: anything else is a one-line bad input naming its shape.</summary>
    private static void RequireMatrix(string path, Header header)
    {
        if (header.Shape.Length != 2)
            throw new DataFormatException(path, $"expected a 2-D matrix but the array has shape {FormatShape(header.Shape)}" +
                (header.Shape.Length == 1 ? " (a 1-D array is a vector)" : ""));
    }

    /// <summary>Items [start, start + count) of a vector-shaped array ((n,), (n, 1) or (1, n)); values must be finite.</summary>
    public static double[] ReadVectorRange(string path, long start, int count)
    {
        using var fs = FileIo.OpenRead(path);
        var header = ReadHeader(path, fs);
        bool isVector = header.Shape.Length == 1 || (header.Shape.Length == 2 && (header.Shape[0] == 1 || header.Shape[1] == 1));
        if (!isVector)
            throw new DataFormatException(path, $"expected a vector (shape (n,), (n, 1) or (1, n)) but the array has shape {FormatShape(header.Shape)}");
        CheckRange(path, start, count, header.Count, "entries");
        var data = ReadItems(path, fs, header, start, count);
        CheckFiniteFrom(path, data, 0, start);
        return data;
    }

    private static void CheckRange(string path, long start, int count, long available, string what)
    {
        if (start < 0 || count < 0 || start + count > available)
            throw new DataFormatException(path, $"{what} [{start}, {start + count}) are out of range: the array has {available} {what}");
    }

    /// <summary>Reads <paramref name="count"/> items from item index <paramref name="first"/> of the data region (file order).</summary>
    private static double[] ReadItems(string path, FileStream fs, Header header, long first, long count)
    {
        fs.Seek(header.DataOffset + first * header.Dtype.Size, SeekOrigin.Begin);
        var slice = header with { Shape = [count] };
        return ReadData(path, fs, slice);
    }

    /// <summary>Rejects NaN/±Infinity in a block read from row (or item) <paramref name="firstRow"/>, naming the global index.</summary>
    private static void CheckFiniteFrom(string path, ReadOnlySpan<double> data, int cols, long firstRow)
    {
        long k = FileIo.FirstNonFinite(data);
        if (k < 0) return;
        string where = cols > 0 ? $"(row {firstRow + k / cols}, col {k % cols})" : $"[{firstRow + k}]";
        throw new DataFormatException(path, $"non-finite value {FileIo.Describe(data[(int)k])} at index {where} (0-based)");
    }
}
