using System.Globalization;
using System.Text;
using DistSoftmax.Core.Linear;

namespace DistSoftmax.Data;

/// <summary>
/// Matrix Market (<c>.mtx</c>) files.
/// <para>Layout: a banner line <c>%%MatrixMarket matrix &lt;format&gt; &lt;field&gt; &lt;symmetry&gt;</c> (tokens case-insensitive),
/// then comment lines starting with '%', then a size line, then the entries:</para>
/// <list type="bullet">
/// <item><c>coordinate</c>: size line <c>M N NNZ</c>, then NNZ lines <c>i j v</c> (1-based row and column; no value for
/// field <c>pattern</c>, whose entries are 1). Field <c>real</c>/<c>double</c>/<c>integer</c>/<c>pattern</c>.</item>
/// <item><c>array</c>: size line <c>M N</c>, then M·N values one per line in column-major order (field real/double/integer).</item>
/// </list>
/// <para>Symmetry <c>general</c>; <c>symmetric</c> (only entries on or below the diagonal are stored, off-diagonal ones are mirrored;
/// for <c>array</c> the lower triangle is stored column by column); <c>skew-symmetric</c> (strictly lower triangle stored,
/// mirrored with the sign flipped). Complex and hermitian files are rejected. Duplicate coordinate entries are summed and
/// explicit zeros are kept as stored entries. Blank lines are ignored. Every error names the file and the 1-based line.</para>
/// </summary>
public static partial class MatrixMarket
{
    private enum Format { Coordinate, Array }
    private enum Field { Real, Integer, Pattern }
    private enum Symmetry { General, Symmetric, SkewSymmetric }

    /// <summary>Reads any Matrix Market matrix as CSR (an <c>array</c> file is converted, dropping exact zeros).</summary>
    public static CsrMatrix Read(string path) => ReadAny(path) switch
    {
        CsrMatrix csr => csr,
        DenseMatrix dense => dense.ToCsr(),
        var other => throw new InvalidOperationException($"unexpected matrix type {other.GetType().Name}"),
    };

    /// <summary>Reads a <c>coordinate</c> file as a <see cref="CsrMatrix"/> and an <c>array</c> file as a <see cref="DenseMatrix"/>.</summary>
    public static IRowMatrix ReadAny(string path)
    {
        using var reader = new LineReader(path);
        var (format, field, symmetry) = ReadBanner(reader);
        return format == Format.Coordinate
            ? ReadCoordinate(reader, field, symmetry)
            : ReadArray(reader, field, symmetry);
    }

    /// <summary>Reads an n×1 or 1×n matrix (array or coordinate; absent coordinate entries are 0) as a vector.</summary>
    public static double[] ReadVector(string path)
    {
        var m = ReadAny(path);
        if (m.Rows != 1 && m.Cols != 1)
            throw new DataFormatException(path, $"expected a vector (an n×1 or 1×n matrix) but the size line says {m.Rows}×{m.Cols}");
        return m switch
        {
            DenseMatrix dense => dense.Data, // n×1 and 1×n row-major data are the vector itself
            CsrMatrix csr => csr.ToDense().Data,
            _ => throw new InvalidOperationException($"unexpected matrix type {m.GetType().Name}"),
        };
    }

    /// <summary>Writes <c>%%MatrixMarket matrix coordinate real general</c> with the stored entries of <paramref name="m"/>, row by row. Atomic.</summary>
    public static void Write(string path, CsrMatrix m)
    {
        long bad = FileIo.FirstNonFinite(m.Values);
        if (bad >= 0)
        {
            int row = Array.FindLastIndex(m.RowPointers, p => p <= bad);
            throw new DataFormatException(path, $"cannot write non-finite value {FileIo.Describe(m.Values[bad])} at (row {row}, col {m.ColumnIndices[bad]}) (0-based)");
        }
        FileIo.WriteAtomic(path, stream =>
        {
            using var w = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            w.WriteLine("%%MatrixMarket matrix coordinate real general");
            w.WriteLine("% written by DistSoftmax; 1-based indices");
            w.WriteLine(FormattableString.Invariant($"{m.Rows} {m.Cols} {m.Values.LongLength}"));
            for (int i = 0; i < m.Rows; i++)
                for (long k = m.RowPointers[i]; k < m.RowPointers[i + 1]; k++)
                    w.WriteLine(FormattableString.Invariant($"{i + 1} {m.ColumnIndices[k] + 1} {m.Values[k]:R}"));
        });
    }

