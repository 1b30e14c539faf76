using System.Collections.Concurrent;
using DistSoftmax.Core;
using System.Globalization;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Data.Sources;

/// <summary>
/// What a full check of a source found: the shape the solver needs, the sizes for a report, and warnings about
/// assumptions the data breaks (the solve can still go on).
/// </summary>
/// <param name="Rows">n: rows of A (vector problems) or of A1 and B (matrix problems).</param>
/// <param name="Columns">d: columns of A (or of A1 and A2).</param>
/// <param name="Unknowns">d for vector problems, d² for matrix problems.</param>
/// <param name="NonZeros">Non-zero entries of A (of A1 and A2 together for matrix problems).</param>
/// <param name="TargetColumns">Columns of B for matrix problems (rows of A2), null for vector problems.</param>
public sealed record SourceInspection(ProblemShape Shape, long Rows, int Columns, long Unknowns, long NonZeros,
    int? TargetColumns, IReadOnlyList<string> Warnings);

/// <summary>
/// Loads shards of real data for the <see cref="DataSources"/> kinds "files" and "generated".
/// <list type="bullet">
/// <item><see cref="Describe"/> reads only what the coordinator needs: .npy headers and Matrix Market size lines
/// (a CSV file has no header, so it is read whole), and checks that the shapes agree.</item>
/// <item><see cref="Load"/> reads a worker's rows: rows [start, start + count) of a C-ordered .npy are read from their
/// byte range alone; other formats are read whole and sliced. A generated source is regenerated (deterministically)
/// and sliced; the last generated instance is kept, so workers in one process generate it once.</item>
/// <item><see cref="Inspect"/> reads everything once (in blocks for .npy) to check every value before a solve starts.</item>
/// </list>
/// Bad files raise <see cref="DataFormatException"/> ("path: problem"); bad parameters <see cref="ArgumentException"/>.
/// Thread-safe.
/// </summary>
public sealed class DataShardLoader : IShardLoader
{
    /// <summary>Items per block when a .npy matrix is scanned by <see cref="Inspect"/>.</summary>
    private const int ScanItems = 1 << 20;

    /// <summary>
    /// Row ranges a .npy matrix is checked in at once, one per core (<see cref="Npy.ScanMatrixRowsInParts"/>): A's
    /// non-zeros at 100000×1000 took 130–183 ms in two parts against 207 ms in one, at 400000×400 184 against 294 ms.
    /// </summary>
    private static readonly int ScanParts = Math.Max(1, Environment.ProcessorCount);

    /// <summary>
    /// Largest A (bytes of data) whose inspection maps the file and keeps the mapping for the shards of this process
    /// (<see cref="ShareScannedRows"/>). On the development machine the first touch of a mapped page costs more than
    /// reading it, but a second touch of a 160 MB file's pages costs almost nothing, so the shards of the 200000×100
    /// benchmark load without mapping and touching their rows again (whole process 971/998 against 1064/1042.5 ms,
    /// medians of ten alternated runs in each order). At 1.28 GB a second touch still cost 100–250 ms against a
    /// 500 ms first one, and the mapped scan itself 550 ms against a 195 ms read pass: 400000×400 approx-newton solves
    /// took 5.04/4.71 s with the shared mapping against 4.54/4.61 s without; 100000×1000 (800 MB) took 6.06/5.93/6.26 s
    /// against 6.39/6.15/6.29 s (alternated, same peak RSS). Larger files are read as before.
    /// </summary>
    public const long ShareScannedRowsUpToBytes = 1L << 30;

    /// <summary>
    /// Whether <see cref="Inspect"/> scans a C-ordered float64 .npy A, or a matrix problem's B (of at most
    /// <see cref="ShareScannedRowsUpToBytes"/>), through one mapping of the whole file and keeps it, so that <see cref="Load"/> gives the shards slices of it rather
    /// than mapping, touching and checking their rows again. For solves whose shards this loader loads in this process
    /// (the local simulation, in-process); the mapping lives as long as this loader and the shards that use it.
    /// </summary>
    public bool ShareScannedRows { get; init; }

