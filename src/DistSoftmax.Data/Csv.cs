using System.Globalization;
using System.Text;
using DistSoftmax.Core.Linear;

namespace DistSoftmax.Data;

/// <summary>
/// Headerless numeric text matrices (<c>.csv</c>, <c>.txt</c>): one matrix row per line, values parsed with the invariant
/// culture (so '.' is the decimal point).
/// <para>Separator: if the first data line contains a comma the file is comma-separated (spaces/tabs around values are
/// allowed, empty fields are errors); otherwise values are separated by runs of whitespace (as written by
/// <c>numpy.savetxt</c>). Blank lines and lines starting with '#' are ignored wherever they occur. A value may be wrapped in
/// double quotes. Every row must have the same number of values; NaN/Infinity are rejected. Errors name the 1-based line
/// and, for values, the 1-based column.</para>
/// <para>Writing uses commas and round-trip ("R") formatting, so a write followed by a read gives back identical doubles.</para>
/// </summary>
public static class Csv
{
    /// <summary>Reads an n×d matrix.</summary>
    public static DenseMatrix ReadMatrix(string path)
    {
        var (rows, cols, data) = Parse(path);
        return new DenseMatrix(rows, cols, data);
    }

    /// <summary>Reads a vector written either as one column (n lines of one value) or as one row (one line of n values).</summary>
    public static double[] ReadVector(string path)
    {
        var (rows, cols, data) = Parse(path);
        if (rows != 1 && cols != 1)
            throw new DataFormatException(path, $"expected a vector (one column or one row) but the file holds a {rows}×{cols} matrix");
        return data;
    }

    /// <summary>Writes one line per row, values separated by commas. Atomic; non-finite values are rejected.</summary>
    public static void Write(string path, DenseMatrix m)
    {
        CheckWritable(path, m.Data, m.Cols);
        FileIo.WriteAtomic(path, stream =>
        {
            using var w = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            for (int i = 0; i < m.Rows; i++)
            {
                var row = m.Row(i);
                for (int j = 0; j < row.Length; j++)
                {
                    if (j > 0) w.Write(',');
                    w.Write(row[j].ToString("R", CultureInfo.InvariantCulture));
                }
                w.WriteLine();
            }
        });
    }

    /// <summary>Writes a vector as a single column (one value per line). Atomic; non-finite values are rejected.</summary>
    public static void Write(string path, double[] v)
    {
        CheckWritable(path, v, 1);
        FileIo.WriteAtomic(path, stream =>
        {
            using var w = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            foreach (double x in v) w.WriteLine(x.ToString("R", CultureInfo.InvariantCulture));
        });
    }

    private static void CheckWritable(string path, double[] data, int cols)
    {
        if (data.Length == 0) throw new DataFormatException(path, "cannot write an empty array");
        long bad = FileIo.FirstNonFinite(data);
        if (bad >= 0)
            throw new DataFormatException(path, $"cannot write non-finite value {FileIo.Describe(data[bad])} at (row {bad / cols}, col {bad % cols}) (0-based)");
    }

    /// <summary>Parses the whole file into row-major values.</summary>
    private static (int Rows, int Cols, double[] Data) Parse(string path)
    {
        using var reader = new BoundedLineReader(FileIo.OpenText(path), path);
        var values = new List<double>();
        int cols = -1, rows = 0, lineNo = 0, firstLine = 0;
        bool? comma = null;
        while (true)
        {
            string? line;
            line = reader.ReadLine();
            if (line is null) break;
            lineNo++;
            var trimmed = line.AsSpan().Trim();
            if (trimmed.IsEmpty || trimmed[0] == '#') continue;
            comma ??= trimmed.Contains(',');

            int before = values.Count;
            int field = 0;
            var rest = trimmed;
            while (true)
            {
                ReadOnlySpan<char> tok;
                if (comma == true)
                {
                    int c = rest.IndexOf(',');
                    tok = (c < 0 ? rest : rest[..c]).Trim();
                    rest = c < 0 ? [] : rest[(c + 1)..];
                    field++;
                    values.Add(ParseValue(path, lineNo, field, tok));
                    if (c < 0) break;
                }
                else
                {
                    rest = rest.TrimStart();
                    if (rest.IsEmpty) break;
                    int e = 0;
                    while (e < rest.Length && !char.IsWhiteSpace(rest[e])) e++;
                    tok = rest[..e];
                    rest = rest[e..];
                    field++;
                    values.Add(ParseValue(path, lineNo, field, tok));
                }
            }

            int n = values.Count - before;
            if (cols < 0) { cols = n; firstLine = lineNo; }
            else if (n != cols)
                throw new DataFormatException(path, $"line {lineNo}: ragged row with {n} values, but line {firstLine} has {cols}");
            rows++;
        }
        if (rows == 0) throw new DataFormatException(path, "the file holds no data (only blank or comment lines)");
        return (rows, cols, values.ToArray());
    }

    private static double ParseValue(string path, int line, int field, ReadOnlySpan<char> tok)
    {
        if (tok.Length >= 2 && tok[0] == '"' && tok[^1] == '"') tok = tok[1..^1].Trim();
        if (tok.IsEmpty) throw new DataFormatException(path, $"line {line}, column {field}: empty value");
        if (!double.TryParse(tok, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            throw new DataFormatException(path, $"line {line}, column {field}: '{Short(tok)}' is not a number (the file must be headerless numeric CSV)");
        if (!double.IsFinite(v))
            throw new DataFormatException(path, $"line {line}, column {field}: non-finite value '{Short(tok)}'");
        return v;
    }

    private static string Short(ReadOnlySpan<char> s) => s.Length <= 40 ? s.ToString() : s[..37].ToString() + "...";
}
