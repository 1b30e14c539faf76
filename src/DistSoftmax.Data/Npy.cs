using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using DistSoftmax.Core.Linear;

namespace DistSoftmax.Data;

/// <summary>
/// NumPy <c>.npy</c> files (format versions 1.0, 2.0 and 3.0).
/// <para>Layout: the 6 magic bytes <c>\x93NUMPY</c>, one byte major and one byte minor version, the header length
/// (little-endian uint16 for version 1.x, uint32 for 2.x and 3.x), then that many bytes of header (latin-1, or UTF-8 for
/// 3.x) holding a Python dict literal such as <c>{'descr': '&lt;f8', 'fortran_order': False, 'shape': (3, 4), }</c>,
/// padded with spaces and ended by '\n', then the raw array data: product(shape) items of the dtype in
/// <c>descr</c>, row-major (C order) unless <c>fortran_order</c> is True (column-major).</para>
/// <para>Reading accepts dtypes float16/32/64 and signed/unsigned integers of 1, 2, 4 or 8 bytes, in either byte
/// order (big-endian data is converted), and converts them to double. Arrays must be non-empty and every value
/// finite. Bytes after the data region are rejected (they usually mean the header's shape is wrong).</para>
/// <para>Writing produces <c>&lt;f8</c>, C order, version 1.0, header padded so the data starts at a multiple of 64 bytes.</para>
/// </summary>
public static partial class Npy
{
    /// <summary>Longest header accepted (NumPy's own reader stops at 10 000 bytes): a length read from the file is never trusted.</summary>
    public const int MaxHeaderBytes = 1 << 20;

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Elements converted per chunk when the data needs conversion (and per bulk read; writes: <see cref="WriteChunkElements"/>).</summary>
    private const int ChunkElements = 1 << 17;

    /// <summary>Reads a 2-D array as a dense row-major matrix (Fortran-ordered data is transposed into row-major).</summary>
    public static DenseMatrix ReadMatrix(string path)
    {
        using var fs = FileIo.OpenRead(path);
        var header = ReadHeader(path, fs);
        if (header.Shape.Length != 2)
            throw new DataFormatException(path, $"expected a 2-D matrix but the array has shape {FormatShape(header.Shape)}" +
                (header.Shape.Length == 1 ? " (a 1-D array is a vector)" : ""));
        var (rows, cols) = ((int)header.Shape[0], (int)header.Shape[1]);
        double[] data = ReadData(path, fs, header);
        if (header.StridedRows)
            data = new DenseMatrix(cols, rows, data).Transpose().Data; // column-major (r,c) is row-major (c,r)
        CheckFinite(path, data, header.Shape);
        return new DenseMatrix(rows, cols, data);
    }

    /// <summary>Reads a vector: a 1-D array of shape (n,), or a 2-D array of shape (n, 1) or (1, n).</summary>
    public static double[] ReadVector(string path)
    {
        using var fs = FileIo.OpenRead(path);
        var header = ReadHeader(path, fs);
        bool isVector = header.Shape.Length == 1 || (header.Shape.Length == 2 && (header.Shape[0] == 1 || header.Shape[1] == 1));
        if (!isVector)
            throw new DataFormatException(path, $"expected a vector (shape (n,), (n, 1) or (1, n)) but the array has shape {FormatShape(header.Shape)}");
        double[] data = ReadData(path, fs, header); // with one dimension of 1, C and Fortran order coincide
        CheckFinite(path, data, header.Shape);
        return data;
    }

    /// <summary>Writes an n×d matrix as <c>&lt;f8</c>, C order, shape (n, d). Atomic; non-finite values are rejected.</summary>
    public static void Write(string path, DenseMatrix m) => WriteArray(path, m.Data, [m.Rows, m.Cols]);

    /// <summary>Writes a vector as a 1-D <c>&lt;f8</c> array of shape (n,). Atomic; non-finite values are rejected.</summary>
    public static void Write(string path, double[] v) => WriteArray(path, v, [v.LongLength]);