    /// <summary>The mappings <see cref="Inspect"/> kept (<see cref="ShareScannedRows"/>), by full path, with the file version scanned.</summary>
    private readonly ConcurrentDictionary<string, (FileIdentity Version, MappedFileMemory Whole)> _scannedRows = new();

    /// <summary>Files whose scan's mapping this loader keeps for its shards (<see cref="ShareScannedRows"/>).</summary>
    internal int ScannedFiles => _scannedRows.Count;

    private readonly object _cacheLock = new();
    private ProblemSource? _cachedSource;
    private object? _cachedInstance;

    public ProblemShape Describe(ProblemSource source)
    {
        string problem = DataSources.ProblemOf(source);
        DataSources.CheckProblem(problem);
        if (DataSources.IsMatrixProblem(problem)) return DescribeMatrix(source, problem);
        switch (source.Kind)
        {
            case DataSources.FilesKind:
            {
                var (n, d) = VectorFileShapes(source);
                return new ProblemShape(new VectorObjective(Family(source), d, n, StoredEntries(source.Require("A"), n, d)), n);
            }
            case DataSources.GeneratedKind:
            {
                var spec = GeneratedSpec.From(source);
                long entries = spec.Sparse ? (long)Math.Ceiling((double)spec.N * spec.D * spec.Density) : (long)spec.N * spec.D;
                return new ProblemShape(new VectorObjective(Family(source), spec.D, spec.N, entries), spec.N);
            }
            default:
                throw UnknownKind(source);
        }
    }

    /// <summary>Entries a pass over A reads: the declared entries of a Matrix Market coordinate file (loaded sparse), else n·d.</summary>
    private static long StoredEntries(string aPath, long n, int d) =>
        aPath.EndsWith(".mtx", StringComparison.OrdinalIgnoreCase) && MatrixMarket.ReadSize(aPath).Entries is long entries ? entries : n * d;

