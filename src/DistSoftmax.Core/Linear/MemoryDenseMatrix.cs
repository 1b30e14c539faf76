namespace DistSoftmax.Core.Linear;

/// <summary>
/// A dense n×d matrix stored row-major in memory that is not a managed array of its own — a worker's rows of a .npy
/// file mapped read-only (DistSoftmax.Data's Npy.MapMatrixRows): entry (i, j) is Values.Span[i·Cols + j]. The memory
/// stays valid while the matrix is reachable (its owner, the Memory's manager, is referenced through
/// <see cref="Values"/>). The shard kernels read it as they read a <see cref="DenseMatrix"/> (<see cref="Kernels.DenseRows"/>).
/// </summary>
public sealed class MemoryDenseMatrix : IRowMatrix
{
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Row-major values, length Rows·Cols, read-only.</summary>
    public ReadOnlyMemory<double> Values { get; }
    public long StoredEntries => (long)Rows * Cols;

    public MemoryDenseMatrix(int rows, int cols, ReadOnlyMemory<double> values)
    {
        if (rows < 0 || cols < 0) throw new ArgumentOutOfRangeException(nameof(rows), "matrix dimensions must be non-negative");
        if (values.Length != (long)rows * cols)
            throw new ArgumentException($"dense matrix {rows}×{cols} needs {(long)rows * cols} values, got {values.Length}", nameof(values));
        Rows = rows; Cols = cols; Values = values;
    }

    /// <summary>Rows [start, start + count) copied into a new <see cref="DenseMatrix"/>.</summary>
    public IRowMatrix SliceRows(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Rows)
            throw new ArgumentOutOfRangeException(nameof(start), $"rows [{start}, {start + count}) are outside 0..{Rows}");
        return new DenseMatrix(count, Cols, Values.Slice(start * Cols, count * Cols).ToArray());
    }
}