    /// <summary>
    /// Writes rows×cols values held row-major in <paramref name="data"/> (e.g. one block of a larger array, without
    /// copying it out) as an n×d matrix, like <see cref="Write(string, DenseMatrix)"/>.
    /// </summary>
    public static void Write(string path, ReadOnlyMemory<double> data, int rows, int cols)
    {
        if ((long)rows * cols != data.Length) throw new ArgumentException($"{rows}×{cols} values expected, got {data.Length}");
        WriteArray(path, data, [rows, cols]);
    }

    // ------------------------------------------------------------------ header

    /// <summary>What the header says: element type, layout, shape, and where the data starts.</summary>
    private sealed record Header(Dtype Dtype, bool FortranOrder, long[] Shape, long DataOffset)
    {
        public long Count => Shape.Aggregate(1L, (a, b) => a * b);

        /// <summary>
        /// Whether a 2-D array's rows are strided through the file: Fortran order with more than one row and column
        /// (with one of either, C and Fortran order coincide).
        /// </summary>
        public bool StridedRows => FortranOrder && Shape.Length == 2 && Shape[0] > 1 && Shape[1] > 1;
    }

    /// <summary>A supported element type: kind 'f' (float), 'i' (signed) or 'u' (unsigned), size in bytes, byte order.</summary>
    private readonly record struct Dtype(string Descr, char Kind, int Size, bool BigEndian)
    {
        public string Name => Kind switch { 'f' => "float", 'i' => "int", _ => "uint" } + (8 * Size).ToString(CultureInfo.InvariantCulture);

        /// <summary>Whether items are stored in this machine's byte order (one-byte items always are).</summary>
        public bool NativeOrder => Size == 1 || BigEndian != BitConverter.IsLittleEndian;

        /// <summary>Whether the file's bytes are exactly the in-memory doubles: float64 in native order.</summary>
        public bool RawDoubles => Kind == 'f' && Size == 8 && NativeOrder;
    }

    private static Header ReadHeader(string path, FileStream fs)
    {
        long fileLength = fs.Length;
        Span<byte> pre = stackalloc byte[12];
        int got = ReadUpTo(fs, pre[..10]);
        if (got < 6 || !pre[..6].SequenceEqual(Magic))
            throw new DataFormatException(path, "not a .npy file (missing the \\x93NUMPY magic string)");
        if (got < 10) throw new DataFormatException(path, "truncated .npy preamble (file ends before the header length)");
        byte major = pre[6], minor = pre[7];
        long headerLength;
        int preamble;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(pre[8..10]);
                preamble = 10;
                break;
            case 2 or 3:
                if (ReadUpTo(fs, pre[10..12]) < 2) throw new DataFormatException(path, "truncated .npy preamble (file ends before the header length)");
                headerLength = BinaryPrimitives.ReadUInt32LittleEndian(pre[8..12]);
                preamble = 12;
                break;
            default:
                throw new DataFormatException(path, $"unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)");
        }
        if (headerLength > MaxHeaderBytes)
            throw new DataFormatException(path, $".npy header of {headerLength} bytes is longer than the {MaxHeaderBytes} accepted");
        if (preamble + headerLength > fileLength)
            throw new DataFormatException(path, $"truncated .npy header: it declares {headerLength} bytes but the file has only {fileLength - preamble} after the preamble");

        var raw = new byte[headerLength];
        fs.ReadExactly(raw);
        // Versions 1.x and 2.x store the header in latin-1, version 3.x in UTF-8.
        string text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(raw).TrimEnd(' ', '\n', '\r', '\t', '\0');

        Dictionary<string, object?> dict;
        try
        {
            var parser = new PyLiteralParser(text);
            dict = parser.ParseWholeDict();
        }
        catch (FormatException e)
        {
            throw new DataFormatException(path, $"malformed .npy header dict ({e.Message}): {Abbreviate(text)}");
        }

