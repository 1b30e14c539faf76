using DistSoftmax.Core.Linear;

namespace DistSoftmax.Data;

/// <summary>
/// Reads and writes matrices and vectors choosing the format by file extension (case-insensitive):
/// <c>.npy</c> (<see cref="Npy"/>), <c>.mtx</c> (<see cref="MatrixMarket"/>), <c>.csv</c> / <c>.txt</c> (<see cref="Csv"/>).
/// Every failure is a <see cref="DataFormatException"/> whose message starts with the path.
/// </summary>
public static class MatrixFile
{
    /// <summary>The extensions understood, for help texts.</summary>
    public static IReadOnlyList<string> SupportedExtensions { get; } = [".npy", ".mtx", ".csv", ".txt"];

    private enum Kind { Npy, Mtx, Csv }

    /// <summary>
    /// Reads a matrix: .npy and .csv/.txt give a <see cref="DenseMatrix"/>; .mtx gives a <see cref="CsrMatrix"/> for a
    /// coordinate file (kept sparse) and a <see cref="DenseMatrix"/> for an array file.
    /// </summary>
    public static IRowMatrix ReadMatrix(string path) => KindForRead(path) switch
    {
        Kind.Npy => Npy.ReadMatrix(path),
        Kind.Mtx => MatrixMarket.ReadAny(path),
        _ => Csv.ReadMatrix(path),
    };

    /// <summary>Reads a matrix as dense (a sparse .mtx is expanded).</summary>
    public static DenseMatrix ReadDense(string path) => ReadMatrix(path) switch
    {
        DenseMatrix d => d,
        CsrMatrix c => c.ToDense(),
        var other => throw new InvalidOperationException($"unexpected matrix type {other.GetType().Name}"),
    };

    /// <summary>Reads a vector: a 1-D .npy, or an n×1 / 1×n array in any of the formats.</summary>
    public static double[] ReadVector(string path) => KindForRead(path) switch
    {
        Kind.Npy => Npy.ReadVector(path),
        Kind.Mtx => MatrixMarket.ReadVector(path),
        _ => Csv.ReadVector(path),
    };

    /// <summary>Writes a dense matrix: .npy (&lt;f8, C order), .csv/.txt (comma-separated) or .mtx (coordinate, exact zeros left out).</summary>
    public static void Write(string path, DenseMatrix m)
    {
        switch (KindFor(path))
        {
            case Kind.Npy: Npy.Write(path, m); break;
            case Kind.Mtx: MatrixMarket.Write(path, m.ToCsr()); break;
            default: Csv.Write(path, m); break;
        }
    }

    /// <summary>Writes a sparse matrix: .mtx keeps it sparse; .npy and .csv/.txt expand it to dense.</summary>
    public static void Write(string path, CsrMatrix m)
    {
        switch (KindFor(path))
        {
            case Kind.Mtx: MatrixMarket.Write(path, m); break;
            default: Write(path, m.ToDense()); break;
        }
    }

    /// <summary>Writes either kind of matrix (see the two typed overloads).</summary>
    public static void Write(string path, IRowMatrix m)
    {
        switch (m)
        {
            case DenseMatrix d: Write(path, d); break;
            case CsrMatrix c: Write(path, c); break;
            default: throw new ArgumentException($"cannot write a {m.GetType().Name}", nameof(m));
        }
    }

    /// <summary>Writes a vector: .npy (1-D), .csv/.txt (one value per line) or .mtx (n×1 array).</summary>
    public static void Write(string path, double[] v)
    {
        switch (KindFor(path))
        {
            case Kind.Npy: Npy.Write(path, v); break;
            case Kind.Mtx: MatrixMarket.WriteVector(path, v); break;
            default: Csv.Write(path, v); break;
        }
    }

    private static Kind KindForRead(string path)
    {
        if (Directory.Exists(path)) throw new DataFormatException(path, "is a directory, not a file");
        if (!File.Exists(path)) throw new DataFormatException(path, "file not found");
        return KindFor(path);
    }

    private static Kind KindFor(string path)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".npy" => Kind.Npy,
            ".mtx" => Kind.Mtx,
            ".csv" or ".txt" => Kind.Csv,
            _ => throw new DataFormatException(path, (ext.Length == 0 ? "no file extension" : $"unsupported file extension '{ext}'") +
                $" (supported: {string.Join(", ", SupportedExtensions)})"),
        };
    }
}
