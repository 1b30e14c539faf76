using System.Text;
using DistSoftmax.Core.Linear;

namespace DistSoftmax.Data.Tests;

/// <summary>Reading the header alone and blocks of rows of .npy files built by hand from the format description.</summary>
public class NpyRangeTests
{
    /// <summary>A 4×3 matrix with entries 10·i + j.</summary>
    private static double[] Values4x3 => [0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32];

    /// <summary><see cref="Values4x3"/> as a C-ordered little-endian float64 .npy file in <paramref name="dir"/>, built by hand.</summary>
    /// <summary>A C-ordered 4×3 float64 .npy of <paramref name="values"/>.</summary>
    private static byte[] Bytes4x3(double[] values) =>
        NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 3), }", NpyFixture.F8(values));

    /// <summary>Writes <see cref="Bytes4x3"/> of the given values (default <see cref="Values4x3"/>).</summary>
    private static string WriteValues4x3(TempDir dir, string name, double[]? values = null) =>
        dir.Write(name, Bytes4x3(values ?? Values4x3));

    [Fact]
    public void Header_info_gives_shape_dtype_and_order_without_reading_values()
    {
        using var dir = new TempDir();
        // The data region holds NaN: the header alone is still readable.
        string p = dir.Write("a.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
            NpyFixture.F8(1, 2, double.NaN, 4, 5, 6)));
        var info = Npy.ReadInfo(p);
        Assert.Equal("<f8", info.Dtype);
        Assert.False(info.FortranOrder);
        Assert.Equal(new long[] { 2, 3 }, info.Shape);
        Assert.Equal(2, info.Rows);
        Assert.Equal(3, info.Cols);
        Assert.False(info.IsVector);
    }

    [Fact]
    public void Header_info_still_checks_the_data_length()
    {
        using var dir = new TempDir();
        string p = dir.Write("a.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", NpyFixture.F8(1, 2, 3)));
        var e = Assert.Throws<DataFormatException>(() => Npy.ReadInfo(p));
        Assert.StartsWith(p + ": header shape (2, 3) needs 48 bytes", e.Message);
    }

    [Theory]
    [InlineData(0, 4)]
    [InlineData(1, 2)]
    [InlineData(3, 1)]
    [InlineData(2, 0)]
    public void Rows_of_a_C_ordered_matrix_are_the_requested_block(int start, int count)
    {
        using var dir = new TempDir();
        string p = WriteValues4x3(dir, "a.npy");
        var m = Npy.ReadMatrixRows(p, start, count);
        Assert.Equal(count, m.Rows);
        Assert.Equal(3, m.Cols);
        for (int i = 0; i < count; i++)
            for (int j = 0; j < 3; j++)
                Assert.Equal(10.0 * (start + i) + j, m[i, j]);
    }

    [Fact]
    public void Rows_of_a_Fortran_ordered_matrix_are_transposed_into_place()
    {
        using var dir = new TempDir();
        // Column-major data of the same 4×3 matrix: column 0 (0, 10, 20, 30), column 1, column 2.
        var colMajor = new double[12];
        for (int j = 0; j < 3; j++) for (int i = 0; i < 4; i++) colMajor[j * 4 + i] = 10.0 * i + j;
        string p = dir.Write("f.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': True, 'shape': (4, 3), }", NpyFixture.F8(colMajor)));
        var m = Npy.ReadMatrixRows(p, 1, 2);
        Assert.Equal(new double[] { 10, 11, 12, 20, 21, 22 }, m.Data);
    }

    [Fact]
    public void Rows_of_a_float32_big_endian_and_integer_matrix_are_converted()
    {
        using var dir = new TempDir();
        string f4 = dir.Write("f4.npy", NpyFixture.Build("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", NpyFixture.F4(1.5f, 2.5f, 3.5f, 4.5f)));
        Assert.Equal(new double[] { 3.5, 4.5 }, Npy.ReadMatrixRows(f4, 1, 1).Data);
        string be = dir.Write("be.npy", NpyFixture.Build("{'descr': '>f8', 'fortran_order': False, 'shape': (3, 1), }", NpyFixture.F8BigEndian(7, 8, 9)));
        Assert.Equal(new double[] { 8, 9 }, Npy.ReadMatrixRows(be, 1, 2).Data);
        string i4 = dir.Write("i4.npy", NpyFixture.Build("{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }", NpyFixture.I4(-2, -1, 0, 1, 2)));
        Assert.Equal(new double[] { -1, 0, 1 }, Npy.ReadVectorRange(i4, 1, 3));
    }

    [Fact]
    public void A_block_that_avoids_a_bad_row_reads_only_its_own_bytes()
    {
        using var dir = new TempDir();
        var v = Values4x3;
        v[10] = double.PositiveInfinity; // row 3, col 1
        string p = WriteValues4x3(dir, "a.npy", v);
        Assert.Equal(new double[] { 0, 1, 2, 10, 11, 12, 20, 21, 22 }, Npy.ReadMatrixRows(p, 0, 3).Data);
        var e = Assert.Throws<DataFormatException>(() => Npy.ReadMatrixRows(p, 2, 2));
        Assert.Equal($"{p}: non-finite value +Infinity at index (row 3, col 1) (0-based)", e.Message);
    }

    [Fact]
    public void Out_of_range_rows_and_wrong_ranks_are_refused_naming_the_file()
    {
        using var dir = new TempDir();
        string m = WriteValues4x3(dir, "a.npy");
        string v = dir.Write("v.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", NpyFixture.F8(1, 2, 3)));
        Assert.StartsWith(m + ": rows [3, 5) are out of range", Assert.Throws<DataFormatException>(() => Npy.ReadMatrixRows(m, 3, 2)).Message);
        Assert.StartsWith(v + ": expected a 2-D matrix", Assert.Throws<DataFormatException>(() => Npy.ReadMatrixRows(v, 0, 1)).Message);
        Assert.StartsWith(m + ": expected a vector", Assert.Throws<DataFormatException>(() => Npy.ReadVectorRange(m, 0, 1)).Message);
        Assert.Equal(new double[] { 2, 3 }, Npy.ReadVectorRange(v, 1, 2));
    }

    [Fact]
    public void Matrix_Market_size_comes_from_the_size_line_alone()
    {
        using var dir = new TempDir();
        // Entries are garbage: only the banner, comments and the size line are read.
        string c = dir.WriteText("c.mtx", "%%MatrixMarket matrix coordinate real general\n% a comment\n\n5 7 2\nnot an entry\n");
        Assert.Equal((5, 7, (long?)2), MatrixMarket.ReadSize(c));
        string a = dir.WriteText("a.mtx", "%%MatrixMarket matrix array real general\n3 1\n1\n2\n3\n");
        Assert.Equal((3, 1, (long?)null), MatrixMarket.ReadSize(a));
        string bad = dir.Write("bad.mtx", Encoding.ASCII.GetBytes("%%MatrixMarket matrix coordinate real general\n5 x 2\n"));
        Assert.StartsWith(bad + ": line 2: bad size line", Assert.Throws<DataFormatException>(() => MatrixMarket.ReadSize(bad)).Message);
    }
    // ---- Rows mapped rather than read (Npy.MapMatrixRows)

    [Theory]
    [InlineData(0, 4)]
    [InlineData(1, 2)]
    [InlineData(3, 1)]
    public void Rows_of_a_C_ordered_float64_matrix_are_mapped_not_copied(int start, int count)
    {
        using var dir = new TempDir();
        string p = WriteValues4x3(dir, "a.npy");
        var m = Assert.IsType<MemoryDenseMatrix>(Npy.MapMatrixRows(p, start, count));
        Assert.Equal(count, m.Rows);
        Assert.Equal(3, m.Cols);
        Assert.Equal(Npy.ReadMatrixRows(p, start, count).Data, m.Values.ToArray());
    }

    [Fact]
    public void Rows_that_are_not_raw_doubles_are_read_as_before()
    {
        using var dir = new TempDir();
        string f4 = dir.Write("f4.npy", NpyFixture.Build("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", NpyFixture.F4(1.5f, 2.5f, 3.5f, 4.5f)));
        Assert.Equal(new double[] { 3.5, 4.5 }, Assert.IsType<DenseMatrix>(Npy.MapMatrixRows(f4, 1, 1)).Data);
        string be = dir.Write("be.npy", NpyFixture.Build("{'descr': '>f8', 'fortran_order': False, 'shape': (3, 1), }", NpyFixture.F8BigEndian(7, 8, 9)));
        Assert.Equal(new double[] { 8, 9 }, Assert.IsType<DenseMatrix>(Npy.MapMatrixRows(be, 1, 2)).Data);
        var colMajor = new double[12];
        for (int j = 0; j < 3; j++) for (int i = 0; i < 4; i++) colMajor[j * 4 + i] = 10.0 * i + j;
        string f = dir.Write("f.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': True, 'shape': (4, 3), }", NpyFixture.F8(colMajor)));
        Assert.Equal(new double[] { 10, 11, 12, 20, 21, 22 }, Assert.IsType<DenseMatrix>(Npy.MapMatrixRows(f, 1, 2)).Data);
        string c = WriteValues4x3(dir, "c.npy");
        Assert.Equal(0, Npy.MapMatrixRows(c, 2, 0).Rows);
    }

    [Fact]
    public void Mapped_rows_are_checked_like_read_rows()
    {
        using var dir = new TempDir();
        var values = Values4x3;   // a fresh array each time
        values[10] = double.PositiveInfinity;
        string p = WriteValues4x3(dir, "a.npy", values);
        var e = Assert.Throws<DataFormatException>(() => Npy.MapMatrixRows(p, 2, 2));
        Assert.Equal($"{p}: non-finite value +Infinity at index (row 3, col 1) (0-based)", e.Message);
        Assert.IsType<MemoryDenseMatrix>(Npy.MapMatrixRows(p, 0, 3));
        Assert.Throws<DataFormatException>(() => Npy.MapMatrixRows(p, 3, 2));
    }

    /// <summary>
    /// Rows of a file version this process has scanned whole are not checked again when mapped; a version changed since
    /// (written in place, so its times move; or replaced, so its inode does) is checked again, and its bad value named.
    /// </summary>
    [Fact]
    public void Mapped_rows_of_a_changed_file_are_checked_again_after_a_whole_scan()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        string p = WriteValues4x3(dir, "a.npy");
        Assert.False(CheckedFiles.Covers(p));
        Npy.ScanMatrixRows(p, 2, (_, _) => { });
        Assert.True(CheckedFiles.Covers(p));
        Assert.IsType<MemoryDenseMatrix>(Npy.MapMatrixRows(p, 1, 3));

        // Written in place: the same inode, new times.
        var values = Values4x3;   // a fresh array each time
        values[10] = double.NaN;
        var bytes = Bytes4x3(values);
        using (var fs = new FileStream(p, FileMode.Open, FileAccess.Write)) fs.Write(bytes);
        // The kernel stamps writes at its clock tick (a few ms): a write within the tick of the scan would keep the times,
        // so the test moves them as a later write would.
        File.SetLastWriteTimeUtc(p, File.GetLastWriteTimeUtc(p).AddSeconds(1));
        Assert.False(CheckedFiles.Covers(p));
        var e = Assert.Throws<DataFormatException>(() => Npy.MapMatrixRows(p, 2, 2));
        Assert.Equal($"{p}: non-finite value NaN at index (row 3, col 1) (0-based)", e.Message);

        // Replaced by rename after a scan of the good version: another inode, checked again.
        string q = WriteValues4x3(dir, "b.npy");
        Npy.ScanMatrixRows(q, 4, (_, _) => { });
        Assert.True(CheckedFiles.Covers(q));
        File.Move(p, q, overwrite: true);
        Assert.False(CheckedFiles.Covers(q));
        Assert.Throws<DataFormatException>(() => Npy.MapMatrixRows(q, 3, 1));
    }

    [Fact]
    public void A_scan_that_meets_a_bad_value_records_nothing()
    {
        using var dir = new TempDir();
        var values = Values4x3;   // a fresh array each time
        values[4] = double.NegativeInfinity;
        string p = WriteValues4x3(dir, "a.npy", values);
        Assert.Throws<DataFormatException>(() => Npy.ScanMatrixRows(p, 2, (_, _) => { }));
        Assert.False(CheckedFiles.Covers(p));
        Assert.Throws<DataFormatException>(() => Npy.MapMatrixRows(p, 0, 2));
    }

    /// <summary>Writing a new file and renaming it over the mapped one (as this tool's writers do) leaves the mapped rows as they were.</summary>
    [Fact]
    public void Mapped_rows_keep_their_values_when_the_file_is_replaced_by_rename()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        string p = WriteValues4x3(dir, "a.npy");
        var m = Assert.IsType<MemoryDenseMatrix>(Npy.MapMatrixRows(p, 1, 3));
        var changed = Values4x3.Select(v => -v).ToArray();
        string replacement = WriteValues4x3(dir, "a.npy.tmp", changed);
        File.Move(replacement, p, overwrite: true);
        Assert.Equal(Values4x3[3..], m.Values.ToArray());
        Assert.Equal(changed[3..], Npy.ReadMatrixRows(p, 1, 3).Data);
    }

    /// <summary>A mapping outlives its descriptor: mapped rows hold the file open nowhere (a worker serving many jobs would otherwise keep one descriptor per shard).</summary>
    [Fact]
    public void Mapped_rows_hold_no_file_descriptor()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        string p = WriteValues4x3(dir, "a.npy");
        var m = Assert.IsType<MemoryDenseMatrix>(Npy.MapMatrixRows(p, 1, 2));
        string full = Path.GetFullPath(p);
        var open = new DirectoryInfo("/proc/self/fd").GetFiles().Count(f =>
        {
            try { return f.LinkTarget == full; } catch (IOException) { return false; }
        });
        Assert.Equal(0, open);
        Assert.Equal(Values4x3[3..9], m.Values.ToArray());
    }

    /// <summary>Every shard kernel reads mapped rows as it reads rows in an array: the replies are bit for bit the same.</summary>
    [Fact]
    public void A_shard_on_mapped_rows_answers_as_one_on_the_same_rows_in_an_array()
    {
        using var dir = new TempDir();
        const int n = 600, d = 9, start = 37, count = 500;   // a start whose byte offset is not on a page boundary
        var inst = DistSoftmax.Data.Generators.Normalized(n, d, seed: 4);
        string p = dir.File("A.npy");
        MatrixFile.Write(p, inst.A);
        var mapped = Assert.IsType<MemoryDenseMatrix>(Npy.MapMatrixRows(p, start, count));
        var array = Npy.ReadMatrixRows(p, start, count);
        var b = inst.B.AsSpan(start, count).ToArray();
        var family = DistSoftmax.Core.Problems.Families.Create("normalized", DistSoftmax.Core.Problems.Unit.Exp);
        var shards = new[] { mapped, (DistSoftmax.Core.Linear.IRowMatrix)array }
            .Select(a => new DistSoftmax.Core.Shards.VectorShard(family, a, (double[])b.Clone(), DistSoftmax.Core.Shards.Regularizer.None, start)).ToArray();
        var x = Enumerable.Range(0, d).Select(j => 0.2 * Math.Cos(j)).ToArray();
        var v = Enumerable.Range(0, d).Select(j => 1.0 / (j + 1)).ToArray();
        var replies = shards.Select(shard =>
        {
            var scalars = (DistSoftmax.Core.Statistics.ScalarsReply)shard.Evaluate(new DistSoftmax.Core.Statistics.ScalarsRequest(x));
            var globals = new DistSoftmax.Core.Problems.VectorObjective(family, d, count, (long)count * d).Evaluate(x, scalars).Globals;
            var kind = DistSoftmax.Core.Statistics.HessianKind.Exact;
            var g = (DistSoftmax.Core.Statistics.GradientReply)shard.Evaluate(new DistSoftmax.Core.Statistics.GradientRequest(x, globals, kind, true, 40, 7, DistSoftmax.Core.Statistics.SketchForm.Rows));
            var gram = (DistSoftmax.Core.Statistics.GramReply)shard.Evaluate(new DistSoftmax.Core.Statistics.GramRequest(x, globals, kind));
            var hv = (DistSoftmax.Core.Statistics.HessianVectorReply)shard.Evaluate(new DistSoftmax.Core.Statistics.HessianVectorRequest(x, globals, kind, v));
            var sampled = (DistSoftmax.Core.Statistics.GramReply)shard.Evaluate(new DistSoftmax.Core.Statistics.SampledGramRequest(x, globals, kind, Array.Empty<double>(), 0, count, 200, 11, true));
            return new[] { g.Gradient, g.Sketch, gram.PackedUpper, hv.Product, sampled.PackedUpper };
        }).ToArray();
        for (int k = 0; k < replies[0].Length; k++) Assert.Equal(replies[1][k], replies[0][k]);
    }
}