    public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute)
    {
        string problem = DataSources.ProblemOf(source);
        DataSources.CheckProblem(problem);
        if (DataSources.IsMatrixProblem(problem)) return LoadMatrix(source, problem, rows, compute);
        var family = Family(source);
        switch (source.Kind)
        {
            case DataSources.FilesKind:
            {
                string aPath = source.Require("A"), bPath = source.Require("b");
                IRowMatrix a = MappedMatrixRows(aPath, rows);
                double[] b = VectorRange(bPath, rows);
                var reg = Weights(source, "w", rows);
                return new VectorShard(family, a, b, reg, rows.Start, compute);
            }
            case DataSources.GeneratedKind:
            {
                var inst = (VectorInstance)Generated(source);
                CheckRange("generated instance", rows, inst.A.Rows);
                int s = (int)rows.Start;
                var reg = source.Get("w-scalar") is null ? Regularizer.None : Regularizer.Uniform(WScalar(source));
                return new VectorShard(family, inst.A.SliceRows(s, rows.Count), inst.B.AsSpan(s, rows.Count).ToArray(), reg, rows.Start, compute);
            }
            default:
                throw UnknownKind(source);
        }
    }

    /// <summary>Reads and checks every value of the source (shapes, finiteness, assumptions) before a solve.</summary>
    public SourceInspection Inspect(ProblemSource source)
    {
        string problem = DataSources.ProblemOf(source);
        DataSources.CheckProblem(problem);
        if (DataSources.IsMatrixProblem(problem)) return InspectMatrix(source, problem);
        var warnings = new List<string>();
        switch (source.Kind)
        {
            case DataSources.FilesKind:
            {
                string aPath = source.Require("A"), bPath = source.Require("b");
                var (n, d) = VectorFileShapes(source);
                long nnz = CountNonZerosOfA(aPath, n, d);
                double[] b = MatrixFile.ReadVector(bPath);
                if (source.Get("w") is string wPath) MatrixFile.ReadVector(wPath); // values checked by the reader
                if (problem == Families.Normalized && DistributionProblem(b) is string why)
                    warnings.Add($"{bPath}: {NormalizedAssumption} but {why}; solving anyway");
                var shape = new ProblemShape(new VectorObjective(Family(source), d, n, StoredEntries(aPath, n, d)), n);
                return new SourceInspection(shape, n, d, d, nnz, null, warnings);
            }
            case DataSources.GeneratedKind:
            {
                var inst = (VectorInstance)Generated(source);
                if (source.Get("w-scalar") is not null) WScalar(source);
                long nnz = inst.A switch { CsrMatrix c => CountNonZeros(c.Values), DenseMatrix m => CountNonZeros(m.Data), _ => inst.A.StoredEntries };
                var shape = new ProblemShape(new VectorObjective(Family(source), inst.A.Cols, inst.A.Rows, inst.A.StoredEntries), inst.A.Rows);
                return new SourceInspection(shape, inst.A.Rows, inst.A.Cols, inst.A.Cols, nnz, null, warnings);
            }
            default:
                throw UnknownKind(source);
        }
    }

    /// <summary>The instance of a generated source (cached: the last one generated).</summary>
    public object Generated(ProblemSource source)
    {
        lock (_cacheLock)
        {
            if (_cachedSource is not null && _cachedSource.Equals(source)) return _cachedInstance!;
            var instance = GeneratedSpec.From(source).Generate();
            _cachedSource = source;
            _cachedInstance = instance;
            return instance;
        }
    }

    // ------------------------------------------------------------------ vector problems

    internal const string NormalizedAssumption =
        "normalized softmax regression assumes b is a probability distribution (entries ≥ 0 summing to 1)";

    private static IVectorFamily Family(ProblemSource source) =>
        Families.Create(DataSources.ProblemOf(source), DataSources.UnitOf(source));

    /// <summary>(n, d) of A, checking that b (and w) have n entries.</summary>
    private static (long Rows, int Cols) VectorFileShapes(ProblemSource source)
    {
        string aPath = source.Require("A"), bPath = source.Require("b");
        var (n, d) = MatrixShape(aPath);
        long nb = VectorLength(bPath);
        if (nb != n) throw new DataFormatException(bPath, $"has {nb} entries but A ({aPath}) has {n} rows");
        if (source.Get("w") is string wPath)
        {
            if (source.Get("w-scalar") is not null) throw new ArgumentException("give either a weight file or w-scalar, not both");
            long nw = VectorLength(wPath);
            if (nw != n) throw new DataFormatException(wPath, $"has {nw} entries but A ({aPath}) has {n} rows");
        }
        else if (source.Get("w-scalar") is not null) WScalar(source);
        return (n, d);
    }

    private static Regularizer Weights(ProblemSource source, string key, RowRange rows)
    {
        if (source.Get(key) is string wPath) return Regularizer.PerRow(VectorRange(wPath, rows));
        if (source.Get("w-scalar") is not null) return Regularizer.Uniform(WScalar(source));
        return Regularizer.None;
    }

    /// <summary>The neutral name of the one regulariser weight for every row in <see cref="ParameterException"/>s.</summary>
    public const string WScalarParameter = "WScalar";

    private static double WScalar(ProblemSource source)
    {
        double w = DataSources.ParseDouble(source, "w-scalar");
        if (!double.IsFinite(w)) throw new ParameterException(WScalarParameter, w, $"must be a finite number (got {source.Get("w-scalar")})");
        return w;
    }

    /// <summary>Why b is not a probability vector, or null when it is (entries ≥ 0, |Σb − 1| ≤ 1e-6).</summary>
    internal static string? DistributionProblem(ReadOnlySpan<double> b)
    {
        int negative = 0;
        double sum = 0;
        foreach (double v in b) { sum += v; if (v < 0) negative++; }
        bool sumOk = Math.Abs(sum - 1) <= 1e-6;
        if (negative == 0 && sumOk) return null;
        string s = sum.ToString("G10", CultureInfo.InvariantCulture);
        if (negative > 0 && !sumOk) return $"it has {negative} negative entr{(negative == 1 ? "y" : "ies")} and sums to {s}";
        if (negative > 0) return $"it has {negative} negative entr{(negative == 1 ? "y" : "ies")}";
        return $"it sums to {s}";
    }

    // ------------------------------------------------------------------ matrix problems

    internal const string MatrixNormalizedAssumption =
        "multiple normalized softmax regression assumes every row of B is a probability distribution (entries ≥ 0 summing to 1)";

    private static ProblemShape MatrixShape(string problem, long rows, int d) =>
        new(new MatrixObjective(problem, MatrixProblem.RowFamilyOf(problem), d, rows), rows);

    /// <summary>(m, d, n): A1 is m×d, A2 n×d, B (and W) m×n; checks that the files agree.</summary>
    private static (long M, int D, int N) MatrixFileShapes(ProblemSource source)
    {
        string a1 = source.Require("A1"), a2 = source.Require("A2"), b = source.Require("B");
        var (m, d) = MatrixShape(a1);
        var (n, d2) = MatrixShape(a2);
        if (d2 != d) throw new DataFormatException(a2, $"has {d2} columns but A1 ({a1}) has {d}: A1 and A2 must both have d columns");
        if (n > int.MaxValue) throw new DataFormatException(a2, $"has {n} rows, too many");
        var (bm, bn) = MatrixShape(b);
        if (bm != m || bn != n)
            throw new DataFormatException(b, $"is {bm}×{bn} but must be {m}×{n} (rows of A1 ({a1}) × rows of A2 ({a2}))");
        if (source.Get("W") is string w)
        {
            if (source.Get("w-scalar") is not null) throw new ArgumentException("give either a weight file or w-scalar, not both");
            var (wm, wn) = MatrixShape(w);
            if (wm != m || wn != n) throw new DataFormatException(w, $"is {wm}×{wn} but must have the shape of B, {m}×{n}");
        }
        else if (source.Get("w-scalar") is not null) WScalar(source);
        return (m, d, (int)n);
    }

    private static ProblemShape DescribeMatrix(ProblemSource source, string problem)
    {
        switch (source.Kind)
        {
            case DataSources.FilesKind:
            {
                var (m, d, _) = MatrixFileShapes(source);
                return MatrixShape(problem, m, d);
            }
            case DataSources.GeneratedKind:
            {
                var spec = GeneratedSpec.From(source);
                return MatrixShape(problem, spec.N, spec.D);
            }
            default:
                throw UnknownKind(source);
        }
    }

    private IShard LoadMatrix(ProblemSource source, string problem, RowRange rows, ShardComputeOptions compute)
    {
        var family = MatrixProblem.RowFamilyOf(problem);
        DenseMatrix a1, a2;
        IRowMatrix b;
        DenseMatrix? w = null;
        switch (source.Kind)
        {
            case DataSources.FilesKind:
                a1 = Dense(MatrixRows(source.Require("A1"), rows));
                a2 = MatrixFile.ReadDense(source.Require("A2"));
                // B's rows are the input (rows×n doubles): mapped, or sliced from the inspection's mapping, not copied.
                b = MappedMatrixRows(source.Require("B"), rows);
                if (b is CsrMatrix sparse) b = sparse.ToDense();
                if (source.Get("W") is string wPath) w = Dense(MatrixRows(wPath, rows));
                break;
            case DataSources.GeneratedKind:
            {
                var inst = (MatrixInstance)Generated(source);
                CheckRange("generated instance", rows, inst.A1.Rows);
                int s = (int)rows.Start;
                (a1, a2, b) = (inst.A1.SliceDense(s, rows.Count), inst.A2, inst.B.SliceDense(s, rows.Count));
                break;
            }
            default:
                throw UnknownKind(source);
        }
        if (w is null && source.Get("w-scalar") is not null)
        {
            w = new DenseMatrix(b.Rows, b.Cols);
            Array.Fill(w.Data, WScalar(source));
        }
        return new MatrixShard(family, a1, a2, b, w, rows.Start, compute);
    }

    private SourceInspection InspectMatrix(ProblemSource source, string problem)
    {
        var warnings = new List<string>();
        switch (source.Kind)
        {
            case DataSources.FilesKind:
            {
                var (m, d, n) = MatrixFileShapes(source);
                string a1 = source.Require("A1"), a2 = source.Require("A2"), bPath = source.Require("B");
                long nnz = CountNonZeros(a1, m, d) + CountNonZeros(a2, n, d);
                string? why = CheckRowsOf(bPath, m, n, problem == "multiple-normalized", ShareScans(bPath, m, n));
                if (source.Get("W") is string w) MatrixFile.ReadMatrix(w); // values checked by the reader
                if (why is not null)
                    warnings.Add($"{bPath}: {MatrixNormalizedAssumption} but {why}; solving anyway");
                return new SourceInspection(MatrixShape(problem, m, d), m, d, (long)d * d, nnz, n, warnings);
            }
            case DataSources.GeneratedKind:
            {
                var inst = (MatrixInstance)Generated(source);
                if (source.Get("w-scalar") is not null) WScalar(source);
                long nnz = CountNonZeros(inst.A1.Data) + CountNonZeros(inst.A2.Data);
                int d = inst.A1.Cols;
                return new SourceInspection(MatrixShape(problem, inst.A1.Rows, d), inst.A1.Rows, d, (long)d * d, nnz, inst.A2.Rows, warnings);
            }
            default:
                throw UnknownKind(source);
        }
    }

    /// <summary>
    /// Checks B (m×n) through <see cref="Npy.ScanMatrixRowsInParts"/> (one reused block of about <see cref="ScanItems"/>
    /// entries per part: B is never held whole in memory of its own, at attention-head sizes it is the input), so that its
    /// values are checked by the reader; with <paramref name="distributions"/> also says why some rows are not
    /// probability vectors (how many, and the first one), or null when all are. With <paramref name="keepMapping"/> the
    /// scan reads through one mapping of the file, kept for the shards (<see cref="ShareScannedRows"/>).
    /// </summary>
    private string? CheckRowsOf(string bPath, long m, int n, bool distributions, bool keepMapping)
    {
        if (!IsNpy(bPath))
        {
            var whole = MatrixFile.ReadDense(bPath);
            return distributions ? RowDistributionProblem(whole) : null;
        }
        var tallies = Enumerable.Range(0, ScanParts).Select(_ => new DistributionTally()).ToArray();
        Func<int, Action<ReadOnlySpan<double>, long>> tally = part => (block, firstRow) =>
        {
            if (!distributions) return;
            for (int j = 0; j * n < block.Length; j++) tallies[part].Add(firstRow + j, block.Slice(j * n, n));
        };
        if (!keepMapping) Npy.ScanMatrixRowsInParts(bPath, ScanBlockRows(n), ScanParts, tally);
        else KeepScanMapping(bPath, Npy.ScanMatrixRowsMappedInParts(bPath, ScanBlockRows(n), ScanParts, tally));
        for (int part = 1; part < ScanParts; part++) tallies[0].Merge(tallies[part]);
        return tallies[0].Describe(m);
    }

    /// <summary>Why some rows of B are not probability vectors (how many, and the first one), or null when all are.</summary>
    internal static string? RowDistributionProblem(DenseMatrix b)
    {
        var tally = new DistributionTally();
        for (int j = 0; j < b.Rows; j++) tally.Add(j, b.Row(j));
        return tally.Describe(b.Rows);
    }

    /// <summary>Counts the rows that are not probability vectors and remembers the first.</summary>
    private sealed class DistributionTally
    {
        private long _bad, _first = -1;
        private string? _firstWhy;

        public void Add(long row, ReadOnlySpan<double> values)
        {
            if (DistributionProblem(values) is not string why) return;
            if (_bad++ == 0) { _first = row; _firstWhy = why; }
        }

        /// <summary>Adds the tally of rows that come after all of this one's (the next part of a scan in parts).</summary>
        public void Merge(DistributionTally later)
        {
            if (_bad == 0) (_first, _firstWhy) = (later._first, later._firstWhy);
            _bad += later._bad;
        }

        public string? Describe(long rows) => _bad == 0 ? null : $"{_bad} of {rows} rows are not (row {_first}, 0-based: {_firstWhy})";
    }

    private static DenseMatrix Dense(IRowMatrix m) => m switch
    {
        DenseMatrix d => d,
        CsrMatrix c => c.ToDense(),
        _ => throw new InvalidOperationException($"unexpected matrix type {m.GetType().Name}"),
    };

    // ------------------------------------------------------------------ files

    private static bool IsNpy(string path) => Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase);

    private static bool IsMtx(string path) => Path.GetExtension(path).Equals(".mtx", StringComparison.OrdinalIgnoreCase);

    /// <summary>Rows and columns of a matrix file from its header where the format has one.</summary>
    internal static (long Rows, int Cols) MatrixShape(string path)
    {
        if (IsNpy(path))
        {
            var info = Npy.ReadInfo(path);
            if (info.Shape.Length != 2)
                throw new DataFormatException(path, $"expected a 2-D matrix but the array has shape {Shape(info.Shape)}" +
                    (info.Shape.Length == 1 ? " (a 1-D array is a vector)" : ""));
            return (info.Rows, (int)info.Cols);
        }
        if (IsMtx(path))
        {
            var (r, c, _) = MatrixMarket.ReadSize(path);
            return (r, c);
        }
        var m = MatrixFile.ReadMatrix(path);
        return (m.Rows, m.Cols);
    }

    /// <summary>Length of a vector file (an .npy header suffices).</summary>
    internal static long VectorLength(string path)
    {
        if (IsNpy(path))
        {
            var info = Npy.ReadInfo(path);
            if (!info.IsVector)
                throw new DataFormatException(path, $"expected a vector (shape (n,), (n, 1) or (1, n)) but the array has shape {Shape(info.Shape)}");
            return info.VectorLength;
        }
        if (IsMtx(path))
        {
            var (r, c, _) = MatrixMarket.ReadSize(path);
            if (r != 1 && c != 1)
                throw new DataFormatException(path, $"expected a vector (an n×1 or 1×n matrix) but the size line says {r}×{c}");
            return (long)r * c;
        }
        return MatrixFile.ReadVector(path).Length;
    }

    /// <summary>Rows of a matrix file as a shard's block (only the block's bytes for a C-ordered .npy).</summary>
    internal static IRowMatrix MatrixRows(string path, RowRange rows)
    {
        if (IsNpy(path)) return Npy.ReadMatrixRows(path, rows.Start, rows.Count);
        var m = MatrixFile.ReadMatrix(path);
        CheckRange(path, rows, m.Rows);
        return rows.Start == 0 && rows.Count == m.Rows ? m : m.SliceRows((int)rows.Start, rows.Count);
    }

    /// <summary>
    /// As <see cref="MatrixRows"/>, a C-ordered float64 .npy file's rows mapped rather than copied (<see cref="Npy.MapMatrixRows"/>),
    /// or sliced from the mapping <see cref="Inspect"/> kept of the same file version (<see cref="ShareScannedRows"/>).
    /// </summary>
    private IRowMatrix MappedMatrixRows(string path, RowRange rows)
    {
        if (!IsNpy(path)) return MatrixRows(path, rows);
        if (_scannedRows.TryGetValue(Path.GetFullPath(path), out var scanned) && FileIdentity.Of(path) == scanned.Version)
            return Npy.ScannedMatrixRows(path, scanned.Whole, rows.Start, rows.Count);
        return Npy.MapMatrixRows(path, rows.Start, rows.Count);
    }

    internal static double[] VectorRange(string path, RowRange rows)
    {
        if (IsNpy(path)) return Npy.ReadVectorRange(path, rows.Start, rows.Count);
        var v = MatrixFile.ReadVector(path);
        CheckRange(path, rows, v.Length);
        return v.AsSpan((int)rows.Start, rows.Count).ToArray();
    }

    private static void CheckRange(string what, RowRange rows, long available)
    {
        if (rows.Start < 0 || rows.Count < 0 || rows.Start + rows.Count > available)
            throw new DataFormatException(what, $"rows [{rows.Start}, {rows.Start + rows.Count}) are out of range: it has {available} rows");
    }

    /// <summary>
    /// Counts the non-zero entries of A's file, checking every value (blockwise for .npy); keeps the scan's mapping of a
    /// .npy file for the shards where <see cref="ShareScannedRows"/> asks for it.
    /// </summary>
    private long CountNonZerosOfA(string path, long rows, int cols)
    {
        if (!ShareScans(path, rows, cols)) return CountNonZeros(path, rows, cols);
        var nonZeros = new long[ScanParts];
        KeepScanMapping(path, Npy.ScanMatrixRowsMappedInParts(path, ScanBlockRows(cols), ScanParts, CountInto(nonZeros)));
        return nonZeros.Sum();
    }

    /// <summary>
    /// Whether the inspection of the rows×cols matrix file <paramref name="path"/> maps it and keeps the mapping for the
    /// shards: asked for (<see cref="ShareScannedRows"/>), on Linux, a .npy of at most <see cref="ShareScannedRowsUpToBytes"/>.
    /// </summary>
    private bool ShareScans(string path, long rows, long cols) =>
        ShareScannedRows && OperatingSystem.IsLinux() && IsNpy(path) && rows * cols * sizeof(double) <= ShareScannedRowsUpToBytes;

    /// <summary>
    /// Keeps a mapped scan's mapping for the shards — only when the scan saw one version of the file throughout (else it
    /// is null, and a file changed meanwhile is mapped again when loaded).
    /// </summary>
    private void KeepScanMapping(string path, (MappedFileMemory Whole, FileIdentity Version)? scan)
    {
        if (scan is var (whole, version)) _scannedRows[Path.GetFullPath(path)] = (version, whole);
    }

    /// <summary>Visitors of a scan in parts that add each block's non-zero entries to its part's count.</summary>
    private static Func<int, Action<ReadOnlySpan<double>, long>> CountInto(long[] nonZeros) =>
        part => (block, _) => nonZeros[part] += CountNonZeros(block);

    /// <summary>Rows per block of a scan: about <see cref="ScanItems"/> values.</summary>
    private static int ScanBlockRows(int cols) => Math.Max(1, ScanItems / Math.Max(cols, 1));

    /// <summary>Counts the non-zero entries of a matrix file, checking every value (blockwise for .npy).</summary>
    private static long CountNonZeros(string path, long rows, int cols)
    {
        if (!IsNpy(path))
        {
            return MatrixFile.ReadMatrix(path) switch
            {
                CsrMatrix c => CountNonZeros(c.Values),
                DenseMatrix m => CountNonZeros(m.Data),
                var other => other.StoredEntries,
            };
        }
        var nonZeros = new long[ScanParts];
        Npy.ScanMatrixRowsInParts(path, ScanBlockRows(cols), ScanParts, CountInto(nonZeros));
        return nonZeros.Sum();
    }

    private static long CountNonZeros(ReadOnlySpan<double> values) => FileIo.CountNonZeros(values);

    private static string Shape(long[] shape) =>
        shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";

    private static ArgumentException UnknownKind(ProblemSource source) =>
        new($"the data loader cannot load a '{source.Kind}' source (kinds: {DataSources.FilesKind}, {DataSources.GeneratedKind})");
}
