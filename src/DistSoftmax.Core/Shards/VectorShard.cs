using System.Buffers;
using System.Numerics.Tensors;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Shards;

/// <summary>
/// Rows [RowOffset, RowOffset + n) of a vector problem L(x) = ℓ(Ax) + ½‖diag(w)Ax‖²: the local block A_k (n×d,
/// dense or CSR), b_k and w_k. Answers every <see cref="ShardRequest"/> with sums over its rows only.
///
/// Caches: z = A_k x for the last x; the phase-2 row terms (g + w²∘z, D + w², q) for the last (x, globals, kind);
/// the leverage scores τ for the last projection. A cache miss only costs time, never changes an answer.
/// </summary>
public sealed class VectorShard : IShard
{
    private readonly RowAccess _rows;
    private readonly double[] _b;
    private readonly Regularizer _reg;
    private readonly IVectorFamily _family;
    private readonly ShardComputeOptions _compute;
    private readonly RowBlocks _blocks;
    /// <summary>
    /// Rows per cache tile: a pass that reads a tile twice (z = A_t v, then A_tᵀ(D∘z)) finds it in L2 the second time
    /// when its rows take at most <see cref="TileBytes"/>. 256 rows (the most) up to d = 256, 64 at d = 1000.
    /// </summary>
    private readonly int _tile;

    /// <summary>Half of a core's 1 MiB L2 on the development machine (AMD EPYC): the Hessian-vector product at
    /// n = 100000, d = 1000 took 39–47 ms with 256-row tiles (2 MB) and 35–36 ms with 64 (`passes 100000 1000`).</summary>
    public const int TileBytes = 512 * 1024;
    public const int MaxTileRows = 256, MinTileRows = 16;

    /// <summary>Rows per tile for rows of <paramref name="bytesPerRow"/> stored bytes: a multiple of 16, 16 to 256.</summary>
    public static int TileRowsFor(long bytesPerRow) =>
        (int)Math.Clamp(TileBytes / Math.Max(1, bytesPerRow) / MinTileRows * MinTileRows, MinTileRows, MaxTileRows);

    private double[]? _zX;
    private readonly double[] _z;

    private double[]? _termsX, _termsGlobals;
    private HessianKind _termsKind;
    private readonly double[] _g, _d, _q;
    private double[]? _rowSquaredNorms;

    /// <summary>
    /// Leverage pass: a row whose upper bound τ̄_i = |D_i|·‖a_i‖²·‖Y‖₂² ≥ τ_i gives it an inclusion probability
    /// s·τ̄_i/Στ of at most this keeps τ̄_i as its (over-)estimate and skips the k-column projection. Sampling with
    /// overestimated scores keeps the spectral guarantee; each such row adds at most this to the expected sample.
    /// (On the benchmark instance mid-solve: 9 % of rows projected instead of all, 14 % more rows kept.)
    /// </summary>
    public const double SkipProbability = 1e-2;

    /// <summary>Sampled rows gathered before one SYRK (one chunk of <see cref="WeightedSyrk.ChunkRows"/>).</summary>
    private const int GatherRows = WeightedSyrk.ChunkRows;


    public long RowOffset { get; }
    public int Rows => _rows.Rows;
    /// <summary>A's stored entries (8 bytes each, 12 with a sparse row's column index) and the n-long arrays (b, w, z, g, D, q).</summary>
    public long Bytes { get; }
    public int Cols => _rows.Cols;
    public IVectorFamily Family => _family;

    public VectorShard(IVectorFamily family, IRowMatrix a, double[] b, Regularizer regularizer, long rowOffset,
        ShardComputeOptions? compute = null)
    {
        if (b.Length != a.Rows) throw new ArgumentException($"b has {b.Length} entries but the shard has {a.Rows} rows");
        if (regularizer.Weights is { } w && w.Length != a.Rows)
            throw new ArgumentException($"w has {w.Length} entries but the shard has {a.Rows} rows");
        _family = family;
        _rows = RowAccess.For(a);
        _b = b;
        _reg = regularizer;
        RowOffset = rowOffset;
        _compute = compute ?? ShardComputeOptions.Default;
        _blocks = RowBlocks.For(a.Rows);
        _tile = TileRowsFor(sizeof(double) * a.StoredEntries / Math.Max(1, a.Rows));
        int n = a.Rows;
        _z = new double[n];
        _g = new double[n];
        _d = new double[n];
        _q = new double[family.LowRankCount * n];
        Bytes = a.StoredEntries * (a is CsrMatrix ? sizeof(double) + sizeof(int) : sizeof(double))
                + sizeof(double) * ((long)n * (4 + family.LowRankCount) + (regularizer.Weights?.Length ?? 0));
    }