        object? descrObj = Require(path, dict, "descr", text);
        object? fortranObj = Require(path, dict, "fortran_order", text);
        object? shapeObj = Require(path, dict, "shape", text);

        if (fortranObj is not bool fortran)
            throw new DataFormatException(path, $"malformed .npy header dict ('fortran_order' must be True or False): {Abbreviate(text)}");
        if (shapeObj is not List<object?> shapeList || shapeList.Any(s => s is not long))
            throw new DataFormatException(path, $"malformed .npy header dict ('shape' must be a tuple of integers): {Abbreviate(text)}");
        long[] shape = shapeList.Select(s => (long)s!).ToArray();
        if (shape.Any(s => s < 0))
            throw new DataFormatException(path, $"malformed .npy header dict (negative dimension in shape {FormatShape(shape)})");
        if (descrObj is not string descr)
            throw new DataFormatException(path, descrObj is List<object?>
                ? "unsupported dtype: structured (record) arrays are not supported; expected a float or integer array"
                : $"malformed .npy header dict ('descr' must be a dtype string): {Abbreviate(text)}");
        Dtype dtype = ParseDtype(path, descr);

        if (shape.Length == 0) throw new DataFormatException(path, "the array is a 0-D scalar (shape ()); expected a vector or a matrix");
        if (shape.Contains(0)) throw new DataFormatException(path, $"the array is empty (shape {FormatShape(shape)} has a dimension of 0)");
        if (shape.Any(s => s > int.MaxValue))
            throw new DataFormatException(path, $"shape {FormatShape(shape)} has a dimension larger than {int.MaxValue}");
        long count = 1;
        foreach (long s in shape)
        {
            if (count > Array.MaxLength / s)
                throw new DataFormatException(path, $"shape {FormatShape(shape)} has more than {Array.MaxLength} elements, too many to hold in memory");
            count *= s;
        }