    /// <summary>Writes a vector as an n×1 <c>array real general</c> file. Atomic.</summary>
    public static void WriteVector(string path, double[] v)
    {
        long bad = FileIo.FirstNonFinite(v);
        if (bad >= 0) throw new DataFormatException(path, $"cannot write non-finite value {FileIo.Describe(v[bad])} at index [{bad}] (0-based)");
        FileIo.WriteAtomic(path, stream =>
        {
            using var w = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            w.WriteLine("%%MatrixMarket matrix array real general");
            w.WriteLine("% written by DistSoftmax");
            w.WriteLine(FormattableString.Invariant($"{v.Length} 1"));
            foreach (double x in v) w.WriteLine(x.ToString("R", CultureInfo.InvariantCulture));
        });
    }

    // ------------------------------------------------------------------ parsing

    private static (Format, Field, Symmetry) ReadBanner(LineReader r)
    {
        string? line = r.Next();
        if (line is null) throw r.Error("the file is empty (expected a %%MatrixMarket banner)");
        var t = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (t.Length == 0 || !t[0].Equals("%%MatrixMarket", StringComparison.OrdinalIgnoreCase))
            throw r.Error($"expected the banner '%%MatrixMarket matrix <format> <field> <symmetry>' but found '{Short(line)}'");
        if (t.Length != 5)
            throw r.Error($"the banner needs 4 words after %%MatrixMarket (matrix, format, field, symmetry) but has {t.Length - 1}");
        if (!t[1].Equals("matrix", StringComparison.OrdinalIgnoreCase))
            throw r.Error($"unsupported object '{t[1]}' in the banner (only 'matrix')");
        Format format = t[2].ToLowerInvariant() switch
        {
            "coordinate" => Format.Coordinate,
            "array" => Format.Array,
            _ => throw r.Error($"unsupported format '{t[2]}' in the banner (expected coordinate or array)"),
        };
        Field field = t[3].ToLowerInvariant() switch
        {
            "real" or "double" => Field.Real,
            "integer" => Field.Integer,
            "pattern" => Field.Pattern,
            "complex" => throw r.Error("complex matrices are not supported (field must be real, integer or pattern)"),
            _ => throw r.Error($"unsupported field '{t[3]}' in the banner (expected real, integer or pattern)"),
        };
        Symmetry symmetry = t[4].ToLowerInvariant() switch
        {
            "general" => Symmetry.General,
            "symmetric" => Symmetry.Symmetric,
            "skew-symmetric" => Symmetry.SkewSymmetric,
            "hermitian" => throw r.Error("hermitian matrices are not supported (they are complex)"),
            _ => throw r.Error($"unsupported symmetry '{t[4]}' in the banner (expected general, symmetric or skew-symmetric)"),
        };
        if (format == Format.Array && field == Field.Pattern)
            throw r.Error("field 'pattern' is only valid with the coordinate format");
        return (format, field, symmetry);
    }

    /// <summary>Skips comments and blank lines and parses the size line: <paramref name="count"/> positive/non-negative integers.</summary>
    private static long[] ReadSizeLine(LineReader r, Format format)
    {
        string? line = r.NextData();
        string expected = format == Format.Coordinate ? "'rows cols entries'" : "'rows cols'";
        if (line is null) throw r.Error($"the file ends before the size line {expected}");
        var t = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        int want = format == Format.Coordinate ? 3 : 2;
        if (t.Length != want) throw r.Error($"bad size line '{Short(line)}': expected {expected}");
        var v = new long[want];
        for (int k = 0; k < want; k++)
            if (!long.TryParse(t[k], NumberStyles.None, CultureInfo.InvariantCulture, out v[k]))
                throw r.Error($"bad size line '{Short(line)}': '{t[k]}' is not a non-negative integer");
        if (v[0] == 0 || v[1] == 0) throw r.Error($"the matrix is empty (size line says {v[0]}×{v[1]})");
        if (v[0] > int.MaxValue || v[1] > int.MaxValue) throw r.Error($"dimensions {v[0]}×{v[1]} are too large (at most {int.MaxValue})");
        return v;
    }

