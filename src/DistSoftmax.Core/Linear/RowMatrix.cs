namespace DistSoftmax.Core.Linear;

/// <summary>
/// A matrix read one row at a time: what a row shard needs from its block of A.
/// Implemented by <see cref="DenseMatrix"/> (row-major) and <see cref="CsrMatrix"/> (compressed sparse rows).
/// </summary>
public interface IRowMatrix
{
    int Rows { get; }
    int Cols { get; }
    /// <summary>Stored entries: Rows·Cols for dense, the number of non-zeros for CSR.</summary>
    long StoredEntries { get; }
    /// <summary>A new matrix holding rows [start, start+count).</summary>
    IRowMatrix SliceRows(int start, int count);
}

/// <summary>Dense n×d matrix stored row-major in one array: entry (i, j) is Data[i·Cols + j].</summary>
public sealed class DenseMatrix : IRowMatrix
{
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Row-major values, length Rows·Cols. Treated as immutable once the matrix is shared.</summary>
    public double[] Data { get; }
    public long StoredEntries => (long)Rows * Cols;

    public DenseMatrix(int rows, int cols, double[] data)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), "matrix dimensions must be non-negative");
        if (data.LongLength != (long)rows * cols)
            throw new ArgumentException($"dense matrix {rows}×{cols} needs {(long)rows * cols} values, got {data.LongLength}", nameof(data));
        Rows = rows; Cols = cols; Data = data;
    }

    public DenseMatrix(int rows, int cols) : this(rows, cols, new double[(long)rows * cols]) { }

    public double this[int i, int j]
    {
        get => Data[(long)i * Cols + j];
        set => Data[(long)i * Cols + j] = value;
    }

    public ReadOnlySpan<double> Row(int i) => new(Data, i * Cols, Cols);
    public Span<double> RowMutable(int i) => new(Data, i * Cols, Cols);

    public IRowMatrix SliceRows(int start, int count) => SliceDense(start, count);

    public DenseMatrix SliceDense(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Rows) throw new ArgumentOutOfRangeException(nameof(start));
        var data = new double[(long)count * Cols];
        Array.Copy(Data, (long)start * Cols, data, 0, data.LongLength);
        return new DenseMatrix(count, Cols, data);
    }

    public DenseMatrix Transpose()
    {
        var t = new DenseMatrix(Cols, Rows);
        for (int i = 0; i < Rows; i++)
            for (int j = 0; j < Cols; j++)
                t.Data[(long)j * Rows + i] = Data[(long)i * Cols + j];
        return t;
    }

    /// <summary>Converts to compressed sparse rows, keeping exact zeros out.</summary>
    public CsrMatrix ToCsr()
    {
        var rowPtr = new long[Rows + 1];
        var cols = new List<int>();
        var vals = new List<double>();
        for (int i = 0; i < Rows; i++)
        {
            var row = Row(i);
            for (int j = 0; j < Cols; j++)
                if (row[j] != 0) { cols.Add(j); vals.Add(row[j]); }
            rowPtr[i + 1] = cols.Count;
        }
        return new CsrMatrix(Rows, Cols, rowPtr, cols.ToArray(), vals.ToArray());
    }
}

/// <summary>
/// Compressed sparse row matrix: the non-zeros of row i are ColumnIndices/Values[RowPointers[i] .. RowPointers[i+1]),
/// column indices strictly increasing within a row. Work on it is proportional to the number of non-zeros.
/// </summary>
public sealed class CsrMatrix : IRowMatrix
{
    public int Rows { get; }
    public int Cols { get; }
    public long[] RowPointers { get; }
    public int[] ColumnIndices { get; }
    public double[] Values { get; }
    public long StoredEntries => Values.LongLength;

    public CsrMatrix(int rows, int cols, long[] rowPointers, int[] columnIndices, double[] values)
    {
        if (rowPointers.Length != rows + 1) throw new ArgumentException($"CSR needs {rows + 1} row pointers, got {rowPointers.Length}");
        if (columnIndices.Length != values.Length) throw new ArgumentException("CSR column index and value arrays differ in length");
        if (rowPointers[0] != 0 || rowPointers[rows] != values.LongLength) throw new ArgumentException("CSR row pointers do not span the values");
        for (int i = 0; i < rows; i++)
        {
            if (rowPointers[i + 1] < rowPointers[i]) throw new ArgumentException($"CSR row pointers decrease at row {i}");
            for (long k = rowPointers[i]; k < rowPointers[i + 1]; k++)
            {
                int c = columnIndices[k];
                if ((uint)c >= (uint)cols) throw new ArgumentException($"CSR column index {c} outside 0..{cols - 1} in row {i}");
                if (k > rowPointers[i] && columnIndices[k - 1] >= c) throw new ArgumentException($"CSR column indices not increasing in row {i}");
            }
        }
        Rows = rows; Cols = cols; RowPointers = rowPointers; ColumnIndices = columnIndices; Values = values;
    }

    public IRowMatrix SliceRows(int start, int count) => SliceCsr(start, count);

    public CsrMatrix SliceCsr(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Rows) throw new ArgumentOutOfRangeException(nameof(start));
        long from = RowPointers[start], to = RowPointers[start + count];
        var ptr = new long[count + 1];
        for (int i = 0; i <= count; i++) ptr[i] = RowPointers[start + i] - from;
        var ci = new int[to - from];
        var v = new double[to - from];
        Array.Copy(ColumnIndices, from, ci, 0, ci.LongLength);
        Array.Copy(Values, from, v, 0, v.LongLength);
        return new CsrMatrix(count, Cols, ptr, ci, v);
    }

    public DenseMatrix ToDense()
    {
        var m = new DenseMatrix(Rows, Cols);
        for (int i = 0; i < Rows; i++)
            for (long k = RowPointers[i]; k < RowPointers[i + 1]; k++)
                m.Data[(long)i * Cols + ColumnIndices[k]] = Values[k];
        return m;
    }
}
