using DistSoftmax.Core.Linear;

namespace DistSoftmax.Data.Tests;

public sealed class MatrixMarketTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static void Fails(Action read, string path, params string[] reasons)
    {
        var e = Assert.Throws<DataFormatException>(read);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        foreach (var r in reasons) Assert.Contains(r, e.Message);
    }

    [Fact]
    public void Coordinate_real_general_with_comments_unsorted_and_duplicate_entries()
    {
        string p = _dir.WriteText("a.mtx", """
            %%MatrixMarket matrix coordinate real general
            % a comment line
            %another one

            3 4 6
            1 3 2.5
            1 1 -1
            3 4 1e-3
            % a comment between entries
            3 2 4
            1 3 0.5
            3 1 7
            """);
        CsrMatrix m = MatrixMarket.Read(p);
        Assert.Equal((3, 4), (m.Rows, m.Cols));
        // Row 0: (0,0)=-1, (0,2)=2.5+0.5 summed; row 1 empty; row 2: (2,0)=7, (2,1)=4, (2,3)=1e-3, sorted by column.
        Assert.Equal([0L, 2, 2, 5], m.RowPointers);
        Assert.Equal([0, 2, 0, 1, 3], m.ColumnIndices);
        Assert.Equal([-1, 3.0, 7, 4, 1e-3], m.Values);
    }

    [Fact]
    public void Integer_field()
    {
        string p = _dir.WriteText("i.mtx", "%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 2 -7\n2 1 12\n");
        var m = MatrixMarket.Read(p).ToDense();
        Assert.Equal([0, -7.0, 12, 0], m.Data);
    }

    [Fact]
    public void Integer_field_rejects_fractions()
    {
        string p = _dir.WriteText("if.mtx", "%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 2 1.5\n");
        Fails(() => MatrixMarket.Read(p), p, "line 3", "'1.5' is not an integer");
    }

    [Fact]
    public void Pattern_entries_are_ones()
    {
        string p = _dir.WriteText("p.mtx", "%%MatrixMarket matrix coordinate pattern general\n2 3 3\n2 3\n1 1\n2 1\n");
        var m = MatrixMarket.Read(p);
        Assert.Equal([0L, 1, 3], m.RowPointers);
        Assert.Equal([0, 0, 2], m.ColumnIndices);
        Assert.Equal([1.0, 1, 1], m.Values);
    }

    [Fact]
    public void Symmetric_lower_triangle_is_mirrored_and_diagonal_kept_once()
    {
        string p = _dir.WriteText("s.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n1 1 2\n3 1 5\n3 2 -1\n");
        var m = MatrixMarket.Read(p).ToDense();
        Assert.Equal([2.0, 0, 5, 0, 0, -1, 5, -1, 0], m.Data);
        Assert.Equal(5, MatrixMarket.Read(p).StoredEntries);
    }

    [Fact]
    public void Skew_symmetric_is_mirrored_with_sign_flip()
    {
        string p = _dir.WriteText("k.mtx", "%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 3\n");
        Assert.Equal([0, -3.0, 3, 0], MatrixMarket.Read(p).ToDense().Data);
    }

    [Fact]
    public void Symmetric_entry_above_diagonal_is_rejected()
    {
        string p = _dir.WriteText("su.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 3 1\n1 3 5\n");
        Fails(() => MatrixMarket.Read(p), p, "line 3", "above the diagonal");
    }

    [Fact]
    public void Banner_tokens_are_case_insensitive()
    {
        string p = _dir.WriteText("c.mtx", "%%MatrixMarket MATRIX Coordinate Real General\n1 1 1\n1 1 4\n");
        Assert.Equal([4.0], MatrixMarket.Read(p).Values);
    }

    [Fact]
    public void Array_format_is_column_major_and_dense()
    {
        string p = _dir.WriteText("arr.mtx", "%%MatrixMarket matrix array real general\n% 2x3\n2 3\n1\n4\n2\n5\n3\n0\n");
        var any = MatrixMarket.ReadAny(p);
        var dense = Assert.IsType<DenseMatrix>(any);
        Assert.Equal([1.0, 2, 3, 4, 5, 0], dense.Data);
        var csr = MatrixMarket.Read(p); // converted to CSR, the exact zero left out
        Assert.Equal(5, csr.StoredEntries);
        Assert.Equal(dense.Data, csr.ToDense().Data);
    }

    [Fact]
    public void Array_symmetric_stores_lower_triangle_by_columns()
    {
        string p = _dir.WriteText("as.mtx", "%%MatrixMarket matrix array real symmetric\n2 2\n1\n2\n3\n");
        Assert.Equal([1.0, 2, 2, 3], Assert.IsType<DenseMatrix>(MatrixMarket.ReadAny(p)).Data);
    }

    [Fact]
    public void Out_of_range_index_names_the_line()
    {
        string p = _dir.WriteText("oor.mtx", "%%MatrixMarket matrix coordinate real general\n% c\n3 4 2\n1 1 1\n2 5 1\n");
        Fails(() => MatrixMarket.Read(p), p, "line 5: column index 5 is outside 1..4");
    }

    [Fact]
    public void Zero_index_is_out_of_range()
    {
        string p = _dir.WriteText("zero.mtx", "%%MatrixMarket matrix coordinate real general\n3 4 1\n0 1 1\n");
        Fails(() => MatrixMarket.Read(p), p, "line 3: row index 0 is outside 1..3");
    }

    [Fact]
    public void Too_few_entries()
    {
        string p = _dir.WriteText("few.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 3\n1 1 1\n2 2 2\n");
        Fails(() => MatrixMarket.Read(p), p, "too few entries", "line 2", "declares 3", "after 2");
    }

    [Fact]
    public void Too_many_entries()
    {
        string p = _dir.WriteText("many.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 1\n1 1 1\n2 2 2\n");
        Fails(() => MatrixMarket.Read(p), p, "line 4", "too many entries", "declares 1");
    }

    [Fact]
    public void Too_many_values_on_an_entry_line()
    {
        string p = _dir.WriteText("tok.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 1\n1 1 1 9\n");
        Fails(() => MatrixMarket.Read(p), p, "line 3", "too many values");
    }

    [Theory]
    [InlineData("%MatrixMarket matrix coordinate real general", "expected the banner")]
    [InlineData("3 3 1", "expected the banner")]
    [InlineData("%%MatrixMarket matrix coordinate real", "needs 4 words")]
    [InlineData("%%MatrixMarket matrix coordinate complex general", "complex matrices are not supported")]
    [InlineData("%%MatrixMarket matrix coordinate real hermitian", "hermitian")]
    [InlineData("%%MatrixMarket vector coordinate real general", "unsupported object 'vector'")]
    [InlineData("%%MatrixMarket matrix array pattern general", "'pattern' is only valid with the coordinate format")]
    public void Bad_banner(string banner, string reason)
    {
        string p = _dir.WriteText("banner.mtx", banner + "\n3 3 1\n1 1 1\n");
        Fails(() => MatrixMarket.Read(p), p, "line 1", reason);
    }

    [Theory]
    [InlineData("3 3", "bad size line")]
    [InlineData("3 x 1", "'x' is not a non-negative integer")]
    [InlineData("0 3 0", "empty")]
    public void Bad_size_line(string sizeLine, string reason)
    {
        string p = _dir.WriteText("size.mtx", "%%MatrixMarket matrix coordinate real general\n%c\n" + sizeLine + "\n");
        Fails(() => MatrixMarket.Read(p), p, "line 3", reason);
    }

    [Fact]
    public void Symmetric_must_be_square()
    {
        string p = _dir.WriteText("sq.mtx", "%%MatrixMarket matrix coordinate real symmetric\n2 3 0\n");
        Fails(() => MatrixMarket.Read(p), p, "line 2", "must be square");
    }

    [Theory]
    [InlineData("1 1 abc", "value 'abc' is not a number")]
    [InlineData("1 1 nan", "non-finite value 'nan'")]
    [InlineData("1 1 -Infinity", "non-finite value '-Infinity'")]
    [InlineData("1 x 1", "column index 'x' is not an integer")]
    [InlineData("1", "missing column index")]
    public void Bad_entry_values(string entry, string reason)
    {
        string p = _dir.WriteText("val.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 2\n2 2 1\n" + entry + "\n");
        Fails(() => MatrixMarket.Read(p), p, "line 4", reason);
    }

    [Fact]
    public void Empty_file()
    {
        string p = _dir.WriteText("e.mtx", "");
        Fails(() => MatrixMarket.Read(p), p, "empty");
    }

    [Fact]
    public void Absurd_entry_count_is_rejected_before_allocating()
    {
        string p = _dir.WriteText("huge.mtx", "%%MatrixMarket matrix coordinate real general\n100000 100000 9000000000\n1 1 1\n");
        Fails(() => MatrixMarket.Read(p), p, "line 2", "9000000000 entries");
    }

    [Fact]
    public void Vectors_from_array_column_and_coordinate_row()
    {
        string col = _dir.WriteText("col.mtx", "%%MatrixMarket matrix array real general\n3 1\n1.5\n-2\n3\n");
        string row = _dir.WriteText("row.mtx", "%%MatrixMarket matrix coordinate real general\n1 4 2\n1 4 9\n1 2 -1\n");
        Assert.Equal([1.5, -2, 3], MatrixMarket.ReadVector(col));
        Assert.Equal([0, -1.0, 0, 9], MatrixMarket.ReadVector(row));
        string sq = _dir.WriteText("sq.mtx", "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n");
        Fails(() => MatrixMarket.ReadVector(sq), sq, "expected a vector", "2×2");
    }

    [Fact]
    public void Write_read_round_trip_is_exact_and_keeps_sparsity()
    {
        double[] vals = [1e-300, -0.0, 1e300, Math.PI, -1.0 / 3];
        var m = new CsrMatrix(4, 5, [0, 2, 2, 4, 5], [1, 4, 0, 3, 2], vals);
        string p = _dir.File("w.mtx");
        MatrixMarket.Write(p, m);
        Assert.StartsWith("%%MatrixMarket matrix coordinate real general\n", File.ReadAllText(p));
        var back = MatrixMarket.Read(p);
        Assert.Equal((4, 5), (back.Rows, back.Cols));
        Assert.Equal(m.RowPointers, back.RowPointers);
        Assert.Equal(m.ColumnIndices, back.ColumnIndices);
        Assert.Equal(vals.Select(BitConverter.DoubleToInt64Bits), back.Values.Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void Vector_write_read_round_trip()
    {
        double[] v = [0.1, -0.0, 1e-300, 2];
        string p = _dir.File("v.mtx");
        MatrixMarket.WriteVector(p, v);
        Assert.Equal(v.Select(BitConverter.DoubleToInt64Bits), MatrixMarket.ReadVector(p).Select(BitConverter.DoubleToInt64Bits));
    }
}
