using System.Buffers.Binary;
using System.Text;
using DistSoftmax.Core.Linear;
using static DistSoftmax.Data.Tests.NpyFixture;

namespace DistSoftmax.Data.Tests;

public sealed class NpyReadTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static DataFormatException Fails(Action read, string path, params string[] reasons)
    {
        var e = Assert.Throws<DataFormatException>(read);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        foreach (var r in reasons) Assert.Contains(r, e.Message);
        return e;
    }

    [Fact]
    public void Float64_C_order_matrix_is_read_row_major()
    {
        double[] v = [1.5, -2, 3.25, 4e10, 5, -6e-5];
        string p = _dir.Write("a.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", F8(v)));
        DenseMatrix m = Npy.ReadMatrix(p);
        Assert.Equal(2, m.Rows);
        Assert.Equal(3, m.Cols);
        Assert.Equal(v, m.Data);
        Assert.Equal(-2, m[0, 1]);
        Assert.Equal(4e10, m[1, 0]);
    }

    [Fact]
    public void Float32_Fortran_order_matrix_is_transposed_into_row_major()
    {
        // Logical 2×3 matrix [[1, 2, 3], [4, 5, 6]] stored column by column: 1, 4, 2, 5, 3, 6.
        string p = _dir.Write("f.npy", Build("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", F4(1, 4, 2, 5, 3, 6)));
        DenseMatrix m = Npy.ReadMatrix(p);
        Assert.Equal((2, 3), (m.Rows, m.Cols));
        Assert.Equal([1.0, 2, 3, 4, 5, 6], m.Data);
        Assert.Equal(4, m[1, 0]);
        Assert.Equal(3, m[0, 2]);
    }

    [Fact]
    public void Float32_values_widen_exactly()
    {
        float[] f = [0.1f, -3.4028235e38f, 1e-45f];
        string p = _dir.Write("w.npy", Build("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", F4(f)));
        Assert.Equal(f.Select(x => (double)x).ToArray(), Npy.ReadVector(p));
    }

    [Fact]
    public void One_dimensional_vector_is_read_and_refused_as_a_matrix()
    {
        string p = _dir.Write("v.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", F8(0.5, -1, 2, 1e-300)));
        Assert.Equal([0.5, -1, 2, 1e-300], Npy.ReadVector(p));
        Fails(() => Npy.ReadMatrix(p), p, "expected a 2-D matrix", "shape (4,)", "1-D");
    }

    [Theory]
    [InlineData("(3, 1)")]
    [InlineData("(1, 3)")]
    public void Two_dimensional_row_or_column_reads_as_vector(string shape)
    {
        string p = _dir.Write("v2.npy", Build($"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}", F8(7, 8, 9)));
        Assert.Equal([7.0, 8, 9], Npy.ReadVector(p));
    }

    [Fact]
    public void Matrix_is_not_a_vector()
    {
        string p = _dir.Write("m.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", F8(1, 2, 3, 4)));
        Fails(() => Npy.ReadVector(p), p, "expected a vector", "shape (2, 2)");
    }

    [Fact]
    public void Int64_is_converted_to_double()
    {
        string p = _dir.Write("i.npy", Build("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", I8(-5, 0, 1L << 40)));
        Assert.Equal([-5.0, 0, 1099511627776.0], Npy.ReadVector(p));
    }

    [Fact]
    public void Int32_matrix_is_converted_to_double()
    {
        string p = _dir.Write("i4.npy", Build("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", I4(int.MinValue, -1, 0, int.MaxValue)));
        Assert.Equal([int.MinValue, -1.0, 0, int.MaxValue], Npy.ReadMatrix(p).Data);
    }

    [Fact]
    public void Big_endian_float64_is_converted()
    {
        string p = _dir.Write("be.npy", Build("{'descr': '>f8', 'fortran_order': False, 'shape': (1, 3), }", F8BigEndian(1.25, -7, 1e-310)));
        Assert.Equal([1.25, -7, 1e-310], Npy.ReadMatrix(p).Data);
    }

    [Fact]
    public void Version_2_header_with_uint32_length()
    {
        byte[] bytes = Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", F8(1, 2, 3, 4), major: 2);
        Assert.Equal(2, bytes[6]);
        string p = _dir.Write("v2.npy", bytes);
        Assert.Equal([1.0, 2, 3, 4], Npy.ReadMatrix(p).Data);
    }

    [Fact]
    public void Version_3_header_is_utf8()
    {
        string p = _dir.Write("v3.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", F8(3, 4), major: 3));
        Assert.Equal([3.0, 4], Npy.ReadVector(p));
    }

    [Fact]
    public void Header_dict_in_other_key_order_with_double_quotes_and_no_trailing_comma()
    {
        string p = _dir.Write("q.npy", Build("{\"shape\":(2,2),\"fortran_order\" :False , \"descr\":\"<f8\"}", F8(1, 2, 3, 4)));
        Assert.Equal([1.0, 2, 3, 4], Npy.ReadMatrix(p).Data);
    }

    [Fact]
    public void Large_arrays_cross_chunk_boundaries_in_both_paths()
    {
        // More elements than one internal read chunk (2^17), for the bulk float64 path and the converting float32 path.
        const int rows = 500, cols = 300;
        var expected = new double[rows * cols];
        var f = new float[rows * cols];
        for (int k = 0; k < expected.Length; k++) { f[k] = k * 0.5f - 1000; expected[k] = f[k]; }
        string p8 = _dir.Write("big8.npy", Build($"{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}", F8(expected)));
        string p4 = _dir.Write("big4.npy", Build($"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}", F4(f)));
        Assert.Equal(expected, Npy.ReadMatrix(p8).Data);
        Assert.Equal(expected, Npy.ReadMatrix(p4).Data);
    }

    // ------------------------------------------------------------ bad input

    [Fact]
    public void Wrong_magic()
    {
        byte[] bytes = Build("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", F8(1));
        bytes[5] = (byte)'X'; // \x93NUMPX
        string p = _dir.Write("magic.npy", bytes);
        Fails(() => Npy.ReadVector(p), p, "not a .npy file", "magic");
    }

    [Fact]
    public void Text_file_with_npy_extension_is_not_npy()
    {
        string p = _dir.WriteText("text.npy", "1,2,3\n");
        Fails(() => Npy.ReadMatrix(p), p, "magic");
    }

    [Fact]
    public void Truncated_data_reports_needed_and_available_bytes()
    {
        string p = _dir.Write("trunc.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }", new byte[40]));
        var e = Fails(() => Npy.ReadMatrix(p), p);
        Assert.Equal($"{p}: header shape (3, 4) needs 96 bytes of float64 data but the file has 40", e.Message);
    }

    [Fact]
    public void Trailing_bytes_are_rejected()
    {
        string p = _dir.Write("trail.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", F8(1, 2, 3)));
        Fails(() => Npy.ReadVector(p), p, "needs 16 bytes", "has 24", "trailing");
    }

    [Fact]
    public void Truncated_header()
    {
        byte[] full = Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", F8(1, 2));
        string p = _dir.Write("th.npy", full[..40]);
        Fails(() => Npy.ReadVector(p), p, "truncated .npy header");
    }

    [Theory]
    [InlineData("<c16", "complex128")]
    [InlineData("|b1", "bool")]
    [InlineData("<U5", "unicode")]
    [InlineData("|O", "object")]
    [InlineData("<M8[ns]", "datetime")]
    [InlineData("<f16", "extended precision")]
    [InlineData("<i3", "unrecognised")]
    public void Unsupported_dtype_is_named(string descr, string kind)
    {
        string p = _dir.Write("dt.npy", Build($"{{'descr': '{descr}', 'fortran_order': False, 'shape': (2,), }}", new byte[64]));
        Fails(() => Npy.ReadVector(p), p, $"unsupported dtype '{descr}'", kind);
    }

    [Fact]
    public void Structured_dtype_is_unsupported()
    {
        string p = _dir.Write("rec.npy", Build("{'descr': [('a', '<f8'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }", new byte[12]));
        Fails(() => Npy.ReadVector(p), p, "unsupported dtype", "structured");
    }

    [Fact]
    public void NaN_is_reported_with_row_and_column()
    {
        string p = _dir.Write("nan.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", F8(1, 2, 3, 4, 5, double.NaN)));
        Fails(() => Npy.ReadMatrix(p), p, "non-finite value NaN", "(row 1, col 2)");
    }

    [Fact]
    public void Infinity_in_Fortran_data_is_reported_at_its_logical_position()
    {
        // Logical (0, 2) of a 2×3 column-major array is stored at position 2·2 + 0 = 4.
        string p = _dir.Write("inf.npy", Build("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", F4(1, 1, 1, 1, float.NegativeInfinity, 1)));
        Fails(() => Npy.ReadMatrix(p), p, "-Infinity", "(row 0, col 2)");
    }

    [Fact]
    public void NaN_in_vector_is_reported_with_index()
    {
        string p = _dir.Write("nanv.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", F8(1, double.NaN, 3)));
        Fails(() => Npy.ReadVector(p), p, "NaN", "[1]");
    }

    [Theory]
    [InlineData("(0, 3)")]
    [InlineData("(4, 0)")]
    [InlineData("(0,)")]
    public void Empty_arrays_are_rejected(string shape)
    {
        string p = _dir.Write("empty.npy", Build($"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}", []));
        Fails(() => { if (shape.EndsWith(",)")) Npy.ReadVector(p); else Npy.ReadMatrix(p); }, p, "empty", shape);
    }

    [Theory]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3}", "malformed .npy header dict")]
    [InlineData("{'descr': '<f8', 'fortran_order': False}", "no 'shape' key")]
    [InlineData("{'descr': '<f8', 'fortran_order': 0, 'shape': (2, 3), }", "'fortran_order' must be True or False")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (2.5, 3), }", "malformed .npy header dict")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (-2, 3), }", "negative dimension")]
    [InlineData("['descr', '<f8']", "malformed .npy header dict")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), } junk", "unexpected text after")]
    [InlineData("{'descr: '<f8', 'fortran_order': False, 'shape': (2, 3), }", "malformed .npy header dict")]
    public void Malformed_header_dict(string dict, string reason)
    {
        string p = _dir.Write("hdr.npy", Build(dict, F8(1, 2, 3, 4, 5, 6)));
        Fails(() => Npy.ReadMatrix(p), p, reason);
    }

    [Fact]
    public void Unsupported_version()
    {
        byte[] bytes = Build("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", F8(1));
        bytes[6] = 4;
        string p = _dir.Write("v4.npy", bytes);
        Fails(() => Npy.ReadVector(p), p, "unsupported .npy format version 4.0");
    }

    [Fact]
    public void Three_dimensional_array_is_not_a_matrix()
    {
        string p = _dir.Write("3d.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }", new byte[64]));
        Fails(() => Npy.ReadMatrix(p), p, "shape (2, 2, 2)");
    }

    [Fact]
    public void Missing_file()
    {
        string p = _dir.File("nope.npy");
        var e = Assert.Throws<DataFormatException>(() => Npy.ReadMatrix(p));
        Assert.Equal($"{p}: file not found", e.Message);
    }
}