    private static CsrMatrix ReadCoordinate(LineReader r, Field field, Symmetry symmetry)
    {
        long[] size = ReadSizeLine(r, Format.Coordinate);
        int sizeLine = r.LineNumber;
        int rows = (int)size[0], cols = (int)size[1];
        long nnz = size[2];
        if (symmetry != Symmetry.General && rows != cols)
            throw r.Error($"a {SymmetryName(symmetry)} matrix must be square but the size line says {rows}×{cols}");
        // Every entry line takes at least 3 bytes ("1 1"), which bounds what a genuine file can hold and keeps a
        // corrupt count from allocating huge arrays before "too few entries" could be reported.
        if (nnz > r.RemainingBytesUpperBound / 2 + 1 || nnz > Array.MaxLength)
            throw r.Error($"the size line declares {nnz} entries, more than the rest of the file can hold");

        var ri = new int[nnz];
        var ci = new int[nnz];
        var val = new double[nnz];
        int tokens = field == Field.Pattern ? 2 : 3;
        long mirrored = 0;
        for (long k = 0; k < nnz; k++)
        {
            string? line = r.NextData();
            if (line is null)
                throw r.Error($"too few entries: the size line (line {sizeLine}) declares {nnz} but the file ends after {k}");
            var span = line.AsSpan();
            int i = ParseIndex(r, ref span, "row", rows);
            int j = ParseIndex(r, ref span, "column", cols);
            double v = field switch
            {
                Field.Pattern => 1.0,
                Field.Integer => ParseInteger(r, ref span),
                _ => ParseReal(r, ref span),
            };
            if (!NextToken(ref span).IsEmpty)
                throw r.Error($"too many values on an entry line (expected {tokens}: {(field == Field.Pattern ? "row col" : "row col value")})");
            if (symmetry != Symmetry.General)
            {
                if (i < j) throw r.Error($"entry ({i + 1}, {j + 1}) is above the diagonal; a {SymmetryName(symmetry)} file stores only the lower triangle");
                if (i == j && symmetry == Symmetry.SkewSymmetric) throw r.Error($"entry ({i + 1}, {j + 1}) is on the diagonal of a skew-symmetric matrix");
                if (i != j) mirrored++;
            }
            ri[k] = i; ci[k] = j; val[k] = v;
        }
        string? extra = r.NextData();
        if (extra is not null)
            throw r.Error($"too many entries: the size line (line {sizeLine}) declares {nnz} but more lines follow ('{Short(extra)}')");

        return BuildCsr(rows, cols, ri, ci, val, mirrored, symmetry, r.Path);
    }

    /// <summary>Triplets (plus mirrored ones for symmetric files) → CSR: bucket by row, sort each row by column, sum duplicates.</summary>
    private static CsrMatrix BuildCsr(int rows, int cols, int[] ri, int[] ci, double[] val, long mirrored, Symmetry symmetry, string path)
    {
        long total = ri.LongLength + mirrored;
        if (total > Array.MaxLength) throw new DataFormatException(path, $"too many entries ({total}) after mirroring the symmetric part");
        var counts = new long[rows + 1];
        for (long k = 0; k < ri.LongLength; k++)
        {
            counts[ri[k] + 1]++;
            if (symmetry != Symmetry.General && ri[k] != ci[k]) counts[ci[k] + 1]++;
        }
        for (int i = 0; i < rows; i++) counts[i + 1] += counts[i];
        var start = (long[])counts.Clone();
        var cols2 = new int[total];
        var vals2 = new double[total];
        var next = (long[])counts.Clone();
        double mirrorSign = symmetry == Symmetry.SkewSymmetric ? -1 : 1;
        for (long k = 0; k < ri.LongLength; k++)
        {
            long p = next[ri[k]]++;
            cols2[p] = ci[k]; vals2[p] = val[k];
            if (symmetry != Symmetry.General && ri[k] != ci[k])
            {
                long q = next[ci[k]]++;
                cols2[q] = ri[k]; vals2[q] = mirrorSign * val[k];
            }
        }

        // Sort every row by column and merge duplicate columns (summing them), compacting in place.
        var rowPtr = new long[rows + 1];
        long write = 0;
        for (int i = 0; i < rows; i++)
        {
            int from = (int)start[i], len = (int)(start[i + 1] - start[i]);
            Array.Sort(cols2, vals2, from, len);
            for (int p = from; p < from + len; p++)
            {
                if (write > rowPtr[i] && cols2[write - 1] == cols2[p]) vals2[write - 1] += vals2[p];
                else { cols2[write] = cols2[p]; vals2[write] = vals2[p]; write++; }
            }
            rowPtr[i + 1] = write;
        }
        if (write < total)
        {
            Array.Resize(ref cols2, (int)write);
            Array.Resize(ref vals2, (int)write);
        }
        long bad = FileIo.FirstNonFinite(vals2);
        if (bad >= 0) // only possible when summing duplicates overflows
        {
            int row = Array.FindLastIndex(rowPtr, q => q <= bad);
            throw new DataFormatException(path, $"summing duplicate entries at ({row + 1}, {cols2[bad] + 1}) overflows to {FileIo.Describe(vals2[bad])}");
        }
        return new CsrMatrix(rows, cols, rowPtr, cols2, vals2);
    }