    public ShardReply Evaluate(ShardRequest request) => request switch
    {
        ScalarsRequest r => Scalars(r),
        GradientRequest r => Gradient(r),
        GramRequest r => Gram(r),
        SampledGramRequest r => SampledGram(r),
        HessianVectorRequest r => HessianVector(r),
        TargetSummaryRequest => TargetSummary(),
        DataGramRequest => new GramReply(Packed.FromUpper(DataGramUpper(), Cols), Rows),
        RowProductsRequest r => RowProducts(r),
        _ => throw new NotSupportedException($"vector shard cannot answer {request.GetType().Name}"),
    };

    private void CheckDimension(double[] x)
    {
        if (x.Length != Cols) throw new ArgumentException($"x has {x.Length} entries but A has {Cols} columns");
    }

    /// <summary>z = A_k x, reused while x is unchanged.</summary>
    private void EnsureZ(double[] x)
    {
        CheckDimension(x);
        if (_zX is not null && _zX.AsSpan().SequenceEqual(x)) return;
        bool zero = IsZero(x);
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            if (zero) _z.AsSpan(s, e - s).Clear();
            else _rows.MultiplyRows(s, e, x, _z.AsSpan(s, e - s));
        });
        _zX = (double[])x.Clone();
        _termsX = null;
    }

    /// <summary>
    /// Whether every entry of x is 0 (either sign): then z = A·x is 0 without reading A, exactly what the product
    /// gives (A is finite wherever it enters: files are checked, the library checks its arrays). The default start
    /// x0 = 0 and the analysis's L(0) are such points: at 400000×400 each is a pass over 1.28 GB saved.
    /// </summary>
    private static bool IsZero(double[] x) => !x.AsSpan().ContainsAnyExcept(0.0);

    /// <summary>Per-row g + w²z, D + w², q at (x, globals, kind).</summary>
    private void EnsureTerms(double[] x, double[] globals, HessianKind kind)
    {
        EnsureZ(x);
        if (_termsX is not null && _termsKind == kind && _termsGlobals!.AsSpan().SequenceEqual(globals)) return;
        int lr = _family.LowRankCount;
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            int len = e - s;
            // q is stored block by block (lr×len within a block), exactly the layout RowTerms writes.
            _family.RowTerms(_z.AsSpan(s, len), _b.AsSpan(s, len), globals, kind,
                _g.AsSpan(s, len), _d.AsSpan(s, len), _q.AsSpan(lr * s, lr * len));
            if (!_reg.IsNone)
                for (int i = s; i < e; i++)
                {
                    double w2 = _reg.SquaredWeight(i);
                    _g[i] += w2 * _z[i];
                    _d[i] += w2;
                }
        });
        _termsX = _zX;
        _termsGlobals = (double[])globals.Clone();
        _termsKind = kind;
    }

    // ---- Post-solve analysis (Analysis/PostSolveEvaluator): the shard's rows themselves, read-only.

    /// <summary>z = A_k x on the shard's rows (Rows values).</summary>
    public void Products(double[] x, Span<double> z)
    {
        EnsureZ(x);
        _z.CopyTo(z);
    }

    /// <summary>The shard's targets b_k (Rows values).</summary>
    public ReadOnlySpan<double> Targets => _b;

    /// <summary>The shard's regulariser (its rows' weights).</summary>
    public Regularizer Regularizer => _reg;

    /// <summary>A_kᵀA_k (d×d row-major, upper triangle filled): the shard's part of the data Gram, for σ_min(A).</summary>
    public double[] DataGramUpper()
    {
        var ones = new double[Rows];
        Array.Fill(ones, 1.0);
        return Accumulate(Cols * Cols, (_, s, e, acc) => _rows.GramRows(s, e, ones.AsSpan(s, e - s), acc));
    }

    /// <summary>‖b_k‖₁ and min w_i² over the shard's rows (+∞ without rows).</summary>
    private TargetSummaryReply TargetSummary()
    {
        double min = double.PositiveInfinity;
        for (int i = 0; i < Rows; i++) min = Math.Min(min, _reg.SquaredWeight(i));
        return new TargetSummaryReply(SpanMath.SumOfMagnitudes(_b), min, Rows);
    }

    /// <summary>z = A_k x and b_k, one value a row.</summary>
    private RowProductsReply RowProducts(RowProductsRequest r)
    {
        var z = new double[Rows];
        Products(r.X, z);
        return new RowProductsReply(z, (double[])_b.Clone(), 1);
    }

    private ScalarsReply Scalars(ScalarsRequest r)
    {
        if (r.WithGradient && r.Reference is not null) return ScalarsWithGradient(r);
        if (r.SketchRows != 0) throw new ArgumentException("a sketch in a ScalarsRequest needs WithGradient and a reference");
        EnsureZ(r.X);
        var partial = new ScalarSums[_blocks.BlockCount];
        var reg = new double[_blocks.BlockCount];
        _blocks.Run(_compute, k => (partial[k], reg[k]) = BlockScalars(k, r.Reference));
        return MergeBlocks(partial, reg, Array.Empty<double>());
    }

    /// <summary>The family's partial sums and Σ w²z² over one row block (z already computed).</summary>
    private (ScalarSums Sums, double Regularizer) BlockScalars(int block, double[]? reference)
    {
        var (s, e) = _blocks[block];
        var sums = _family.LocalScalars(_z.AsSpan(s, e - s), _b.AsSpan(s, e - s), reference);
        double acc = 0;
        if (!_reg.IsNone)
            for (int i = s; i < e; i++) acc += _reg.SquaredWeight(i) * _z[i] * _z[i];
        return (sums, acc);
    }

    private ScalarsReply MergeBlocks(ScalarSums[] partial, double[] reg, double[] gradientBasis)
    {
        var sums = partial.Length == 0 ? ScalarSums.Empty(_family.ScalarPowers) : partial[0];
        double regSum = reg.Length == 0 ? 0 : reg[0];
        for (int k = 1; k < partial.Length; k++) { sums = sums.Merge(partial[k]); regSum += reg[k]; }
        return new ScalarsReply(sums, regSum, Rows, gradientBasis);
    }

    /// <summary>
    /// Loss and gradient in one pass over A: per cache tile, z = A_t x, the family's gradient basis β_j (local given
    /// the request's reference) and w²∘z, then Aᵀβ_j and Aᵀ(w²z) in one multi-vector product on the same tile while
    /// it is still in cache; with SketchRows &gt; 0 also the CountSketch of diag(√|D̃ + w²|) A, D̃ the row
    /// curvatures computed with the reference's globals. The phase-1 sums are those of the plain request, so the loss
    /// is identical either way.
    /// </summary>
    private ScalarsReply ScalarsWithGradient(ScalarsRequest r)
    {
        CheckDimension(r.X);
        int d = Cols, k = _family.GradientBasisCount, lr = _family.LowRankCount, m = r.SketchRows;
        if (m < 0) throw new ArgumentException($"a sketch cannot have {m} rows");
        bool haveZ = _zX is not null && _zX.AsSpan().SequenceEqual(r.X), zero = !haveZ && IsZero(r.X);
        int vectors = _reg.IsNone ? k : k + 1;
        var partial = new ScalarSums[_blocks.BlockCount];
        var reg = new double[_blocks.BlockCount];
        if (m > 0) EnsureSketchRows();
        int fusedLength = FusedSketch(m) ? m * d : 0;
        var all = Accumulate((k + 1) * d + fusedLength, (block, s, e, acc) =>
        {
            var beta = new double[vectors * _tile];
            var curvature = m == 0 ? Array.Empty<double>() : new double[(2 + lr) * _tile];
            for (int t = s; t < e; t += _tile)
            {
                int te = Math.Min(e, t + _tile), len = te - t;
                var zt = _z.AsSpan(t, len);
                var bt = _b.AsSpan(t, len);
                if (zero) zt.Clear();
                else if (!haveZ) _rows.MultiplyRows(t, te, r.X, zt);
                _family.GradientBasis(zt, bt, r.Reference!, beta.AsSpan(0, k * len));
                if (!_reg.IsNone)
                    for (int i = 0; i < len; i++) beta[k * len + i] = _reg.SquaredWeight(t + i) * zt[i];
                _rows.MultiplyTransposedRowsMany(t, te, beta.AsSpan(0, vectors * len), vectors, acc.AsSpan(0, vectors * d));
                if (m == 0) continue;
                // D̃ from the family's row terms at the reference's globals (g and q land in scratch).
                var dTilde = curvature.AsSpan(len, len);
                _family.RowTerms(zt, bt, r.Reference!, r.SketchKind, curvature.AsSpan(0, len), dTilde,
                    curvature.AsSpan(2 * len, lr * len));
                if (!_reg.IsNone)
                    for (int i = 0; i < len; i++) dTilde[i] += _reg.SquaredWeight(t + i);
                SketchTile(t, te, dTilde, m, r.SketchSeed);
                if (fusedLength > 0) ScatterTile(t, te, acc.AsSpan((k + 1) * d, fusedLength));
            }
            (partial[block], reg[block]) = BlockScalars(block, r.Reference);
        });
        if (!haveZ)
        {
            _zX = (double[])r.X.Clone();
            _termsX = null;
        }
        var reply = MergeBlocks(partial, reg, all[..((k + 1) * d)]);
        if (m == 0) return reply;
        var (sketch, columns) = SketchReply(m, r.SketchForm, all.AsSpan((k + 1) * d, fusedLength));
        return reply with { Sketch = sketch, SketchColumns = columns };
    }

    /// <summary>Per-row sketch bucket and signed weight ±√|D_i| (set by <see cref="SketchTile"/>, shard-owned, n entries each).</summary>
    private int[]? _sketchBucket;
    private double[]? _sketchWeight;
    /// <summary>The m×d sketch, column-major (column j at j·m), reused from request to request.</summary>
    private double[]? _sketchColumns;

    /// <summary>Columns of the sketch one task scatters into (an m×32 strip: 1 MB at m = 4000, kept in L2).</summary>
    private const int SketchStripColumns = 32;

    private void EnsureSketchRows()
    {
        _sketchBucket ??= new int[Rows];
        _sketchWeight ??= new double[Rows];
    }

    /// <summary>
    /// Sketches of at most this many entries (m·d; 16 MB) are summed inside the pass, into each row block's accumulator
    /// (<see cref="ScatterTile"/>), while the rows are in cache; larger ones are formed afterwards in column strips
    /// (<see cref="SketchReply"/>), which needs one m×d array instead of one per concurrently running block. The choice
    /// depends on the shapes only, so answers stay reproducible.
    /// </summary>
    private const int FusedSketchEntries = 1 << 21;

    private bool FusedSketch(int m) => (long)m * Cols <= FusedSketchLimit;

    /// <summary>The largest sketch summed inside the pass (<see cref="FusedSketchEntries"/>; tests force either path).</summary>
    internal long FusedSketchLimit { get; init; } = FusedSketchEntries;

    /// <summary>S_{bucket_i} += w_i a_i for the tile's rows into a row-major m×d block accumulator (buckets and weights from <see cref="SketchTile"/>).</summary>
    private void ScatterTile(int t, int te, Span<double> sketch) =>
        _rows.ScatterRows(t, te, _sketchBucket.AsSpan(t, te - t), _sketchWeight.AsSpan(t, te - t), sketch);

    /// <summary>
    /// The shard's m×d CountSketch as asked: the rows, or the packed R of their Householder QR (d(d+1)/2 values).
    /// A fused sketch (<paramref name="fusedRows"/>, summed in the pass) is used as it is. Otherwise the sketch is formed after the pass that set every row's bucket and weight, strip by strip of
    /// <see cref="SketchStripColumns"/> columns: a task adds w_i·a_i[strip] into row bucket_i of an L2-sized strip for
    /// all rows in order, then stores the strip column-major. Each entry is summed over the rows in row order whatever
    /// the number of threads, and the shard holds one m×d array instead of one per row block (the per-block copies cost
    /// 32 MB each at d = 1000, and clearing and adding them cost more memory traffic than the extra read of A here).
    /// </summary>
    private (double[] Sketch, int Columns) SketchReply(int m, SketchForm form, ReadOnlySpan<double> fusedRows)
    {
        int d = Cols, n = Rows;
        if (!fusedRows.IsEmpty)
            return form == SketchForm.Rows ? (fusedRows.ToArray(), 0) : (HouseholderQr.PackedR(fusedRows, m, d, _compute.MaxDegreeOfParallelism), d);
        if (_sketchColumns is null || _sketchColumns.Length != m * d) _sketchColumns = new double[checked(m * d)];
        var cols = _sketchColumns;
        var bucket = _sketchBucket!;
        var weight = _sketchWeight!;
        int strips = _rows.ColumnStrips ? (d + SketchStripColumns - 1) / SketchStripColumns : 1;
        void Strip(int k)
        {
            int c0 = strips == 1 ? 0 : k * SketchStripColumns, c1 = strips == 1 ? d : Math.Min(d, c0 + SketchStripColumns);
            int width = c1 - c0;
            var strip = System.Buffers.ArrayPool<double>.Shared.Rent(m * width);
            try
            {
                Array.Clear(strip, 0, m * width);
                for (int t = 0; t < n; t += _tile)
                {
                    int te = Math.Min(n, t + _tile);
                    _rows.ScatterRowColumns(t, te, bucket.AsSpan(t, te - t), weight.AsSpan(t, te - t), c0, c1, strip.AsSpan(0, m * width));
                }
                for (int j = 0; j < width; j++)
                {
                    var column = cols.AsSpan((c0 + j) * m, m);
                    for (int b = 0; b < m; b++) column[b] = strip[b * width + j];
                }
            }
            finally { System.Buffers.ArrayPool<double>.Shared.Return(strip); }
        }
        if (strips > 1 && _compute.MaxDegreeOfParallelism > 1)
            Parallel.For(0, strips, new ParallelOptions { MaxDegreeOfParallelism = _compute.MaxDegreeOfParallelism }, Strip);
        else
            for (int k = 0; k < strips; k++) Strip(k);
        if (form == SketchForm.Rows)
        {
            var rows = new double[m * d];
            for (int j = 0; j < d; j++)
                for (int b = 0; b < m; b++) rows[b * d + j] = cols[j * m + b];
            return (rows, 0);
        }
        return (HouseholderQr.PackedRInPlace(cols, m, d, _compute.MaxDegreeOfParallelism), d);
    }

    /// <summary>
    /// CountSketch buckets and signed weights of rows [t, te), given the tile's curvatures D (w² included): global row →
    /// one of m buckets with a random sign, both from one SplitMix64 hash of the seed and the global index (spread by the
    /// golden-ratio constant), so a row's bucket and sign do not depend on the shard layout; the weight is ±√|D_i|.
    /// The rows are added to the sketch afterwards (<see cref="SketchReply"/>).
    /// </summary>
    private void SketchTile(int t, int te, ReadOnlySpan<double> curvatures, int m, ulong seed)
    {
        int len = te - t;
        var weights = _sketchWeight.AsSpan(t, len);
        var buckets = _sketchBucket.AsSpan(t, len);
        TensorPrimitives.Abs(curvatures.Slice(0, len), weights);
        TensorPrimitives.Sqrt(weights, weights);
        for (int i = 0; i < len; i++)
        {
            // Bucket from the high bits (⌊h·m/2⁶⁴⌋, no division), sign from the lowest bit.
            ulong h = Rng.Hash(seed ^ ((ulong)(RowOffset + t + i) * 0x9E3779B97F4A7C15UL));
            buckets[i] = (int)Math.BigMul(h, (ulong)m, out _);
            if ((h & 1) != 0) weights[i] = -weights[i];
        }
    }

    /// <summary>q_j on rows [from, to) of the block [blockStart, blockEnd) (q is stored block by block).</summary>
    private ReadOnlySpan<double> LowRankRows(int j, int blockStart, int blockEnd, int from, int to) =>
        _q.AsSpan(_family.LowRankCount * blockStart + j * (blockEnd - blockStart) + (from - blockStart), to - from);

    /// <summary>Runs a per-block accumulation into arrays of the given length and sums them in block order.</summary>
    /// <remarks>
    /// Blocks run in waves of as many blocks as the shard has threads; after each wave the wave's accumulators are
    /// added to the total in block order and reused, so at most (threads + 1) arrays of <paramref name="length"/> are
    /// alive (a sketch is m·d doubles, 32 MB at d = 1000: all eight blocks at once held 256 MB per shard). The sum is
    /// total = ((b₀ + b₁) + b₂) + … whatever the wave size, so replies do not depend on the thread count.
    /// The wave's accumulators belong to the shard and are reused from request to request (from the shared array pool,
    /// every thread that returned one kept a copy: hundreds of MB once the pool had many threads); bodies use only the
    /// first <paramref name="length"/> entries.
    /// </remarks>
    private double[] Accumulate(int length, Action<int, int, int, double[]> body)
    {
        var total = new double[length];
        AccumulateInBlockOrder(length, body, (part, isFirst) =>
        {
            if (isFirst) part.CopyTo(total);
            else SpanMath.Add(total, part, total);
        });
        return total;
    }

    /// <summary>
    /// As <see cref="Accumulate"/> for a symmetric d×d block whose bodies fill the upper triangle of a row-major
    /// d×d accumulator: the sum goes straight into the packed upper triangle (d(d+1)/2, <see cref="Packed"/>) that
    /// the reply carries, the same values in the same order, without the full d×d total (8 MB at d = 1000) that every
    /// Gram request used to allocate and pack.
    /// </summary>
    private double[] AccumulateUpperPacked(int d, Action<int, int, int, double[]> body)
    {
        var packed = new double[Packed.Length(d)];
        AccumulateInBlockOrder(d * d, body, (part, isFirst) => Packed.AddUpper(part, d, packed, overwrite: isFirst));
        return packed;
    }

    /// <summary>
    /// Runs <paramref name="body"/> on every block (waves of the shard's threads, accumulators of
    /// <paramref name="length"/> reused) and hands each block's accumulator to <paramref name="reduce"/> in block order,
    /// the first one flagged.
    /// </summary>
    private void AccumulateInBlockOrder(int length, Action<int, int, int, double[]> body, Action<ReadOnlySpan<double>, bool> reduce)
    {
        int blocks = _blocks.BlockCount;
        int wave = Math.Clamp(_compute.MaxDegreeOfParallelism, 1, blocks);
        if (_accumulators.Length < wave) Array.Resize(ref _accumulators, wave);
        for (int i = 0; i < wave; i++)
            if (_accumulators[i] is null || _accumulators[i].Length < length) _accumulators[i] = new double[length];
        var parts = _accumulators;
        for (int first = 0; first < blocks; first += wave)
        {
            int count = Math.Min(wave, blocks - first);
            void Block(int i)
            {
                var acc = parts[i];
                Array.Clear(acc, 0, length);
                var (s, e) = _blocks[first + i];
                body(first + i, s, e, acc);
            }
            if (count == 1) Block(0);
            else Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = wave }, Block);
            for (int i = 0; i < count; i++) reduce(parts[i].AsSpan(0, length), first + i == 0);
        }
    }

    /// <summary>Block accumulators of <see cref="Accumulate"/>, one per block of a wave.</summary>
    private double[][] _accumulators = Array.Empty<double[]>();

    private GradientReply Gradient(GradientRequest r)
    {
        EnsureTerms(r.X, r.Globals, r.Kind);
        int d = Cols, lr = r.WithLowRank ? _family.LowRankCount : 0, m = r.SketchRows;
        int gradLen = d, lowLen = lr * d;
        if (m > 0) EnsureSketchRows();
        int fusedLength = FusedSketch(m) ? m * d : 0;
        var all = Accumulate(gradLen + lowLen + fusedLength, (_, s, e, acc) =>
        {
            // [g; q_1; …; q_lr] of one tile side by side, for one multi-vector transposed product.
            var rhs = new double[(1 + lr) * _tile];
            // Tiles of rows small enough to stay in cache: A is read from memory once for all outputs.
            for (int t = s; t < e; t += _tile)
            {
                int te = Math.Min(e, t + _tile), len = te - t;
                _g.AsSpan(t, len).CopyTo(rhs);
                for (int j = 0; j < lr; j++) LowRankRows(j, s, e, t, te).CopyTo(rhs.AsSpan((1 + j) * len, len));
                _rows.MultiplyTransposedRowsMany(t, te, rhs.AsSpan(0, (1 + lr) * len), 1 + lr, acc.AsSpan(0, gradLen + lowLen));
                if (m == 0) continue;
                SketchTile(t, te, _d.AsSpan(t, len), m, r.SketchSeed);
                if (fusedLength > 0) ScatterTile(t, te, acc.AsSpan(gradLen + lowLen, fusedLength));
            }
        });
        var (sketch, columns) = m == 0 ? (Array.Empty<double>(), 0) : SketchReply(m, r.SketchForm, all.AsSpan(gradLen + lowLen, fusedLength));
        // A gradient request's sketch is a one-off (x0; the preconditioned form's first build): only line-search trials
        // ask for one pass after pass, so only they keep the m×d buffer (32 MB at d = 1000) for the next.
        _sketchColumns = null;
        return new GradientReply(all[..gradLen], all[gradLen..(gradLen + lowLen)], sketch, columns);
    }

    private GramReply Gram(GramRequest r)
    {
        EnsureTerms(r.X, r.Globals, r.Kind);
        int d = Cols;
        var packed = AccumulateUpperPacked(d, (_, s, e, acc) => _rows.GramRows(s, e, _d.AsSpan(s, e - s), acc));
        return new GramReply(packed, Rows);
    }

    /// <summary>
    /// Leverage-score row sampling in one pass over cache tiles: τ_i = |D_i + w_i²| Σ_c (a_iᵀ y_c)² (a GEMM with the k
    /// projection columns, only for rows not settled by their upper bound, see <see cref="SkipProbability"/>), keep row i when its key's uniform draw is below q_i, and add the kept rows, weighted
    /// (D_i + w_i²)/q_i, to the Gram with a four-row SYRK.
    /// </summary>
    private GramReply SampledGram(SampledGramRequest r)
    {
        EnsureTerms(r.X, r.Globals, r.Kind);
        int d = Cols, k = r.Uniform ? 0 : r.K;
        if (!r.Uniform && r.ProjectionT.Length != k * d)
            throw new ArgumentException($"projection has {r.ProjectionT.Length} entries, expected {k}×{d}");
        var projection = r.Uniform ? null : new ProjectionPanels(r.ProjectionT, k, d);
        var projected = r.Uniform ? null : ProjectedNormsFor(r.ProjectionT);
        var rowNorms = RowSquaredNorms();
        var counts = new long[_blocks.BlockCount];
        bool single = r.SinglePrecision && _rows.SingleGram;
        var packed = AccumulateUpperPacked(d, (block, s, e, acc) =>
        {
            // In single precision the block's kept rows are summed in a float d×d (pooled) and added to acc once.
            float[]? accSingle = single ? ArrayPool<float>.Shared.Rent(d * d) : null;
            if (accSingle is not null) Array.Clear(accSingle, 0, d * d);
            void AddKept(ReadOnlySpan<int> rows, ReadOnlySpan<double> w)
            {
                if (accSingle is null) _rows.GramRowsIndexed(rows, w, acc);
                else _rows.GramRowsIndexedSingle(rows, w, accSingle);
            }
            var tau = new double[_tile];
            var refined = new int[_tile];
            var norms = new double[_tile];
            // Kept rows are collected over tiles and added by one SYRK per GatherRows of them: a tile keeps only a few
            // rows when the sample is small, and each SYRK call reads and writes all of C.
            var kept = new int[GatherRows + _tile];
            var weights = new double[GatherRows + _tile];
            long used = 0;
            int count = 0;
            for (int ts = s; ts < e; ts += _tile)
            {
                int te = Math.Min(e, ts + _tile), len = te - ts;
                if (r.Uniform) tau.AsSpan(0, len).Fill(1.0);
                else
                {
                    // The bound first; the projection only for rows whose bound could make them likely samples, and
                    // of those only rows this projection has not met before (their ‖a_iᵀY‖² is kept, see ProjectedNormsFor).
                    int refine = 0;
                    for (int i = 0; i < len; i++)
                    {
                        tau[i] = Math.Abs(_d[ts + i]) * rowNorms[ts + i] * projection!.SquaredNormBound;
                        if (!(r.SampleSize * tau[i] > SkipProbability * r.TotalLeverage)) continue;
                        double known = projected![ts + i];
                        if (double.IsNaN(known)) refined[refine++] = ts + i;
                        else tau[i] = Math.Abs(_d[ts + i]) * known;
                    }
                    _rows.ProjectedSquaredNorms(refined.AsSpan(0, refine), projection!, norms);
                    for (int t = 0; t < refine; t++)
                    {
                        projected![refined[t]] = norms[t];
                        tau[refined[t] - ts] = Math.Abs(_d[refined[t]]) * norms[t];
                    }
                }
                for (int i = 0; i < len; i++)
                {
                    double q = Math.Min(1.0, r.SampleSize * tau[i] / r.TotalLeverage);
                    if (!(q > 0)) continue;
                    if (Rng.UniformForRow(r.SampleSeed, (ulong)(RowOffset + ts + i)) >= q) continue;
                    kept[count] = ts + i;
                    weights[count] = _d[ts + i] / q;
                    count++;
                }
                if (count < GatherRows) continue;
                AddKept(kept.AsSpan(0, count), weights.AsSpan(0, count));
                used += count;
                count = 0;
            }
            AddKept(kept.AsSpan(0, count), weights.AsSpan(0, count));
            used += count;
            counts[block] = used;
            if (accSingle is null) return;
            WeightedSyrk.AddUpper(accSingle, acc, d);
            ArrayPool<float>.Shared.Return(accSingle);
        });
        return new GramReply(packed, counts.Sum());
    }

    /// <summary>
    /// ‖a_iᵀY‖² of the rows projected so far by the projection Yᵀ (k×d) of <paramref name="projectionT"/>, NaN for rows
    /// not yet projected: kept while requests bring the same projection (the approximate Newton method keeps its
    /// leverage triangle, hence Y, once the solve has settled, <see cref="Solvers.Curvature.SampledGramCurvature"/>), so a
    /// row is projected once per projection however many iterations sample by it; a new projection starts afresh.
    /// A row's value is the same computed or kept (the same kernel on the same row), so replies do not depend on it.
    /// </summary>
    private double[] ProjectedNormsFor(double[] projectionT)
    {
        if (_projectedNorms is { } kept && _projectedBy is { } by && by.AsSpan().SequenceEqual(projectionT)) return kept;
        var norms = _projectedNorms ?? new double[Rows];
        Array.Fill(norms, double.NaN);
        _projectedBy = (double[])projectionT.Clone();
        return _projectedNorms = norms;
    }

    /// <summary>The projection <see cref="_projectedNorms"/> belongs to (Yᵀ, k×d), or null.</summary>
    private double[]? _projectedBy;
    private double[]? _projectedNorms;

    /// <summary>‖a_i‖² of every row, computed on first use (A never changes).</summary>
    private double[] RowSquaredNorms()
    {
        if (_rowSquaredNorms is { } cached) return cached;
        var norms = new double[Rows];
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            for (int i = s; i < e; i++) norms[i] = _rows.SquaredNorm(i);
        });
        return _rowSquaredNorms = norms;
    }

    private HessianVectorReply HessianVector(HessianVectorRequest r)
    {
        EnsureTerms(r.X, r.Globals, r.Kind);
        CheckDimension(r.V);
        int d = Cols, lr = _family.LowRankCount;
        var all = Accumulate(d + lr, (_, s, e, acc) =>
        {
            var y = new double[_tile];
            for (int t = s; t < e; t += _tile)
            {
                int te = Math.Min(e, t + _tile), len = te - t;
                var yt = y.AsSpan(0, len);
                _rows.MultiplyRows(t, te, r.V, yt);
                for (int j = 0; j < lr; j++) acc[d + j] += SpanMath.Dot(LowRankRows(j, s, e, t, te), yt);
                SpanMath.Multiply(yt, _d.AsSpan(t, len), yt);
                _rows.MultiplyTransposedRows(t, te, yt, acc.AsSpan(0, d));
            }
        });
        return new HessianVectorReply(all[..d], all[d..]);
    }
}