public sealed class NpyWriteTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly double[] Awkward = [1e-300, -0.0, 1e300, double.Epsilon, Math.PI, -1.0 / 3, double.MaxValue, 0.1];

    private static void AssertBitsEqual(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected[i]), BitConverter.DoubleToInt64Bits(actual[i]));
    }

    /// <summary>Checks the bytes of a written file against the format rules and returns the header text and data offset.</summary>
    private static (string Header, int DataOffset) CheckLayout(byte[] bytes)
    {
        Assert.Equal([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0], bytes[..8]);
        int len = bytes[8] | (bytes[9] << 8);
        Assert.Equal(0, (10 + len) % 64);
        string header = Encoding.ASCII.GetString(bytes, 10, len);
        Assert.EndsWith("\n", header);
        return (header, 10 + len);
    }

    [Fact]
    public void Matrix_round_trip_is_bit_exact_and_header_is_64_aligned()
    {
        var m = new DenseMatrix(2, 4, Awkward.ToArray());
        string p = _dir.File("m.npy");
        Npy.Write(p, m);

        byte[] bytes = File.ReadAllBytes(p);
        var (header, offset) = CheckLayout(bytes);
        Assert.StartsWith("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }", header);
        Assert.Equal(F8(Awkward), bytes[offset..]);

        var back = Npy.ReadMatrix(p);
        Assert.Equal((2, 4), (back.Rows, back.Cols));
        AssertBitsEqual(Awkward, back.Data);
    }

    [Fact]
    public void Vector_round_trip_is_bit_exact_with_1d_shape()
    {
        string p = _dir.File("v.npy");
        Npy.Write(p, Awkward);
        var (header, offset) = CheckLayout(File.ReadAllBytes(p));
        Assert.Contains("'shape': (8,)", header);
        Assert.Equal(0, offset % 64);
        AssertBitsEqual(Awkward, Npy.ReadVector(p));
    }

    [Fact]
    public void Large_matrix_round_trip()
    {
        var m = new DenseMatrix(700, 250);
        for (int k = 0; k < m.Data.Length; k++) m.Data[k] = Math.Sin(k) * 1e3;
        string p = _dir.File("big.npy");
        Npy.Write(p, m);
        AssertBitsEqual(m.Data, Npy.ReadMatrix(p).Data);
    }
}

