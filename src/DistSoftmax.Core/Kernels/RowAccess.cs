using System.Numerics.Tensors;
using DistSoftmax.Core.Linear;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// Row-level BLAS-like kernels over a block of A, so that every shard computation is written once for dense and
/// sparse rows. Dense rows use vectorised <see cref="TensorPrimitives"/>; CSR rows touch only their non-zeros,
/// so work is proportional to nnz.
/// </summary>
public abstract class RowAccess
{
    public abstract int Rows { get; }
    public abstract int Cols { get; }

    /// <summary>a_iᵀ x.</summary>
    public abstract double Dot(int i, ReadOnlySpan<double> x);

    /// <summary>y += α a_i.</summary>
    public abstract void Axpy(int i, double alpha, Span<double> y);

    /// <summary>C += w a_i a_iᵀ on the upper triangle of the d×d row-major C (entries j ≤ k).</summary>
    public abstract void RankOneUpper(int i, double w, Span<double> c);

    /// <summary>z[i − start] = a_iᵀ x for rows [start, end) (GEMV on a row block).</summary>
    public virtual void MultiplyRows(int start, int end, ReadOnlySpan<double> x, Span<double> z)
    {
        for (int i = start; i < end; i++) z[i - start] = Dot(i, x);
    }

    /// <summary>acc += Σ_{i ∈ [start, end)} v[i − start] a_i (transposed GEMV on a row block).</summary>
    public virtual void MultiplyTransposedRows(int start, int end, ReadOnlySpan<double> v, Span<double> acc)
    {
        for (int i = start; i < end; i++) Axpy(i, v[i - start], acc);
    }

    /// <summary>
    /// acc_c += Σ_{i ∈ [start, end)} v_c[i − start] a_i for c = 0…k−1 (v is k×(end − start), acc k×d, row-major):
    /// k transposed products sharing one read of the rows.
    /// </summary>
    public virtual void MultiplyTransposedRowsMany(int start, int end, ReadOnlySpan<double> v, int k, Span<double> acc)
    {
        int len = end - start, d = Cols;
        for (int c = 0; c < k; c++) MultiplyTransposedRows(start, end, v.Slice(c * len, len), acc.Slice(c * d, d));
    }

    /// <summary>S_{bucket[i − start]} += weight[i − start]·a_i for rows [start, end) into the m×d row-major sketch S.</summary>
    public virtual void ScatterRows(int start, int end, ReadOnlySpan<int> bucket, ReadOnlySpan<double> weight, Span<double> sketch)
    {
        int d = Cols;
        for (int i = start; i < end; i++) Axpy(i, weight[i - start], sketch.Slice(bucket[i - start] * d, d));
    }

    /// <summary>‖a_i‖².</summary>
    public abstract double SquaredNorm(int i);

    /// <summary>
    /// strip[bucket[i − start]·w + (j − c0)] += weight[i − start]·a_ij for rows [start, end) and columns j ∈ [c0, c1)
    /// (w = c1 − c0): rows of a CountSketch restricted to a column strip, the strip m×w row-major.
    /// </summary>
    public abstract void ScatterRowColumns(int start, int end, ReadOnlySpan<int> bucket, ReadOnlySpan<double> weight,
        int c0, int c1, Span<double> strip);

    /// <summary>Whether a sketch is best formed in column strips (dense rows) or all columns at once (sparse rows, whose
    /// index scan would be repeated per strip).</summary>
    public abstract bool ColumnStrips { get; }

    /// <summary>τ[t] = Σ_c (a_rows[t]ᵀ y_c)² for scattered rows and the k columns y_c of the projection.</summary>
    public virtual void ProjectedSquaredNorms(ReadOnlySpan<int> rows, ProjectionPanels y, Span<double> tau)
    {
        int d = Cols;
        for (int t = 0; t < rows.Length; t++)
        {
            double sum = 0;
            for (int c = 0; c < y.K; c++)
            {
                double p = Dot(rows[t], y.Transposed.AsSpan(c * d, d));
                sum += p * p;
            }
            tau[t] = sum;
        }
    }

    /// <summary>C += Σ_t w[t] a_rows[t] a_rows[t]ᵀ on the upper triangle, for scattered (sampled) rows.</summary>
    public virtual void GramRowsIndexed(ReadOnlySpan<int> rows, ReadOnlySpan<double> w, Span<double> c)
    {
        for (int t = 0; t < rows.Length; t++) RankOneUpper(rows[t], w[t], c);
    }

    /// <summary>Whether <see cref="GramRowsIndexedSingle"/> runs on these rows (dense rows where <see cref="WeightedSyrk.SingleAvailable"/>).</summary>
    public virtual bool SingleGram => false;

