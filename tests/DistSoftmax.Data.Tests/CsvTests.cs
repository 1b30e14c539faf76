using DistSoftmax.Core.Linear;

namespace DistSoftmax.Data.Tests;

public sealed class CsvTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static void Fails(Action read, string path, params string[] reasons)
    {
        var e = Assert.Throws<DataFormatException>(read);
        Assert.StartsWith(path + ": ", e.Message);
        foreach (var r in reasons) Assert.Contains(r, e.Message);
    }

    [Fact]
    public void Reads_comma_separated_with_spaces_and_trailing_blank_lines()
    {
        string p = _dir.WriteText("a.csv", "1, 2.5,3\r\n-4 ,5e-3 , 6\n\n  \n");
        DenseMatrix m = Csv.ReadMatrix(p);
        Assert.Equal((2, 3), (m.Rows, m.Cols));
        Assert.Equal([1, 2.5, 3, -4, 5e-3, 6], m.Data);
    }

    [Fact]
    public void Reads_whitespace_separated_text_with_comments()
    {
        string p = _dir.WriteText("a.txt", "# written by numpy.savetxt\n1.0e+00 2.0e+00\n3\t4\n");
        Assert.Equal([1.0, 2, 3, 4], Csv.ReadMatrix(p).Data);
    }

    [Fact]
    public void Ragged_row_names_the_line()
    {
        string p = _dir.WriteText("r.csv", "1,2,3\n4,5,6\n7,8\n");
        var e = Assert.Throws<DataFormatException>(() => Csv.ReadMatrix(p));
        Assert.Equal($"{p}: line 3: ragged row with 2 values, but line 1 has 3", e.Message);
    }

    [Theory]
    [InlineData("a,b\n1,2\n", "line 1, column 1: 'a' is not a number")]
    [InlineData("1,2\n3,\n", "line 2, column 2: empty value")]
    [InlineData("1,2\n3,NaN\n", "line 2, column 2: non-finite value 'NaN'")]
    [InlineData("1,2\n3,1e999\n", "line 2, column 2: non-finite value '1e999'")]
    [InlineData("1;2\n", "line 1, column 1: '1;2' is not a number")]
    [InlineData("\n\n", "no data")]
    public void Bad_values(string text, string reason)
    {
        string p = _dir.WriteText("bad.csv", text);
        Fails(() => Csv.ReadMatrix(p), p, reason);
    }

    [Fact]
    public void Vectors_as_column_or_row()
    {
        string col = _dir.WriteText("c.csv", "1\n2\n3\n");
        string row = _dir.WriteText("r.csv", "1,2,3\n");
        string mat = _dir.WriteText("m.csv", "1,2\n3,4\n");
        Assert.Equal([1.0, 2, 3], Csv.ReadVector(col));
        Assert.Equal([1.0, 2, 3], Csv.ReadVector(row));
        Fails(() => Csv.ReadVector(mat), mat, "expected a vector", "2×2");
    }

    [Fact]
    public void Round_trip_is_exact()
    {
        double[] v = [0.1, 1.0 / 3, 1e-300, -0.0, 1e300, double.MaxValue, double.Epsilon, -123456789.125];
        var m = new DenseMatrix(2, 4, v.ToArray());
        string pm = _dir.File("m.csv"), pv = _dir.File("v.csv");
        Csv.Write(pm, m);
        Csv.Write(pv, v);
        var back = Csv.ReadMatrix(pm);
        Assert.Equal((2, 4), (back.Rows, back.Cols));
        Assert.Equal(v.Select(BitConverter.DoubleToInt64Bits), back.Data.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(v.Select(BitConverter.DoubleToInt64Bits), Csv.ReadVector(pv).Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(8, File.ReadAllLines(pv).Length);
    }
}