        long dataOffset = preamble + headerLength;
        long needed = count * dtype.Size;
        long available = fileLength - dataOffset;
        if (available < needed)
            throw new DataFormatException(path, $"header shape {FormatShape(shape)} needs {needed} bytes of {dtype.Name} data but the file has {available}");
        if (available > needed)
            throw new DataFormatException(path, $"header shape {FormatShape(shape)} needs {needed} bytes of {dtype.Name} data but the file has {available} (trailing bytes are not allowed)");
        return new Header(dtype, fortran, shape, dataOffset);
    }

    private static object? Require(string path, Dictionary<string, object?> dict, string key, string text) =>
        dict.TryGetValue(key, out var v) ? v : throw new DataFormatException(path, $"malformed .npy header dict (no '{key}' key): {Abbreviate(text)}");

    /// <summary>Parses a NumPy dtype string such as <c>&lt;f8</c>, <c>&gt;i4</c>, <c>|u1</c>; unsupported kinds are named in the error.</summary>
    private static Dtype ParseDtype(string path, string descr)
    {
        string s = descr;
        char order = '=';
        if (s.Length > 0 && s[0] is '<' or '>' or '|' or '=') { order = s[0]; s = s[1..]; }
        char kind = s.Length > 0 ? s[0] : '?';
        string sizeText = s.Length > 1 ? s[1..] : "";
        bool sized = int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out int size);

        string? unsupported = kind switch
        {
            'c' => sized ? $"complex{8 * size}" : "complex",
            'b' or '?' when s == "b1" || s == "?" => "bool",
            'U' => "unicode string",
            'S' or 'a' => "byte string",
            'O' => "Python object",
            'M' => "datetime",
            'm' => "timedelta",
            'V' => "void/raw bytes",
            'f' when sized && size is 10 or 12 or 16 => $"float{8 * size}, extended precision",
            'f' when sized && size is 2 or 4 or 8 => null,
            'i' or 'u' when sized && size is 1 or 2 or 4 or 8 => null,
            _ => "unrecognised",
        };
        if (unsupported is not null)
            throw new DataFormatException(path, $"unsupported dtype '{descr}' ({unsupported}); supported dtypes are float16/32/64 and signed or unsigned integers of 1, 2, 4 or 8 bytes");
        if (order == '|' && size != 1)
            throw new DataFormatException(path, $"unsupported dtype '{descr}' (byte order '|' is only valid for 1-byte types)");
        bool bigEndian = order == '>' || (order == '=' && !BitConverter.IsLittleEndian);
        return new Dtype(descr, kind, size, bigEndian && size > 1);
    }

    // ------------------------------------------------------------------ data

    /// <summary>Reads the data region (product(shape) items, in file order) into a new double[].</summary>
    private static double[] ReadData(string path, FileStream fs, Header header)
    {
        // Every item is overwritten by the read (or the read throws), so the array need not be zeroed first; its pages
        // are mapped in one call rather than one fault per page as the read fills them.
        var result = DistSoftmax.Core.Kernels.PopulatedArrays.Uninitialized(checked((int)header.Count));
        ReadDataInto(path, fs, header, result);
        return result;
    }

    /// <summary>Reads the <c>header.Count</c> items at the stream's position into <paramref name="result"/> (no allocation for float64 data).</summary>
    private static void ReadDataInto(string path, FileStream fs, Header header, Span<double> result)
    {
        var dt = header.Dtype;
        bool nativeOrder = dt.NativeOrder;
        try
        {
            if (dt.RawDoubles)
            {
                // Fast path: the file bytes are exactly the in-memory doubles; read them straight into the result.
                for (int start = 0; start < result.Length; start += ChunkElements)
                {
                    int n = Math.Min(ChunkElements, result.Length - start);
                    fs.ReadExactly(MemoryMarshal.AsBytes(result.Slice(start, n)));
                }
                return;
            }

            var buffer = new byte[ChunkElements * dt.Size];
            for (int start = 0; start < result.Length; start += ChunkElements)
            {
                int n = Math.Min(ChunkElements, result.Length - start);
                Span<byte> bytes = buffer.AsSpan(0, n * dt.Size);
                fs.ReadExactly(bytes);
                Convert(bytes, result.Slice(start, n), dt, nativeOrder);
            }
        }
        catch (EndOfStreamException e)
        {
            throw new DataFormatException(path, "file ended inside the data region (was it truncated while being read?)", e);
        }
        catch (IOException e)
        {
            throw new DataFormatException(path, $"cannot read: {FileIo.OneLine(e.Message)}", e);
        }
    }

    /// <summary>Converts <c>dst.Length</c> items of type <paramref name="dt"/> from raw bytes to doubles.</summary>
    private static void Convert(ReadOnlySpan<byte> src, Span<double> dst, Dtype dt, bool nativeOrder)
    {
        if (nativeOrder)
        {
            switch (dt.Kind, dt.Size)
            {
                case ('f', 8): MemoryMarshal.Cast<byte, double>(src).CopyTo(dst); return;
                case ('f', 4): Widen(MemoryMarshal.Cast<byte, float>(src), dst, static x => x); return;
                case ('f', 2): Widen(MemoryMarshal.Cast<byte, Half>(src), dst, static x => (double)x); return;
                case ('i', 1): Widen(MemoryMarshal.Cast<byte, sbyte>(src), dst, static x => x); return;
                case ('i', 2): Widen(MemoryMarshal.Cast<byte, short>(src), dst, static x => x); return;
                case ('i', 4): Widen(MemoryMarshal.Cast<byte, int>(src), dst, static x => x); return;
                case ('i', 8): Widen(MemoryMarshal.Cast<byte, long>(src), dst, static x => x); return;
                case ('u', 1): Widen(src, dst, static x => x); return;
                case ('u', 2): Widen(MemoryMarshal.Cast<byte, ushort>(src), dst, static x => x); return;
                case ('u', 4): Widen(MemoryMarshal.Cast<byte, uint>(src), dst, static x => x); return;
                case ('u', 8): Widen(MemoryMarshal.Cast<byte, ulong>(src), dst, static x => x); return;
            }
        }
        else
        {
            // Opposite byte order (big-endian data on a little-endian machine): reverse each item's bytes.
            int s = dt.Size;
            for (int i = 0; i < dst.Length; i++)
            {
                var b = src.Slice(i * s, s);
                dst[i] = (dt.Kind, s) switch
                {
                    ('f', 8) => BitConverter.Int64BitsToDouble(BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<long>(b))),
                    ('f', 4) => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<int>(b))),
                    ('f', 2) => (double)BitConverter.Int16BitsToHalf(BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<short>(b))),
                    ('i', 2) => BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<short>(b)),
                    ('i', 4) => BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<int>(b)),
                    ('i', 8) => BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<long>(b)),
                    ('u', 2) => BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<ushort>(b)),
                    ('u', 4) => BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<uint>(b)),
                    ('u', 8) => BinaryPrimitives.ReverseEndianness(MemoryMarshal.Read<ulong>(b)),
                    _ => throw new InvalidOperationException($"no conversion for dtype {dt.Descr}"),
                };
            }
            return;
        }
        throw new InvalidOperationException($"no conversion for dtype {dt.Descr}");
    }

    private static void Widen<T>(ReadOnlySpan<T> src, Span<double> dst, Func<T, double> f)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = f(src[i]);
    }

    /// <summary>Rejects NaN/±Infinity, naming the first offending index in row-major order: (row, col) for 2-D, [i] for 1-D.</summary>
    private static void CheckFinite(string path, double[] data, long[] shape)
    {
        long k = FileIo.FirstNonFinite(data);
        if (k < 0) return;
        string where = shape.Length == 2 ? $"(row {k / shape[1]}, col {k % shape[1]})" : $"[{k}]";
        throw new DataFormatException(path, $"non-finite value {FileIo.Describe(data[k])} at index {where} (0-based)");
    }

    // ------------------------------------------------------------------ writing

    private static void WriteArray(string path, ReadOnlyMemory<double> data, long[] shape) =>
        FileIo.WriteAtomic(path, stream => WriteTo(stream, path, data, shape));

    /// <summary>
    /// Writes <c>&lt;f8</c>, C-order .npy bytes of an array of the given shape to a stream (for callers that stage several
    /// files before committing them); messages name <paramref name="path"/>. Non-finite values are rejected.
    /// </summary>
    public static void WriteTo(Stream stream, string path, ReadOnlyMemory<double> data, long[] shape)
    {
        if (shape.Contains(0)) throw new DataFormatException(path, $"cannot write an empty array (shape {FormatShape(shape)})");
        var header = BuildHeader(shape);
        stream.Write(header);
        var scratch = BitConverter.IsLittleEndian ? null : new byte[WriteChunkElements * 8];
        long dataStart = stream.CanSeek ? stream.Position : header.Length; // a stream that cannot seek: assume it began the file
        for (long start = 0; start < data.Length;)
        {
            int n = (int)Math.Min(WriteElementsFrom(dataStart + 8 * start), data.Length - start);
            var chunk = data.Span.Slice((int)start, n);
            // Validate while writing: a NaN found here aborts the write and the temporary file is discarded.
            long bad = FileIo.FirstNonFinite(chunk);
            if (bad >= 0)
            {
                long k = start + bad;
                string where = shape.Length == 2 ? $"(row {k / shape[1]}, col {k % shape[1]})" : $"[{k}]";
                throw new DataFormatException(path, $"cannot write non-finite value {FileIo.Describe(chunk[(int)bad])} at index {where} (0-based)");
            }
            if (scratch is null) stream.Write(MemoryMarshal.AsBytes(chunk));
            else
            {
                for (int i = 0; i < n; i++) BinaryPrimitives.WriteDoubleLittleEndian(scratch.AsSpan(8 * i), chunk[i]);
                stream.Write(scratch, 0, 8 * n);
            }
            start += n;
        }
    }

    /// <summary>
    /// Large files are written in pieces that end on <see cref="PageCacheAlignment"/> boundaries of the file: Linux
    /// (ext4, XFS) then caches them in 2 MB folios, which every later mapping of the file maps with 2 MB page-table
    /// entries. Written in 64 KB-aligned pieces (a 128-byte header ahead of 1 MB writes through a 64 KB stream buffer,
    /// as before), a 1.28 GB A was cached in small folios, and on this project's VMs (shadow-paged: each 4 KB page a
    /// process touches first costs ≈ 1.25 µs) a solve of it spent 0.4 s on first touches and its passes ran ≈ 25 %
    /// slower (README, "Approximate Newton at large d").
    /// </summary>
    public const int PageCacheAlignment = 2 << 20;

    /// <summary>Elements of one write: 4 MB (two 2 MB folios).</summary>
    private const int WriteChunkElements = (2 * PageCacheAlignment) / sizeof(double);

    /// <summary>
    /// Elements of the write that starts at byte <paramref name="position"/> of the file: up to the next
    /// <see cref="PageCacheAlignment"/> boundary when the position is not on one (the header's tail, 8-byte aligned as
    /// every header is a multiple of 64 bytes), else a whole <see cref="WriteChunkElements"/>.
    /// </summary>
    private static int WriteElementsFrom(long position)
    {
        long toBoundary = PageCacheAlignment - position % PageCacheAlignment;
        bool onBoundary = toBoundary == PageCacheAlignment, reachable = toBoundary % sizeof(double) == 0;
        return onBoundary || !reachable ? WriteChunkElements : (int)(toBoundary / sizeof(double));
    }

    /// <summary>
    /// Magic, version 1.0, uint16 header length and the dict, padded with spaces and a final '\n' so that
    /// the total preamble + header length is a multiple of 64 (which aligns the data).
    /// </summary>
    private static byte[] BuildHeader(long[] shape)
    {
        string dict = $"{{'descr': '<f8', 'fortran_order': False, 'shape': {FormatShape(shape)}, }}";
        int unpadded = 10 + dict.Length + 1; // preamble + dict + '\n'
        int total = (unpadded + 63) / 64 * 64;
        string text = dict + new string(' ', total - unpadded) + "\n";
        if (text.Length > ushort.MaxValue) throw new InvalidOperationException("npy header too long for format version 1.0");
        var bytes = new byte[total];
        Magic.CopyTo(bytes);
        bytes[6] = 1; bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)text.Length);
        Encoding.ASCII.GetBytes(text, bytes.AsSpan(10));
        return bytes;
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>Python tuple syntax: (5,) for one dimension, (3, 4) for two.</summary>
    internal static string FormatShape(long[] shape) => shape.Length switch
    {
        0 => "()",
        1 => $"({shape[0]},)",
        _ => "(" + string.Join(", ", shape) + ")",
    };

    private static string Abbreviate(string s)
    {
        s = FileIo.OneLine(s);
        return s.Length <= 120 ? s : s[..117] + "...";
    }

    private static int ReadUpTo(Stream s, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = s.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>
    /// A small parser for the Python literals that appear in .npy headers: dicts, tuples/lists, quoted strings
    /// (single or double quotes, backslash escapes kept literally), integers (an old Python 2 'L' suffix allowed),
    /// True, False and None. Throws <see cref="FormatException"/> with a short reason.
    /// </summary>
    private sealed class PyLiteralParser(string text)
    {
        /// <summary>Deepest nesting of dicts, tuples and lists accepted (a real header nests two deep).</summary>
        public const int MaxNesting = 32;

        private int _pos;
        private int _depth;

        /// <summary>Enters one level of nesting; a header nested deeper than <see cref="MaxNesting"/> is refused, never recursed into.</summary>
        private void Enter()
        {
            if (++_depth > MaxNesting) throw new FormatException($"nested deeper than {MaxNesting} levels at offset {_pos}");
        }

        public Dictionary<string, object?> ParseWholeDict()
        {
            SkipSpace();
            if (Peek() != '{') throw new FormatException("expected '{' at the start");
            var d = (Dictionary<string, object?>)ParseValue()!;
            SkipSpace();
            if (_pos != text.Length) throw new FormatException($"unexpected text after the closing '}}' at offset {_pos}");
            return d;
        }

        private char Peek() => _pos < text.Length ? text[_pos] : '\0';

        private void SkipSpace()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        private void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c) throw new FormatException(_pos < text.Length ? $"expected '{c}' at offset {_pos} but found '{text[_pos]}'" : $"expected '{c}' but the header ended");
            _pos++;
        }

        private object? ParseValue()
        {
            SkipSpace();
            char c = Peek();
            switch (c)
            {
                case '{': return ParseDict();
                case '(': return ParseSequence(')');
                case '[': return ParseSequence(']');
                case '\'' or '"': return ParseString(c);
                case '\0': throw new FormatException("the header ended where a value was expected");
            }
            if (c == '-' || c == '+' || char.IsAsciiDigit(c)) return ParseInteger();
            if (char.IsAsciiLetter(c))
            {
                int start = _pos;
                while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '_')) _pos++;
                string word = text[start.._pos];
                return word switch
                {
                    "True" => true,
                    "False" => false,
                    "None" => null,
                    _ => throw new FormatException($"unknown name '{word}' at offset {start}"),
                };
            }
            throw new FormatException($"unexpected character '{c}' at offset {_pos}");
        }

        private Dictionary<string, object?> ParseDict()
        {
            Expect('{');
            Enter();
            var d = new Dictionary<string, object?>(StringComparer.Ordinal);
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { _pos++; _depth--; return d; }
                int keyPos = _pos;
                if (ParseValue() is not string key) throw new FormatException($"dict key at offset {keyPos} is not a string");
                Expect(':');
                object? value = ParseValue();
                if (!d.TryAdd(key, value)) throw new FormatException($"duplicate key '{key}'");
                SkipSpace();
                if (Peek() == ',') { _pos++; continue; }
                if (Peek() == '}') { _pos++; _depth--; return d; }
                throw new FormatException(_pos < text.Length ? $"expected ',' or '}}' at offset {_pos} but found '{text[_pos]}'" : "the dict is not closed with '}'");
            }
        }

        private List<object?> ParseSequence(char close)
        {
            _pos++; // the opening bracket
            Enter();
            var items = new List<object?>();
            while (true)
            {
                SkipSpace();
                if (Peek() == close) { _pos++; _depth--; return items; }
                items.Add(ParseValue());
                SkipSpace();
                if (Peek() == ',') { _pos++; continue; }
                if (Peek() == close) { _pos++; _depth--; return items; }
                throw new FormatException(_pos < text.Length ? $"expected ',' or '{close}' at offset {_pos} but found '{text[_pos]}'" : $"a tuple is not closed with '{close}'");
            }
        }

        private string ParseString(char quote)
        {
            int start = ++_pos;
            while (_pos < text.Length && text[_pos] != quote)
            {
                if (text[_pos] == '\\') _pos++;
                _pos++;
            }
            if (_pos >= text.Length) throw new FormatException($"unterminated string starting at offset {start - 1}");
            return text[start.._pos++];
        }

        private long ParseInteger()
        {
            int start = _pos;
            if (Peek() is '-' or '+') _pos++;
            while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
            string digits = text[start.._pos];
            if (Peek() is 'L' or 'l') _pos++; // Python 2 long suffix, e.g. (3L, 4L)
            if (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '.'))
                throw new FormatException($"'{digits}{text[_pos]}...' at offset {start} is not an integer");
            if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v))
                throw new FormatException($"'{digits}' at offset {start} is not an integer");
            return v;
        }
    }
}
