using DistSoftmax.Core.Linear;
using static DistSoftmax.Data.Tests.NpyFixture;

namespace DistSoftmax.Data.Tests;

public sealed class MatrixFileTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Chooses_reader_by_extension()
    {
        string npy = _dir.Write("a.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", F8(1, 0, 0, 4)));
        string mtx = _dir.WriteText("a.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 1 1\n2 2 4\n");
        string csv = _dir.WriteText("a.csv", "1,0\n0,4\n");
        string txt = _dir.WriteText("a.TXT", "1 0\n0 4\n");

        Assert.IsType<DenseMatrix>(MatrixFile.ReadMatrix(npy));
        var sparse = Assert.IsType<CsrMatrix>(MatrixFile.ReadMatrix(mtx));
        Assert.Equal(2, sparse.StoredEntries);
        Assert.IsType<DenseMatrix>(MatrixFile.ReadMatrix(csv));
        Assert.IsType<DenseMatrix>(MatrixFile.ReadMatrix(txt));
        foreach (var p in new[] { npy, mtx, csv, txt })
            Assert.Equal([1.0, 0, 0, 4], MatrixFile.ReadDense(p).Data);
    }

    [Fact]
    public void Reads_vectors_by_extension()
    {
        string npy = _dir.Write("b.npy", Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", F8(1, 2, 3)));
        string mtx = _dir.WriteText("b.mtx", "%%MatrixMarket matrix array real general\n3 1\n1\n2\n3\n");
        string csv = _dir.WriteText("b.csv", "1\n2\n3\n");
        foreach (var p in new[] { npy, mtx, csv })
            Assert.Equal([1.0, 2, 3], MatrixFile.ReadVector(p));
    }

    [Fact]
    public void Writes_by_extension_and_reads_back()
    {
        var m = new DenseMatrix(2, 3, [1, 0, -2.5, 0, 1e-300, 7]);
        double[] v = [3, -0.5, 1e300];
        foreach (var ext in new[] { ".npy", ".csv", ".txt", ".mtx" })
        {
            string pm = _dir.File("m" + ext), pv = _dir.File("v" + ext);
            MatrixFile.Write(pm, m);
            MatrixFile.Write(pv, v);
            Assert.Equal(m.Data, MatrixFile.ReadDense(pm).Data);
            Assert.Equal(v, MatrixFile.ReadVector(pv));
        }
        Assert.Equal(4, MatrixFile.ReadMatrix(_dir.File("m.mtx")).StoredEntries); // written sparse
    }

    [Fact]
    public void Sparse_matrix_written_to_mtx_stays_sparse_and_to_npy_is_densified()
    {
        var c = new CsrMatrix(2, 3, [0, 1, 2], [2, 0], [5, -1]);
        MatrixFile.Write(_dir.File("c.mtx"), (IRowMatrix)c);
        MatrixFile.Write(_dir.File("c.npy"), (IRowMatrix)c);
        Assert.IsType<CsrMatrix>(MatrixFile.ReadMatrix(_dir.File("c.mtx")));
        Assert.Equal([0, 0, 5.0, -1, 0, 0], Npy.ReadMatrix(_dir.File("c.npy")).Data);
    }

    [Fact]
    public void Missing_file_message()
    {
        string p = _dir.File("missing.csv");
        var e = Assert.Throws<DataFormatException>(() => MatrixFile.ReadMatrix(p));
        Assert.Equal($"{p}: file not found", e.Message);
        e = Assert.Throws<DataFormatException>(() => MatrixFile.ReadVector(p));
        Assert.Equal($"{p}: file not found", e.Message);
    }

    [Fact]
    public void Unknown_extension_lists_supported_ones()
    {
        string p = _dir.WriteText("a.json", "[1, 2]");
        foreach (Action act in new Action[] { () => MatrixFile.ReadMatrix(p), () => MatrixFile.ReadVector(p), () => MatrixFile.Write(p, [1.0]) })
        {
            var e = Assert.Throws<DataFormatException>(act);
            Assert.StartsWith(p + ": ", e.Message);
            Assert.Contains("'.json'", e.Message);
            Assert.Contains(".npy, .mtx, .csv, .txt", e.Message);
        }
        Assert.Equal("[1, 2]", File.ReadAllText(p));
        var noExt = Assert.Throws<DataFormatException>(() => MatrixFile.Write(_dir.File("plain"), [1.0]));
        Assert.Contains("no file extension", noExt.Message);
    }

    [Theory]
    [InlineData("x.npy")]
    [InlineData("x.csv")]
    [InlineData("x.mtx")]
    public void Failed_write_in_every_format_keeps_old_content(string name)
    {
        string p = _dir.WriteText(name, "old content");
        Assert.Throws<DataFormatException>(() => MatrixFile.Write(p, [1.0, double.PositiveInfinity]));
        Assert.Throws<DataFormatException>(() => MatrixFile.Write(p, new DenseMatrix(1, 2, [double.NaN, 1])));
        Assert.Equal("old content", File.ReadAllText(p));
        Assert.DoesNotContain(_dir.Entries(), e => e.Contains(".tmp-"));
    }
}
