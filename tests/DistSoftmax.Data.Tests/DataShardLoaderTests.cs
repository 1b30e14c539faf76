using DistSoftmax.Core.Drivers;
using DistSoftmax.Core;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Data.Sources;

namespace DistSoftmax.Data.Tests;

/// <summary>Shards loaded from files and generator specs answer exactly like shards built from the whole arrays.</summary>
public class DataShardLoaderTests
{
    private static readonly DataShardLoader Loader = new();

    /// <summary>Loss and gradient at x from the given shards, merged in order.</summary>
    private static (double Loss, double[] Gradient) Evaluate(IObjective objective, IReadOnlyList<IShard> shards, double[] x)
    {
        var driver = new InProcessDriver(shards);
        var point = objective.Evaluate(x, (ScalarsReply)driver.Evaluate(new ScalarsRequest(x)));
        var g = (GradientReply)driver.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, WithLowRank: true));
        return (point.Loss, g.Gradient);
    }

    private static double[] TestX(int d) => Enumerable.Range(0, d).Select(j => 0.3 * Math.Sin(j + 1.0)).ToArray();

    public static IEnumerable<object[]> FileCases()
    {
        foreach (var (problem, unit) in new[] { ("normalized", Unit.Exp), ("rescaled", Unit.Cosh), ("hyperbolic", Unit.Sinh) })
            foreach (var format in new[] { "npy", "mtx", "csv" })
                foreach (int shards in new[] { 1, 2, 4 })
                    yield return new object[] { problem, unit, format, shards };
    }

    [Theory]
    [MemberData(nameof(FileCases))]
    public void File_shards_equal_shards_of_the_whole_arrays(string problem, Unit unit, string format, int shards)
    {
        using var dir = new TempDir();
        var inst = Generators.Normalized(37, 5, seed: 9, sparse: format == "mtx", density: 0.5);
        string aPath = dir.File("A." + format), bPath = dir.File("b.npy"), wPath = dir.File("w.csv");
        MatrixFile.Write(aPath, inst.A);
        Npy.Write(bPath, inst.B);
        var w = Enumerable.Range(0, 37).Select(i => 0.1 + 0.01 * i).ToArray();
        MatrixFile.Write(wPath, w);

        var source = DataSources.VectorFiles(problem, unit, aPath, bPath, w: wPath);
        var shape = Loader.Describe(source);
        Assert.Equal(37, shape.Rows);
        Assert.Equal(5, shape.Objective.Dimension);

        var family = Families.Create(problem, unit);
        var reference = ShardLayout.VectorShards(family, inst.A, inst.B, Regularizer.PerRow(w), shards, ShardComputeOptions.Sequential);
        var loaded = ShardLayout.Split(shape.Rows, shards).Select(r => Loader.Load(source, r, ShardComputeOptions.Sequential)).ToArray();

        var x = TestX(5);
        var (lossRef, gradRef) = Evaluate(shape.Objective, reference, x);
        var (loss, grad) = Evaluate(shape.Objective, loaded, x);
        Assert.Equal(lossRef, loss);
        Assert.Equal(gradRef, grad);
        Assert.True(loss > 0);
    }

    [Fact]
    public void Generated_shards_are_slices_of_the_generator_output()
    {
        var spec = new GeneratedSpec("hyperbolic", Unit.Cosh, 50, 4, Seed: 3, Sparse: true, Density: 0.5, Noise: 0.2);
        var source = DataSources.Generated(spec);
        Assert.Equal(spec, GeneratedSpec.From(source));
        var inst = Generators.Hyperbolic(50, 4, Unit.Cosh, 3, sparse: true, density: 0.5, noise: 0.2);
        var shape = Loader.Describe(source);
        var family = Families.Create("hyperbolic", Unit.Cosh);
        var reference = ShardLayout.VectorShards(family, inst.A, inst.B, Regularizer.None, 3, ShardComputeOptions.Sequential);
        var loader = new DataShardLoader();
        var loaded = ShardLayout.Split(50, 3).Select(r => loader.Load(source, r, ShardComputeOptions.Sequential)).ToArray();
        var x = TestX(4);
        Assert.Equal(Evaluate(shape.Objective, reference, x).Loss, Evaluate(shape.Objective, loaded, x).Loss);
        var inspection = loader.Inspect(source);
        Assert.Equal(((CsrMatrix)inst.A).Values.Count(v => v != 0), inspection.NonZeros);
        Assert.Empty(inspection.Warnings);
    }

    [Fact]
    public void The_demo_spec_is_the_generators_demo_instance()
    {
        var inst = (VectorInstance)DataSources.DemoSpec.Generate();
        var demo = Generators.Demo();
        Assert.Equal(((DenseMatrix)demo.A).Data, ((DenseMatrix)inst.A).Data);
        Assert.Equal(demo.B, inst.B);
    }

    [Fact]
    public void Describe_reads_headers_only_and_inspect_reads_every_value()
    {
        using var dir = new TempDir();
        // A 3×2 A whose last value is NaN, and a fine b.
        string a = dir.Write("A.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", NpyFixture.F8(1, 0, 0, 1, 1, double.NaN)));
        string b = dir.Write("b.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", NpyFixture.F8(0.2, 0.3, 0.5)));
        var source = DataSources.VectorFiles("normalized", Unit.Exp, a, b);
        Assert.Equal(3, Loader.Describe(source).Rows);
        Assert.Equal(2, Loader.Load(source, new RowRange(0, 2), ShardComputeOptions.Sequential).Rows);
        var e = Assert.Throws<DataFormatException>(() => Loader.Inspect(source));
        Assert.Equal($"{a}: non-finite value NaN at index (row 2, col 1) (0-based)", e.Message);
    }

    [Fact]
    public void Mismatched_lengths_name_the_file_that_disagrees()
    {
        using var dir = new TempDir();
        string a = dir.Write("A.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", NpyFixture.F8(1, 0, 0, 1, 1, 1)));
        string b2 = dir.Write("b2.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", NpyFixture.F8(0.5, 0.5)));
        string b3 = dir.Write("b3.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", NpyFixture.F8(0.2, 0.3, 0.5)));
        string w4 = dir.WriteText("w4.csv", "1\n2\n3\n4\n");
        string bm = dir.Write("bm.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", NpyFixture.F8(1, 0, 0, 1, 1, 1)));

        var e1 = Assert.Throws<DataFormatException>(() => Loader.Describe(DataSources.VectorFiles("normalized", Unit.Exp, a, b2)));
        Assert.Equal($"{b2}: has 2 entries but A ({a}) has 3 rows", e1.Message);
        var e2 = Assert.Throws<DataFormatException>(() => Loader.Describe(DataSources.VectorFiles("rescaled", Unit.Exp, a, b3, w: w4)));
        Assert.Equal($"{w4}: has 4 entries but A ({a}) has 3 rows", e2.Message);
        var e3 = Assert.Throws<DataFormatException>(() => Loader.Describe(DataSources.VectorFiles("rescaled", Unit.Exp, a, bm)));
        Assert.StartsWith($"{bm}: expected a vector", e3.Message);
        var e4 = Assert.Throws<DataFormatException>(() => Loader.Describe(DataSources.VectorFiles("rescaled", Unit.Exp, b3, b3)));
        Assert.StartsWith($"{b3}: expected a 2-D matrix but the array has shape (3,)", e4.Message);
        Assert.Throws<ArgumentException>(() => DataSources.VectorFiles("rescaled", Unit.Exp, a, b3, w: w4, wScalar: 2));
    }

    [Theory]
    [InlineData(new[] { 0.2, 0.3, 0.5 }, null)]
    [InlineData(new[] { 0.2, 0.3, 0.6 }, "it sums to 1.1")]
    [InlineData(new[] { -0.2, 0.7, 0.5 }, "it has 1 negative entry")]
    [InlineData(new[] { -0.2, -0.3, 0.5 }, "it has 2 negative entries and sums to 0")]
    public void A_normalized_target_that_is_not_a_distribution_gives_a_warning(double[] b, string? why)
    {
        using var dir = new TempDir();
        string a = dir.Write("A.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 1), }", NpyFixture.F8(1, 2, 3)));
        string bp = dir.Write("b.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", NpyFixture.F8(b)));
        var inspection = Loader.Inspect(DataSources.VectorFiles("normalized", Unit.Exp, a, bp));
        if (why is null) Assert.Empty(inspection.Warnings);
        else Assert.Equal($"{bp}: normalized softmax regression assumes b is a probability distribution (entries ≥ 0 summing to 1) but {why}; solving anyway",
            Assert.Single(inspection.Warnings));
        // The other families make no such assumption.
        Assert.Empty(Loader.Inspect(DataSources.VectorFiles("hyperbolic", Unit.Exp, a, bp)).Warnings);
    }

    [Fact]
    public void Inspect_counts_the_non_zeros_of_dense_and_sparse_files()
    {
        using var dir = new TempDir();
        string dense = dir.Write("A.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", NpyFixture.F8(1, 0, 0, 2, 0, 0)));
        string sparse = dir.WriteText("A.mtx", "%%MatrixMarket matrix coordinate real general\n3 2 3\n1 1 1.0\n2 2 2.0\n3 1 0.0\n");
        string b = dir.Write("b.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", NpyFixture.F8(1, 2, 3)));
        Assert.Equal(2, Loader.Inspect(DataSources.VectorFiles("hyperbolic", Unit.Exp, dense, b)).NonZeros);
        var s = Loader.Inspect(DataSources.VectorFiles("hyperbolic", Unit.Exp, sparse, b));
        Assert.Equal(2, s.NonZeros);
        Assert.Equal(3, s.Rows);
        Assert.Equal(2, s.Columns);
    }

    /// <summary>
    /// The check of every value runs a vector at a time with a scalar tail (FileIo.FirstNonFinite, CountNonZeros): a
    /// non-finite value anywhere in a 7×5 matrix (35 values: whole vectors of any width up to 32 and a tail) is named
    /// at its own row and column, and ±0 anywhere is left out of the non-zero count.
    /// </summary>
    [Fact]
    public void Every_position_of_a_bad_value_or_a_zero_is_found_by_the_vectorised_check()
    {
        using var dir = new TempDir();
        const int rows = 7, cols = 5;
        string b = dir.Write("b.npy", NpyFixture.Build($"{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows},), }}", NpyFixture.F8(Enumerable.Repeat(1.0, rows).ToArray())));
        string header = $"{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}";
        double[] bad = [double.NaN, double.PositiveInfinity, double.NegativeInfinity];
        for (int k = 0; k < rows * cols; k++)
        {
            var values = Enumerable.Range(0, rows * cols).Select(i => 1.0 + i).ToArray();
            values[k] = bad[k % bad.Length];
            if (k + 3 < values.Length) values[k + 3] = double.NaN;   // a later bad value is not the one named
            string a = dir.Write($"bad{k}.npy", NpyFixture.Build(header, NpyFixture.F8(values)));
            var e = Assert.Throws<DataFormatException>(() => Loader.Inspect(DataSources.VectorFiles("hyperbolic", Unit.Exp, a, b)));
            string name = k % bad.Length == 0 ? "NaN" : k % bad.Length == 1 ? "+Infinity" : "-Infinity";
            Assert.Equal($"{a}: non-finite value {name} at index (row {k / cols}, col {k % cols}) (0-based)", e.Message);

            var zeros = Enumerable.Range(0, rows * cols).Select(i => i % 3 == k % 3 || i == k ? (i % 2 == 0 ? 0.0 : -0.0) : 1e-300 * (i + 1)).ToArray();
            string z = dir.Write($"zeros{k}.npy", NpyFixture.Build(header, NpyFixture.F8(zeros)));
            Assert.Equal(zeros.Count(v => v != 0), Loader.Inspect(DataSources.VectorFiles("hyperbolic", Unit.Exp, z, b)).NonZeros);
        }
    }

    /// <summary>
    /// A scan in parts (Npy.ScanMatrixRowsInParts, the check of every value on all cores) visits every row once, each
    /// part's rows in order to its own visitor, and names the first bad value of the file even when a later part also
    /// meets one — by reads into a buffer and through a mapping of the whole file (ScanMatrixRowsMappedInParts) alike.
    /// </summary>
    [Theory]
    [InlineData(1, 1, false)]
    [InlineData(1, 3, false)]
    [InlineData(2, 3, false)]
    [InlineData(1, 7, false)]
    [InlineData(1, 1, true)]
    [InlineData(1, 3, true)]
    [InlineData(2, 3, true)]
    [InlineData(1, 7, true)]
    public void A_scan_in_parts_visits_every_row_once_and_names_the_first_bad_value(int blockRows, int parts, bool mapped)
    {
        if (mapped && !OperatingSystem.IsLinux()) return;   // a mapped scan is kept only with the file's version (statx)
        using var dir = new TempDir();
        const int rows = 7, cols = 5;
        string header = $"{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}";
        var values = Enumerable.Range(0, rows * cols).Select(i => 1.0 + i).ToArray();
        string good = dir.Write("good.npy", NpyFixture.Build(header, NpyFixture.F8(values)));
        var seen = Enumerable.Range(0, parts).Select(_ => new List<(long Row, double First)>()).ToArray();
        Func<int, Action<ReadOnlySpan<double>, long>> visitors = part => (block, firstRow) =>
        {
            for (int j = 0; j * cols < block.Length; j++) seen[part].Add((firstRow + j, block[j * cols]));
        };
        if (mapped) Assert.NotNull(Npy.ScanMatrixRowsMappedInParts(good, blockRows, parts, visitors));
        else Npy.ScanMatrixRowsInParts(good, blockRows, parts, visitors);
        var all = seen.SelectMany(p => p).ToList();
        Assert.Equal(Enumerable.Range(0, rows).Select(r => (long)r), all.Select(v => v.Row));      // once each, in row order
        Assert.All(all, v => Assert.Equal(1.0 + v.Row * cols, v.First));
        Assert.All(seen, p => Assert.Equal(p.Select(v => v.Row).Order(), p.Select(v => v.Row)));

        for (int k = 0; k < rows * cols; k++)
        {
            var bad = (double[])values.Clone();
            bad[k] = double.NegativeInfinity;
            bad[^1] = double.NaN;                      // the last part meets one too
            string path = dir.Write($"bad{k}.npy", NpyFixture.Build(header, NpyFixture.F8(bad)));
            var e = Assert.Throws<DataFormatException>(() =>
            {
                if (mapped) Npy.ScanMatrixRowsMappedInParts(path, blockRows, parts, _ => (_, _) => { });
                else Npy.ScanMatrixRowsInParts(path, blockRows, parts, _ => (_, _) => { });
            });
            string name = k == rows * cols - 1 ? "NaN" : "-Infinity";
            Assert.Equal($"{path}: non-finite value {name} at index (row {k / cols}, col {k % cols}) (0-based)", e.Message);
            Assert.False(CheckedFiles.Covers(path));
        }
    }

    /// <summary>
    /// The mapping a scan returns holds the whole file: rows taken from it (Npy.ScannedMatrixRows) are the file's rows,
    /// and every range is a slice of that one mapping, not a mapping of its own. A file whose rows are not raw doubles is
    /// scanned by reads and gives no mapping.
    /// </summary>
    [Fact]
    public void Rows_of_a_mapped_scan_are_slices_of_its_one_mapping()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        var inst = Generators.Normalized(41, 6, seed: 3);
        string p = dir.File("A.npy");
        MatrixFile.Write(p, inst.A);
        var scanned = Npy.ScanMatrixRowsMappedInParts(p, 5, 2, _ => (_, _) => { });
        Assert.NotNull(scanned);
        var (whole, version) = scanned.Value;
        Assert.Equal(FileIdentity.Of(p), version);
        foreach (var (start, count) in new[] { (0, 41), (0, 20), (20, 21), (13, 1) })
        {
            var rows = Assert.IsType<MemoryDenseMatrix>(Npy.ScannedMatrixRows(p, whole, start, count));
            Assert.Equal(Npy.ReadMatrixRows(p, start, count).Data, rows.Values.ToArray());
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager(rows.Values, out System.Buffers.MemoryManager<double>? manager));
            Assert.Same(whole, manager);
        }
        Assert.Throws<DataFormatException>(() => Npy.ScannedMatrixRows(p, whole, 40, 2));

        string f4 = dir.Write("f4.npy", NpyFixture.Build("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", NpyFixture.F4(1.5f, 2.5f, 3.5f, 4.5f)));
        Assert.Null(Npy.ScanMatrixRowsMappedInParts(f4, 1, 2, _ => (_, _) => { }));
    }

    /// <summary>
    /// A loader that shares its scan (ShareScannedRows, the local simulation's) keeps the mapping of A that Inspect made
    /// and loads shards that answer bit for bit as a plain loader's; a file replaced after the inspection is another
    /// version, whose rows are mapped and checked anew rather than taken from the stale mapping.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Shards_of_a_shared_scan_answer_as_shards_of_their_own_mappings(int shards)
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        var inst = Generators.Normalized(57, 7, seed: 12);
        string aPath = dir.File("A.npy"), bPath = dir.File("b.npy");
        MatrixFile.Write(aPath, inst.A);
        Npy.Write(bPath, inst.B);
        var source = DataSources.VectorFiles("normalized", Unit.Exp, aPath, bPath);
        var sharing = new DataShardLoader { ShareScannedRows = true };
        var shape = sharing.Inspect(source).Shape;
        Assert.Equal(1, sharing.ScannedFiles);
        Assert.Equal(0, Loader.ScannedFiles);
        var ranges = ShardLayout.Split(shape.Rows, shards);
        var x = TestX(7);
        var expected = Evaluate(shape.Objective, ranges.Select(r => Loader.Load(source, r, ShardComputeOptions.Sequential)).ToArray(), x);
        var shared = Evaluate(shape.Objective, ranges.Select(r => sharing.Load(source, r, ShardComputeOptions.Sequential)).ToArray(), x);
        Assert.Equal(expected.Loss, shared.Loss);
        Assert.Equal(expected.Gradient, shared.Gradient);

        // Replaced by rename (a new inode): the shards read the new rows, and a bad value in them is named.
        var changed = ((DenseMatrix)inst.A).Data.Select(v => 0.5 * v).ToArray();
        changed[3 * 7 + 2] = double.NaN;
        string replacement = dir.Write("A.tmp.npy", NpyFixture.Build("{'descr': '<f8', 'fortran_order': False, 'shape': (57, 7), }", NpyFixture.F8(changed)));
        File.Move(replacement, aPath, overwrite: true);
        var e = Assert.Throws<DataFormatException>(() => sharing.Load(source, new RowRange(0, 10), ShardComputeOptions.Sequential));
        Assert.Equal($"{aPath}: non-finite value NaN at index (row 3, col 2) (0-based)", e.Message);
    }

    /// <summary>
    /// B's rows are checked in one part per core: the warning counts the rows that are not distributions in every part
    /// and names the first of them, whichever part it is in (a 1024×2048 B is scanned 512 rows a block).
    /// </summary>
    [Theory]
    [InlineData(new[] { 10, 700, 1000 }, "3 of 1024 rows are not (row 10, 0-based: it sums to 2)")]
    [InlineData(new[] { 700, 1000 }, "2 of 1024 rows are not (row 700, 0-based: it sums to 2)")]
    [InlineData(new[] { 5 }, "1 of 1024 rows are not (row 5, 0-based: it sums to 2)")]
    public void Rows_of_B_that_are_not_distributions_are_counted_over_every_part(int[] badRows, string why)
    {
        using var dir = new TempDir();
        const int m = 1024, n = 2048, d = 2;
        var b = new DenseMatrix(m, n);
        Array.Fill(b.Data, 1.0 / n);
        foreach (int row in badRows) b.Data[(long)row * n] += 1.0;
        string a1 = dir.File("A1.npy"), a2 = dir.File("A2.npy"), bp = dir.File("B.npy");
        Npy.Write(a1, new DenseMatrix(m, d, Enumerable.Repeat(0.5, m * d).ToArray()));
        Npy.Write(a2, new DenseMatrix(n, d, Enumerable.Repeat(0.25, n * d).ToArray()));
        Npy.Write(bp, b);
        var warning = Assert.Single(Loader.Inspect(DataSources.MatrixFiles("multiple-normalized", a1, a2, bp)).Warnings);
        Assert.Equal($"{bp}: multiple normalized softmax regression assumes every row of B is a probability distribution (entries ≥ 0 summing to 1) but {why}; solving anyway", warning);
    }

    [Fact]
    public void Unknown_kinds_and_invalid_generator_arguments_are_argument_errors()
    {
        var memory = ProblemSource.Create("memory", [KeyValuePair.Create("name", "x"), KeyValuePair.Create("problem", "normalized")]);
        Assert.Contains("cannot load a 'memory' source", Assert.Throws<ArgumentException>(() => Loader.Describe(memory)).Message);
        var density = Assert.Throws<ParameterException>(() =>
            DataSources.Generated(new GeneratedSpec("normalized", Unit.Exp, 10, 2, 1, Sparse: true, Density: 1.5)));
        Assert.Equal((nameof(GeneratedSpec.Density), 1.5, "must be in (0, 1]"), (density.Parameter, (double)density.Value!, density.Requirement));
        var noise = Assert.Throws<ParameterException>(() => DataSources.Generated(new GeneratedSpec("rescaled", Unit.Exp, 10, 2, 1, Noise: 0.1)));
        Assert.Equal((nameof(GeneratedSpec.Noise), "is not available for rescaled instances (they are always planted)"), (noise.Parameter, noise.Requirement));
        var planted = Assert.Throws<ParameterException>(() => new GeneratedSpec("normalized", Unit.Exp, 10, 2, 1, Planted: true, Noise: 0.1).Validate());
        Assert.Equal("must be 0 (or absent) for a --planted instance", planted.Format(p => "--" + p.ToLowerInvariant()));
        var scale = Assert.Throws<ParameterException>(() => new GeneratedSpec("hyperbolic", Unit.Exp, 10, 2, 1, XScale: 1e6).Generate());
        Assert.Equal(nameof(GeneratedSpec.XScale), scale.Parameter);
        Assert.StartsWith("u(A x_true) overflows at row ", scale.Requirement);
        Assert.EndsWith("use a smaller XScale", scale.Requirement);
    }

    [Theory]
    [InlineData("multiple-normalized", 1)]
    [InlineData("multiple-normalized", 3)]
    [InlineData("multiple-rescaled", 2)]
    public void Matrix_file_shards_equal_shards_of_the_whole_problem(string problem, int shards)
    {
        using var dir = new TempDir();
        var inst = Generators.Multiple(12, 3, seed: 4, planted: false);
        var w = new DenseMatrix(12, 12, Enumerable.Range(0, 144).Select(i => 0.01 * (i % 7)).ToArray());
        string a1 = dir.File("A1.npy"), a2 = dir.File("A2.csv"), b = dir.File("B.npy"), wp = dir.File("W.npy");
        Npy.Write(a1, inst.A1);
        MatrixFile.Write(a2, inst.A2);
        Npy.Write(b, inst.B);
        Npy.Write(wp, w);
        var source = DataSources.MatrixFiles(problem, a1, a2, b, w: wp);
        var shape = Loader.Describe(source);
        Assert.Equal(12, shape.Rows);
        Assert.Equal(9, shape.Objective.Dimension);

        var whole = MatrixProblem.Create(problem, inst.A1, inst.A2, inst.B, w);
        var reference = whole.Shards(shards, ShardComputeOptions.Sequential);
        var loaded = ShardLayout.Split(12, shards).Select(r => Loader.Load(source, r, ShardComputeOptions.Sequential)).ToArray();
        var x = TestX(9);
        var (lossRef, gradRef) = Evaluate(shape.Objective, reference, x);
        var (loss, grad) = Evaluate(shape.Objective, loaded, x);
        Assert.Equal(lossRef, loss);
        Assert.Equal(gradRef, grad);

        var inspection = Loader.Inspect(source);
        Assert.Equal((12L, 3, 9L, 12), (inspection.Rows, inspection.Columns, inspection.Unknowns, inspection.TargetColumns!.Value));
        Assert.Empty(inspection.Warnings);
    }

    /// <summary>
    /// A matrix problem's B is the input (rows×n doubles): a sharing loader keeps the mapping its inspection scanned B
    /// through, and its shards read their rows of B in place, answering bit for bit as a plain loader's shards (which
    /// map their own rows); a B replaced after the inspection is mapped and checked anew, its bad value named.
    /// </summary>
    [Theory]
    [InlineData("multiple-normalized", 1)]
    [InlineData("multiple-normalized", 3)]
    [InlineData("multiple-rescaled", 2)]
    public void Matrix_shards_of_a_shared_scan_of_B_answer_as_shards_of_their_own_mappings(string problem, int shards)
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDir();
        const int n = 40, d = 3;
        var inst = Generators.Multiple(n, d, seed: 6, planted: false);
        string a1 = dir.File("A1.npy"), a2 = dir.File("A2.npy"), bPath = dir.File("B.npy");
        Npy.Write(a1, inst.A1);
        Npy.Write(a2, inst.A2);
        Npy.Write(bPath, inst.B);
        var source = DataSources.MatrixFiles(problem, a1, a2, bPath);
        var sharing = new DataShardLoader { ShareScannedRows = true };
        var shape = sharing.Inspect(source).Shape;
        Assert.Equal(1, sharing.ScannedFiles);
        var ranges = ShardLayout.Split(n, shards);
        var x = TestX(d * d);
        var plain = ranges.Select(r => Loader.Load(source, r, ShardComputeOptions.Sequential)).ToArray();
        var shared = ranges.Select(r => sharing.Load(source, r, ShardComputeOptions.Sequential)).ToArray();
        var expected = Evaluate(shape.Objective, plain, x);
        var actual = Evaluate(shape.Objective, shared, x);
        Assert.Equal(expected.Loss, actual.Loss);
        Assert.Equal(expected.Gradient, actual.Gradient);
        for (int k = 0; k < shards; k++)
            Assert.Equal(((MatrixShard)plain[k]).Targets.ToArray(), ((MatrixShard)shared[k]).Targets.ToArray());

        // Replaced by rename (a new inode): the shards read the new rows, and a bad value in them is named.
        var changed = inst.B.Data.Select(v => 0.5 * v).ToArray();
        changed[2 * n + 5] = double.PositiveInfinity;
        string replacement = dir.Write("B.tmp.npy", NpyFixture.Build($"{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {n}), }}", NpyFixture.F8(changed)));
        File.Move(replacement, bPath, overwrite: true);
        var e = Assert.Throws<DataFormatException>(() => sharing.Load(source, new RowRange(0, 10), ShardComputeOptions.Sequential));
        Assert.Equal($"{bPath}: non-finite value +Infinity at index (row 2, col 5) (0-based)", e.Message);
    }

    [Fact]
    public void Generated_matrix_shards_and_a_scalar_weight_match_the_whole_problem()
    {
        var spec = new GeneratedSpec("multiple-rescaled", Unit.Exp, 10, 2, Seed: 8, Planted: true);
        var source = DataSources.Generated(spec);
        source = ProblemSource.Create(source.Kind, source.Parameters.Append(KeyValuePair.Create("w-scalar", "0.5")));
        var inst = Generators.Multiple(10, 2, 8, planted: true);
        var w = new DenseMatrix(10, 10, Enumerable.Repeat(0.5, 100).ToArray());
        var whole = MatrixProblem.Create("multiple-rescaled", inst.A1, inst.A2, inst.B, w);
        var loader = new DataShardLoader();
        var shape = loader.Describe(source);
        var loaded = ShardLayout.Split(10, 2).Select(r => loader.Load(source, r, ShardComputeOptions.Sequential)).ToArray();
        var x = TestX(4);
        Assert.Equal(Evaluate(shape.Objective, whole.Shards(2, ShardComputeOptions.Sequential), x).Loss, Evaluate(shape.Objective, loaded, x).Loss);
    }

    [Fact]
    public void Matrix_shapes_that_disagree_name_the_file()
    {
        using var dir = new TempDir();
        string F(string name, int r, int c) { string p = dir.File(name); Npy.Write(p, new DenseMatrix(r, c, Enumerable.Repeat(0.25, r * c).ToArray())); return p; }
        string a1 = F("A1.npy", 4, 2), a2 = F("A2.npy", 4, 2), a2bad = F("A2bad.npy", 4, 3), b = F("B.npy", 4, 4), bbad = F("Bbad.npy", 4, 3), wbad = F("Wbad.npy", 3, 4);
        Assert.Equal($"{a2bad}: has 3 columns but A1 ({a1}) has 2: A1 and A2 must both have d columns",
            Assert.Throws<DataFormatException>(() => Loader.Describe(DataSources.MatrixFiles("multiple-normalized", a1, a2bad, b))).Message);
        Assert.Equal($"{bbad}: is 4×3 but must be 4×4 (rows of A1 ({a1}) × rows of A2 ({a2}))",
            Assert.Throws<DataFormatException>(() => Loader.Describe(DataSources.MatrixFiles("multiple-normalized", a1, a2, bbad))).Message);
        Assert.Equal($"{wbad}: is 3×4 but must have the shape of B, 4×4",
            Assert.Throws<DataFormatException>(() => Loader.Describe(DataSources.MatrixFiles("multiple-rescaled", a1, a2, b, w: wbad))).Message);
        // Rows of 0.25 sum to 1: a distribution. Rows of B as a 4×4 of 0.5 do not.
        Assert.Empty(Loader.Inspect(DataSources.MatrixFiles("multiple-normalized", a1, a2, b)).Warnings);
        string b2 = dir.File("B2.npy");
        Npy.Write(b2, new DenseMatrix(4, 4, Enumerable.Repeat(0.5, 16).ToArray()));
        Assert.Equal($"{b2}: multiple normalized softmax regression assumes every row of B is a probability distribution (entries ≥ 0 summing to 1) but 4 of 4 rows are not (row 0, 0-based: it sums to 2); solving anyway",
            Assert.Single(Loader.Inspect(DataSources.MatrixFiles("multiple-normalized", a1, a2, b2)).Warnings));
    }
}