    /// <summary>
    /// <see cref="GramRowsIndexed"/> into a float d×d C (upper triangle), in single precision
    /// (<see cref="WeightedSyrk.UpperSingle"/>): for a preconditioner's sample. Only where <see cref="SingleGram"/>.
    /// </summary>
    public virtual void GramRowsIndexedSingle(ReadOnlySpan<int> rows, ReadOnlySpan<double> w, Span<float> c) =>
        throw new NotSupportedException("single-precision Grams are for dense rows with OpenBLAS's ssyrk");

    /// <summary>C += Σ_{i ∈ [start, end)} w[i − start] a_i a_iᵀ on the upper triangle (SYRK on a row block).</summary>
    public virtual void GramRows(int start, int end, ReadOnlySpan<double> w, Span<double> c)
    {
        for (int i = start; i < end; i++) RankOneUpper(i, w[i - start], c);
    }

    public static RowAccess For(IRowMatrix m) => m switch
    {
        DenseMatrix d => new DenseRows(d.Data, d.Rows, d.Cols),
        MemoryDenseMatrix mapped => new DenseRows(mapped.Values, mapped.Rows, mapped.Cols),
        CsrMatrix c => new CsrRows(c),
        _ => throw new ArgumentException($"unsupported matrix type {m.GetType().Name}"),
    };
}

/// <summary>Row-major dense rows: each kernel is one vectorised pass over a contiguous row.</summary>
public sealed class DenseRows : RowAccess
{
    /// <summary>Row-major values: a <see cref="DenseMatrix"/>'s array or a <see cref="MemoryDenseMatrix"/>'s mapped rows.</summary>
    private readonly ReadOnlyMemory<double> _data;
    private readonly int _rows, _cols;

    public DenseRows(ReadOnlyMemory<double> data, int rows, int cols) { _data = data; _rows = rows; _cols = cols; }

    public override int Rows => _rows;
    public override int Cols => _cols;

    private ReadOnlySpan<double> Row(int i) => _data.Span.Slice(i * _cols, _cols);

    public override double Dot(int i, ReadOnlySpan<double> x) => DenseKernels.Dot(Row(i), x);

    public override void Axpy(int i, double alpha, Span<double> y)
    {
        DenseKernels.Axpy(alpha, Row(i), y);
    }

    public override void RankOneUpper(int i, double w, Span<double> c)
    {
        var a = Row(i);
        int d = _cols;
        for (int j = 0; j < d; j++)
        {
            double s = w * a[j];
            if (s == 0) continue;
            var target = c.Slice(j * d + j, d - j);
            SpanMath.MultiplyAdd(a.Slice(j), s, target, target);
        }
    }

    private ReadOnlySpan<double> Block(int start, int end) => _data.Span.Slice(start * _cols, (end - start) * _cols);

    public override void MultiplyRows(int start, int end, ReadOnlySpan<double> x, Span<double> z) =>
        DenseKernels.Gemv(Block(start, end), end - start, _cols, x, z);

    public override void MultiplyTransposedRows(int start, int end, ReadOnlySpan<double> v, Span<double> acc) =>
        DenseKernels.GemvTransposed(Block(start, end), end - start, _cols, v, acc);

    public override void MultiplyTransposedRowsMany(int start, int end, ReadOnlySpan<double> v, int k, Span<double> acc) =>
        DenseKernels.GemvTransposedMany(Block(start, end), end - start, _cols, v, k, acc);

    public override void ScatterRows(int start, int end, ReadOnlySpan<int> bucket, ReadOnlySpan<double> weight, Span<double> sketch) =>
        DenseKernels.ScatterRows(Block(start, end), end - start, _cols, bucket, weight, sketch);

    public override double SquaredNorm(int i) => SpanMath.SumOfSquares(Row(i));

    public override bool ColumnStrips => true;

    public override void ScatterRowColumns(int start, int end, ReadOnlySpan<int> bucket, ReadOnlySpan<double> weight,
        int c0, int c1, Span<double> strip)
    {
        int width = c1 - c0;
        for (int i = start; i < end; i++)
        {
            double w = weight[i - start];
            if (w == 0) continue;
            var target = strip.Slice(bucket[i - start] * width, width);
            SpanMath.MultiplyAdd(Row(i).Slice(c0, width), w, target, target);
        }
    }

    /// <summary>Consecutive rows go to the kernel as a block; scattered ones are read where they lie (no copy).</summary>
    public override void ProjectedSquaredNorms(ReadOnlySpan<int> rows, ProjectionPanels y, Span<double> tau)
    {
        if (rows.Length == 0) return;
        if (rows[^1] - rows[0] == rows.Length - 1)
            DenseKernels.ProjectedSquaredNorms(Block(rows[0], rows[^1] + 1), rows.Length, _cols, y, tau);
        else
            DenseKernels.ProjectedSquaredNorms(_data.Span, rows, _cols, y, tau);
    }