    private static DenseMatrix ReadArray(LineReader r, Field field, Symmetry symmetry)
    {
        long[] size = ReadSizeLine(r, Format.Array);
        int sizeLine = r.LineNumber;
        int rows = (int)size[0], cols = (int)size[1];
        if (symmetry != Symmetry.General && rows != cols)
            throw r.Error($"a {SymmetryName(symmetry)} matrix must be square but the size line says {rows}×{cols}");
        if ((long)rows * cols > Array.MaxLength) throw r.Error($"a dense {rows}×{cols} matrix is too large to hold in memory");
        long expected = symmetry switch
        {
            Symmetry.General => (long)rows * cols,
            Symmetry.Symmetric => (long)rows * (rows + 1) / 2,
            _ => (long)rows * (rows - 1) / 2,
        };
        var m = new DenseMatrix(rows, cols);
        long read = 0;
        // Column-major order; for symmetric (skew-symmetric) files only rows j..n-1 (j+1..n-1) of column j are stored.
        for (int j = 0; j < cols; j++)
        {
            int firstRow = symmetry switch { Symmetry.General => 0, Symmetry.Symmetric => j, _ => j + 1 };
            for (int i = firstRow; i < rows; i++)
            {
                string? line = r.NextData();
                if (line is null)
                    throw r.Error($"too few values: the size line (line {sizeLine}) needs {expected} but the file ends after {read}");
                var span = line.AsSpan();
                double v = field == Field.Integer ? ParseInteger(r, ref span) : ParseReal(r, ref span);
                if (!NextToken(ref span).IsEmpty) throw r.Error("an array file must have exactly one value per line");
                m[i, j] = v;
                if (i != j && symmetry == Symmetry.Symmetric) m[j, i] = v;
                if (symmetry == Symmetry.SkewSymmetric) m[j, i] = -v;
                read++;
            }
        }
        string? extra = r.NextData();
        if (extra is not null)
            throw r.Error($"too many values: the size line (line {sizeLine}) needs {expected} but more lines follow ('{Short(extra)}')");
        return m;
    }

    private static int ParseIndex(LineReader r, ref ReadOnlySpan<char> span, string what, int limit)
    {
        var tok = NextToken(ref span);
        if (tok.IsEmpty) throw r.Error($"missing {what} index");
        if (!long.TryParse(tok, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
            throw r.Error($"{what} index '{tok}' is not an integer");
        if (v < 1 || v > limit) throw r.Error($"{what} index {v} is outside 1..{limit}");
        return (int)(v - 1);
    }

    private static double ParseInteger(LineReader r, ref ReadOnlySpan<char> span)
    {
        var tok = NextToken(ref span);
        if (tok.IsEmpty) throw r.Error("missing value");
        if (!long.TryParse(tok, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
            throw r.Error($"value '{tok}' is not an integer (the banner says field integer)");
        return v;
    }

    private static double ParseReal(LineReader r, ref ReadOnlySpan<char> span)
    {
        var tok = NextToken(ref span);
        if (tok.IsEmpty) throw r.Error("missing value");
        if (!double.TryParse(tok, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            throw r.Error($"value '{tok}' is not a number");
        if (!double.IsFinite(v)) throw r.Error($"non-finite value '{tok}'");
        return v;
    }

    /// <summary>Returns the next whitespace-separated token and advances past it (empty at the end of the line).</summary>
    private static ReadOnlySpan<char> NextToken(ref ReadOnlySpan<char> span)
    {
        int s = 0;
        while (s < span.Length && char.IsWhiteSpace(span[s])) s++;
        int e = s;
        while (e < span.Length && !char.IsWhiteSpace(span[e])) e++;
        var tok = span[s..e];
        span = span[e..];
        return tok;
    }

    private static string SymmetryName(Symmetry s) => s == Symmetry.Symmetric ? "symmetric" : "skew-symmetric";

    private static string Short(string s) => s.Length <= 60 ? s.Trim() : s[..57].Trim() + "...";

    /// <summary>Reads lines with 1-based line numbers, for error messages of the form <c>path: line N: problem</c>.</summary>
    private sealed class LineReader : IDisposable
    {
        private readonly BoundedLineReader _reader;
        private readonly long _length;
        private long _consumedChars;
        public string Path { get; }
        public int LineNumber { get; private set; }

        public LineReader(string path)
        {
            Path = path;
            var text = FileIo.OpenText(path);
            _reader = new BoundedLineReader(text, path);
            _length = text.BaseStream.Length;
        }

        /// <summary>An upper bound on the bytes not yet read (characters consumed never exceed bytes read).</summary>
        public long RemainingBytesUpperBound => Math.Max(0, _length - _consumedChars + 1);

        /// <summary>The next physical line, or null at the end.</summary>
        public string? Next()
        {
            string? line;
            line = _reader.ReadLine();
            if (line is not null) { LineNumber++; _consumedChars += line.Length + 1; }
            return line;
        }

        /// <summary>The next line that is neither blank nor a '%' comment, or null at the end.</summary>
        public string? NextData()
        {
            while (Next() is string line)
            {
                var t = line.AsSpan().TrimStart();
                if (t.IsEmpty || t[0] == '%') continue;
                return line;
            }
            return null;
        }

        public DataFormatException Error(string problem) => new(Path, LineNumber > 0 ? $"line {LineNumber}: {problem}" : problem);

        public void Dispose() => _reader.Dispose();
    }
}