public sealed class AtomicWriteTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private void AssertNoTempFiles() => Assert.DoesNotContain(_dir.Entries(), e => e.Contains(".tmp-"));

    [Theory]
    [InlineData(3, 4)]       // the NaN is in the first chunk: only the header reached the temporary file
    [InlineData(600, 500)]   // the NaN is in a later chunk: part of the data had been written to the temporary file
    public void Failed_npy_write_leaves_old_file_untouched_and_no_temp(int rows, int cols)
    {
        string p = _dir.WriteText("A.npy", "old content");
        var m = new DenseMatrix(rows, cols);
        m[rows - 1, cols - 1] = double.NaN;
        var e = Assert.Throws<DataFormatException>(() => Npy.Write(p, m));
        Assert.StartsWith(p + ": ", e.Message);
        Assert.Contains($"NaN at index (row {rows - 1}, col {cols - 1})", e.Message);
        Assert.Equal("old content", File.ReadAllText(p));
        AssertNoTempFiles();
    }

    [Fact]
    public void Write_into_missing_directory_fails_cleanly()
    {
        string p = Path.Combine(_dir.Path, "no-such-dir", "b.npy");
        var e = Assert.Throws<DataFormatException>(() => Npy.Write(p, [1.0, 2.0]));
        Assert.StartsWith(p + ": ", e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "no-such-dir")));
    }

    [Fact]
    public void Successful_write_replaces_existing_file_and_leaves_no_temp()
    {
        string p = _dir.WriteText("b.npy", "old content");
        Npy.Write(p, [4.0, 5.0]);
        Assert.Equal([4.0, 5.0], Npy.ReadVector(p));
        Assert.Equal(["b.npy"], _dir.Entries());
    }

    [Fact]
    public void Writing_onto_a_directory_is_an_error()
    {
        Directory.CreateDirectory(_dir.File("d.npy"));
        var e = Assert.Throws<DataFormatException>(() => Npy.Write(_dir.File("d.npy"), [1.0]));
        Assert.Contains("is a directory", e.Message);
        AssertNoTempFiles();
    }
}