    /// <summary>
    /// The given rows, in order, copied into a contiguous block from the array pool (return it after use). The spans
    /// are taken once, outside the loop: in precompiled (ReadyToRun) code ReadOnlyMemory&lt;double&gt;.Span and AsSpan
    /// are calls into the runtime's generic code, not inlined, and per row they were 0.9 % of a whole solve's CPU.
    /// </summary>
    private double[] Gather(ReadOnlySpan<int> rows)
    {
        var block = System.Buffers.ArrayPool<double>.Shared.Rent(rows.Length * _cols);
        ReadOnlySpan<double> data = _data.Span;
        Span<double> target = block;
        for (int t = 0; t < rows.Length; t++) data.Slice(rows[t] * _cols, _cols).CopyTo(target.Slice(t * _cols, _cols));
        return block;
    }

    public override void GramRows(int start, int end, ReadOnlySpan<double> w, Span<double> c) =>
        Syrk(Block(start, end), end - start, w, c);

    /// <summary>Gathers the scattered rows into a contiguous block, then one SYRK.</summary>
    public override void GramRowsIndexed(ReadOnlySpan<int> rows, ReadOnlySpan<double> w, Span<double> c)
    {
        if (rows.Length == 0) return;
        var block = Gather(rows);
        try { Syrk(block, rows.Length, w, c); }
        finally { System.Buffers.ArrayPool<double>.Shared.Return(block); }
    }

    public override bool SingleGram => WeightedSyrk.SingleAvailable(_cols);

    /// <summary>Gathers the scattered rows into a contiguous block, then one single-precision SYRK.</summary>
    public override void GramRowsIndexedSingle(ReadOnlySpan<int> rows, ReadOnlySpan<double> w, Span<float> c)
    {
        if (rows.Length == 0) return;
        var block = Gather(rows);
        try { WeightedSyrk.UpperSingle(block, rows.Length, _cols, w, c); }
        finally { System.Buffers.ArrayPool<double>.Shared.Return(block); }
    }

    /// <summary>OpenBLAS's dsyrk where it is installed, else the managed kernels (<see cref="WeightedSyrk"/>).</summary>
    private void Syrk(ReadOnlySpan<double> block, int rows, ReadOnlySpan<double> w, Span<double> c) =>
        WeightedSyrk.Upper(block, rows, _cols, w, c);
}

/// <summary>Compressed sparse rows: every kernel loops over the row's stored entries only.</summary>
public sealed class CsrRows : RowAccess
{
    private readonly CsrMatrix _m;

    public CsrRows(CsrMatrix m) { _m = m; }

    public override int Rows => _m.Rows;
    public override int Cols => _m.Cols;

    public override double Dot(int i, ReadOnlySpan<double> x)
    {
        double s = 0;
        long end = _m.RowPointers[i + 1];
        for (long k = _m.RowPointers[i]; k < end; k++) s += _m.Values[k] * x[_m.ColumnIndices[k]];
        return s;
    }

    public override void Axpy(int i, double alpha, Span<double> y)
    {
        if (alpha == 0) return;
        long end = _m.RowPointers[i + 1];
        for (long k = _m.RowPointers[i]; k < end; k++) y[_m.ColumnIndices[k]] += alpha * _m.Values[k];
    }

    public override double SquaredNorm(int i)
    {
        double s = 0;
        for (long k = _m.RowPointers[i]; k < _m.RowPointers[i + 1]; k++) s += _m.Values[k] * _m.Values[k];
        return s;
    }

    public override bool ColumnStrips => false;

    public override void ScatterRowColumns(int start, int end, ReadOnlySpan<int> bucket, ReadOnlySpan<double> weight,
        int c0, int c1, Span<double> strip)
    {
        int width = c1 - c0;
        for (int i = start; i < end; i++)
        {
            double w = weight[i - start];
            if (w == 0) continue;
            int row = bucket[i - start] * width;
            long e = _m.RowPointers[i + 1];
            for (long k = _m.RowPointers[i]; k < e; k++)
            {
                int j = _m.ColumnIndices[k];
                if (j >= c0 && j < c1) strip[row + j - c0] += w * _m.Values[k];
            }
        }
    }

    public override void RankOneUpper(int i, double w, Span<double> c)
    {
        int d = _m.Cols;
        long start = _m.RowPointers[i], end = _m.RowPointers[i + 1];
        for (long p = start; p < end; p++)
        {
            double s = w * _m.Values[p];
            int row = _m.ColumnIndices[p] * d;
            for (long q = p; q < end; q++) c[row + _m.ColumnIndices[q]] += s * _m.Values[q];
        }
    }
}
