using System.Numerics.Tensors;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Shards;

/// <summary>
/// Rows j ∈ [RowOffset, RowOffset + rows) of a multiple softmax regression (docs/MATH.md, "Multiple softmax regression (tensor trick)"):
///
///   X d×d (unknowns x = row-major vec(X), d² values),  A1 m×d,  A2 n×d,  B m×n (the seed has m = n),
///   M = A1 X A2ᵀ,  row j of M is z_j = A2 Xᵀ a1_j  (= rows j·n … j·n+n−1 of (A1 ⊗ A2) times vec(X)),
///   L(X) = Σ_j ℓ(z_j; B_j) + ½ ‖W ∘ M‖²_F
///
/// where ℓ is a vector family (normalized softmax, rescaled exp) applied to each row with that row's own
/// normaliser. The shard holds its rows of A1, B and W and all of A2. Every row is a complete vector problem in
/// z-space, so the family's per-row scalars, globals, g, D, q and C are all computed locally
/// (IVectorFamily.LocalScalars → Globals → RowTerms / LowRankCoefficients on the single row), and the shard's
/// replies are finished sums over its rows:
///
///   loss      Σ_j ℓ_j,  ℓ_j = ½‖c_j‖² from the row's residual (<see cref="RowResidual"/>; the family's phase-1
///             formula for unknown families), reported as a power-0 ScalarSums, plus Σ w²M² as RegularizerSum.
///             The phase-1 sum formula cancels to a rounding floor that stalls line searches near a zero-residual fit.
///   gradient  A1ᵀ G A2,  G_j = g(z_j) + w_j² ∘ z_j        (d×d, row-major = d² values; O(rows·n·d + rows·d²))
///   H·V       Z_V = A1 V A2ᵀ,  Y_j = B(z_j) Z_V,j,  A1ᵀ Y A2
///             with B(z_j) = diag(D_j + w_j²) + Σ_ab C_j,ab q_j,a q_j,bᵀ applied here (the low rank is per row,
///             so the reply's LowRankDots are empty and the objective's LowRankCount is 0)
///   factors   Σ_j τ_j a1_j a1_jᵀ, Σ_j S_j and Σ_j τ_j with τ_j = tr S_j (the Kronecker-factored curvature F ⊗ G;
///             O(rows·lr·n·d + n·d² + rows·d²), no d²×d² matrix)
///   Gram      Σ_j (a1_j a1_jᵀ) ⊗ S_j,  S_j = A2ᵀ B(z_j) A2  (the exact d²×d² Hessian of the rows, packed upper;
///             only for d² ≤ <see cref="MatrixObjective.MaxGramUnknowns"/>: O(rows·n·d² + rows·d⁴))
///
/// The n²×d² Kronecker matrix is never formed. Products go through <see cref="MatrixProducts.Gemm"/> with stored
/// transposes A1ᵀ (d×rows) and A2ᵀ (d×n). Work is split into fixed row blocks that depend only on the shapes, and
/// each block streams its rows in groups of <see cref="ProductRows"/> for the dense products (M, Z_V and A1ᵀ (G A2)
/// of a group in one call each, where one OpenBLAS call per 32 rows spent as long repacking A2 as multiplying),
/// within them in chunks of <see cref="ChunkRows"/> for the other row terms:
/// M, Z_V and the row terms exist only for one group or chunk at a time (scratch per running block, from the shared
/// array pool), so a shard holds no n-wide array of its own beyond its rows of B (and W) — memory stays at the
/// input's size however many rows it owns. Chunk results accumulate in chunk order and block results are summed in
/// block order, so replies are bit-for-bit the same whatever the thread count.
///
/// Cache: M = A1 X A2ᵀ on the shard's rows for the last x, kept only while it is small
/// (rows·n ≤ <see cref="MaxCachedEntries"/>); the row terms are recomputed per chunk (O(n) a row, against the O(n·d)
/// GEMMs). For a family with fused row operators (<see cref="IOwnRowOperators"/>, normalized softmax) and no
/// regulariser, the loss, gradient and Hessian-vector passes read the rows' values (f = softmax(z_j)) instead, and
/// the first of them at an x turns the cached rows of M into those values in place: later requests at the same x
/// (the gradient after the line search's loss, the Kronecker factors, every CG product) take no exponentials. A
/// request that needs M itself (the Gram, the rows of M) forms it again. A miss only costs time. Row sampling
/// (leverage scores, sampled Gram, sketches) has no meaning here and is refused.
///
/// Single precision: a Hessian-vector product (exact or Gauss–Newton) asked with <see cref="HessianVectorRequest.SinglePrecision"/>
/// forms Z_V and Y·A2 (and, on a shard without the cache, M) by single-precision products (<see cref="MatrixProducts.GemmSingle"/>:
/// the AVX-512 kernel, else OpenBLAS's sgemm) on float copies of A1, A2 and A2ᵀ (kept only where the family has fused
/// operators and such products run), each row's product in double from the row's
/// values. A shard without the cache keeps, for whole row groups from its first row (as many as
/// <see cref="SingleValuesShareOfB"/> and <see cref="MaxSingleValuesEntries"/> allow), the rows' values rounded to single precision: every pass that
/// computes values at a new x (in double, from M in double) stores them, and the single-precision products and
/// Kronecker factors at that x read them instead of forming M and taking exponentials (at n = 8192 a product on
/// 4096 rows took 222 ms against 271 ms forming every group's M). Those rows' single-precision products always use the
/// stored values — computing and storing them first on a miss — so a product's bits do not depend on which request
/// came before it (a resumed solve's fresh shards give the uninterrupted solve's products). Double requests never
/// read them.
///
/// A shard with the cache, fused operators that have single-precision row terms (<see cref="IOwnRowOperators.SingleRowTerms"/>:
/// f and (2f − b)∘f as floats, ⟨f,f⟩ and ⟨f,b⟩, on 512-bit processors) and no regulariser also keeps every row's terms at
/// the x of the last pass that read values (written from those values as it goes: 8 bytes an entry beside the cache's
/// 8), and its single-precision products compute each row's product from them in single precision
/// (<see cref="IOwnRowOperators.HessianProductFromSingleTerms"/>) without reading the cache or B — where they hold x's
/// they need no M at all. At n = 4096, d = 64 a product took 29–32 ms of a worker's time in a solve against 35–45 ms
/// (README, #12, twenty-ninth session). The terms are a function of the row's double values and b, so a product's bits
/// do not depend on which pass wrote them; double requests never read them.
///
/// A loss-and-gradient pass asked in single precision (<see cref="ScalarsRequest.SinglePrecision"/>, an early iterate's)
/// forms M and projects G back by sgemm. Whatever it leaves (the cache, the kept values, the terms) is marked as coming
/// from M in single precision and read only by requests that say x is such an iterate
/// (<see cref="HessianVectorRequest.SinglePassIterate"/>, <see cref="KroneckerFactorsRequest.SinglePassIterate"/>); those
/// form M in single precision where nothing is kept for x (<see cref="FillM"/>), every other request forms it in double.
/// </summary>
public sealed class MatrixShard : IShard
{
    /// <summary>Rows of a chunk: the unit of streaming; chunk×n scratch arrays per running block.</summary>
    public const int ChunkRows = 32;

    /// <summary>M (rows×n) is cached between requests at the same x only up to this many entries (64 MB).</summary>
    public const long MaxCachedEntries = 1L << 23;

    /// <summary>
    /// On a shard without the M cache, the rows' values are kept in single precision for the single-precision
    /// products (<see cref="HessianVectorRequest.SinglePrecision"/>, <see cref="KroneckerFactorsRequest.SinglePrecision"/>)
    /// for at most this many entries (256 MB) and within <see cref="SingleValuesShareOfB"/>, whole row groups from the
    /// shard's first row; see the class summary.
    /// </summary>
    public const long MaxSingleValuesEntries = 1L << 26;

    /// <summary>
    /// What a shard without the M cache may spend on its kept single-precision values and its own copies of A1 and A2
    /// (<see cref="OwnArrayBytes"/>) together, as a share of its rows of B's bytes: the rest of the inputs' bytes again
    /// is left to the process (runtime, code, the requests' scratch: ≈ 200–250 MB at n = 8192 with two workers), so the
    /// whole solve stays within twice its inputs. At n = 8192, two workers, that keeps 3328 of a worker's 4096 rows at
    /// d = 64 and 2688 at d = 128 (2560 while the shard also kept a plain float copy of A2ᵀ beside its panels), against
    /// 2048 under the rule before (half the rows): with 2560 the solve (`solve … --workers 2 --tol 1e-8 --no-analysis`,
    /// alternated runs) took 4.68–5.04 s against 5.22–5.98 s at 1.90× the inputs' bytes (1.75×) at d = 64, and
    /// 10.21–10.63 s against 11.14–11.15 s at 1.93× (1.87×) at d = 128 (README, #12, thirty-third session). Every row
    /// measured 1.95–1.98× at d = 64 and 2.05× at d = 128, past issue 12's 2× (twenty-seventh session).
    /// </summary>
    public const double SingleValuesShareOfB = 0.5;

    private static readonly int[] LossPowers = { 0 };

    private readonly IVectorFamily _family;
    private readonly IOwnRowOperators? _rowOperators;   // the family's fused gradient and Hessian product, where it has them
    private readonly RowResidualFunction? _residual;
    private readonly ShardComputeOptions _compute;
    private readonly RowBlocks _blocks;
    private readonly int _rows, _n, _d, _lr;
    private readonly double[] _a1, _a1T, _a2, _a2T;
    // B's rows (rows×n): an array, or a read-only mapping of the file's own pages (no copy; see DenseValues).
    private readonly ReadOnlyMemory<double> _b;
    private readonly double[]? _w2;
    // A1, A2 and A2ᵀ in single precision, for single-precision Hessian-vector products (with fused row operators and
    // single-precision products only: MatrixProducts.SingleAvailable).
    private readonly float[]? _a1Single, _a2Single, _a2TSingle;
    // A2ᵀ in the AVX-512 kernel's panels for the forward products (MatrixProducts.PanelsFor; empty where it does not run).
    private readonly double[] _a2TPanels;
    private readonly float[] _a2TPanelsSingle = Array.Empty<float>();

    private readonly double[]? _mCache;   // rows×n, when rows·n ≤ MaxCachedEntries
    private double[]? _mCacheX;
    private bool _cacheHoldsValues;       // the cache holds the family's row values at _mCacheX instead of M
    // Each kept array's values (the cache, the single-precision values, the single-precision terms) were computed from
    // M formed in single precision (a single-precision pass, or a request at an iterate such a pass produced): only
    // requests that ask for that M read them (see FillM).
    private bool _mCacheFromSingleM, _singleValuesFromSingleM, _singleTermsFromSingleM;
    // Without _mCache: the family's values of rows [0, _singleValuesRows) in single precision, at _singleValuesX.
    private readonly float[]? _singleValues;
    private readonly int _singleValuesRows;
    private double[]? _singleValuesX;
    // With _mCache, fused operators that have them and no regulariser: every row's single-precision terms
    // (IOwnRowOperators.SingleRowTerms: 2n floats and 2 doubles a row) at _singleTermsX, for the single-precision products.
    private readonly float[]? _singleTerms;
    private readonly double[]? _singleTermSums;
    private double[]? _singleTermsX;
    // The anchor of anchored passes (ScalarsRequest.Anchored): the shard's part of ∇L at _anchorX, where the cache holds
    // the rows' values in double precision (valid while _mCacheX is _anchorX, holding values not from single-precision M).
    private double[]? _anchorX, _anchorGradient;
    // Leverage scores of the shard's rows of A1, for sampled Kronecker factors (computed at the first such request).
    private double[]? _a1Leverage;
    // The Hessian-vector products' per-block d×d partial sums, kept between requests (RentPartial): fresh ones cost
    // first-touch page faults on every product (on the development machines ≈ 200 of a 4096×128 product's ≈ 230 a
    // worker; README #12, thirty-eighth session).
    private readonly Stack<double[]> _partials = new();

    public long RowOffset { get; }
    public int Rows => _rows;
    /// <summary>A1's rows and their transpose, A2 and its transpose (and its panels), B's rows, W∘W's rows and the cache
    /// of M or of the rows' single-precision values (and terms).</summary>
    public long Bytes => OwnArrayBytes + sizeof(double) * ((long)_b.Length + (_w2?.Length ?? 0) + (_mCache?.Length ?? 0) + (_singleTermSums?.Length ?? 0))
                         + sizeof(float) * ((long)(_singleValues?.Length ?? 0) + (_singleTerms?.Length ?? 0));
    /// <summary>The shard's own copies of A1 and A2: A1's rows and their transpose, A2 in every form its products read
    /// (double and single, transposed, packed). (W∘W's rows, a copy of an input as large as B, are W's bytes' share.)</summary>
    private long OwnArrayBytes => sizeof(double) * ((long)_a1.Length + _a1T.Length + _a2.Length + _a2T.Length + _a2TPanels.Length)
                                  + sizeof(float) * ((long)(_a1Single?.Length ?? 0) + (_a2Single?.Length ?? 0) + (_a2TSingle?.Length ?? 0) + _a2TPanelsSingle.Length);
    /// <summary>Rows whose values a shard without the M cache keeps in single precision (0: none).</summary>
    public int SingleValuesRows => _singleValuesRows;
    /// <summary>Side d of X.</summary>
    public int Side => _d;
    /// <summary>Columns n of B (rows of A2).</summary>
    public int Columns => _n;
    public IVectorFamily Family => _family;

    /// <param name="family">The per-row loss ℓ(z_j; B_j).</param>
    /// <param name="a1Rows">The shard's rows of A1 (rows×d).</param>
    /// <param name="a2">All of A2 (n×d).</param>
    /// <param name="bRows">The shard's rows of B (rows×n): a <see cref="DenseMatrix"/>, or a <see cref="MemoryDenseMatrix"/> whose
    /// memory (a mapping of the file's rows) the shard reads in place.</param>
    /// <param name="wRows">The shard's rows of the weight matrix W (rows×n), or null for no regulariser.</param>
    /// <param name="maxCachedEntries">Cache M between requests only up to this many entries (default <see cref="MaxCachedEntries"/>).</param>
    /// <param name="maxSingleValuesEntries">Without that cache, keep the rows' single-precision values only up to this
    /// many entries (default <see cref="MaxSingleValuesEntries"/>).</param>
    public MatrixShard(IVectorFamily family, DenseMatrix a1Rows, DenseMatrix a2, IRowMatrix bRows, DenseMatrix? wRows,
        long rowOffset, ShardComputeOptions? compute = null, long maxCachedEntries = MaxCachedEntries,
        long maxSingleValuesEntries = MaxSingleValuesEntries)
    {
        if (a1Rows.Cols != a2.Cols)
            throw new ArgumentException($"A1 has {a1Rows.Cols} columns but A2 has {a2.Cols}: both must have d columns");
        if (bRows.Rows != a1Rows.Rows)
            throw new ArgumentException($"B has {bRows.Rows} rows but the shard has {a1Rows.Rows} rows of A1");
        if (bRows.Cols != a2.Rows)
            throw new ArgumentException($"B has {bRows.Cols} columns but A2 has {a2.Rows} rows: they must be equal (n)");
        if (wRows is not null && (wRows.Rows != bRows.Rows || wRows.Cols != bRows.Cols))
            throw new ArgumentException($"W is {wRows.Rows}×{wRows.Cols} but B is {bRows.Rows}×{bRows.Cols}");
        if (rowOffset < 0) throw new ArgumentOutOfRangeException(nameof(rowOffset), "row offset must be ≥ 0");
        _family = family;
        _rowOperators = family as IOwnRowOperators;
        _residual = RowResidual.For(family);
        _compute = compute ?? ShardComputeOptions.Default;
        _rows = a1Rows.Rows;
        _n = a2.Rows;
        _d = a2.Cols;
        _lr = family.LowRankCount;
        _a1 = a1Rows.Data;
        _a1T = MatrixProducts.Transpose(_a1, _rows, _d);
        _a2 = a2.Data;
        _a2T = MatrixProducts.Transpose(_a2, _n, _d);
        _a2TPanels = MatrixProducts.PanelsFor<double>(_a2T, _d, _n);
        _b = DenseValues(bRows);
        if (wRows is not null)
        {
            _w2 = new double[wRows.Data.Length];
            SpanMath.Multiply(wRows.Data, wRows.Data, _w2);
        }
        if (_rowOperators is not null && MatrixProducts.SingleAvailable)
        {
            _a1Single = ToSingle(_a1);
            _a2Single = ToSingle(_a2);
            var a2TSingle = ToSingle(_a2T);
            _a2TPanelsSingle = MatrixProducts.PanelsFor<float>(a2TSingle, _d, _n);
            // The panels hold the same values in the kernel's order; the plain copy is kept only where there are none.
            _a2TSingle = _a2TPanelsSingle.Length > 0 ? Array.Empty<float>() : a2TSingle;
        }
        RowOffset = rowOffset;
        _blocks = BlocksFor(_rows, _n, _d);
        if ((long)_rows * _n <= maxCachedEntries)
        {
            _mCache = PopulatedArrays.Uninitialized(_rows * _n);
            if (_a1Single is not null && _w2 is null && _rowOperators!.SingleRowTermsAvailable)
            {
                _singleTerms = PopulatedArrays.UninitializedSingle(IOwnRowOperators.SingleTermsPerEntry * _rows * _n);
                _singleTermSums = new double[IOwnRowOperators.SingleTermSumsPerRow * _rows];
            }
        }
        else if (_a1Single is not null && _n > 0)
        {
            long budget = (long)(SingleValuesShareOfB * sizeof(double) * _rows * _n) - OwnArrayBytes;
            long byBudget = Math.Max(budget, 0) / (sizeof(float) * (long)_n);
            _singleValuesRows = KeptGroupRows(_blocks, (int)Math.Min(Math.Min(byBudget, _rows), maxSingleValuesEntries / _n));
            if (_singleValuesRows > 0) _singleValues = PopulatedArrays.UninitializedSingle(_singleValuesRows * _n);
        }
    }

    /// <summary>
    /// The rows [0, r) covered by whole row groups (of <see cref="ProductRows"/> from each block's start) that end by
    /// <paramref name="limit"/>: a group either keeps its values or forms M, never part of each.
    /// </summary>
    private static int KeptGroupRows(RowBlocks blocks, int limit)
    {
        int kept = 0;
        for (int k = 0; k < blocks.BlockCount; k++)
        {
            var (s, e) = blocks[k];
            for (int g0 = s; g0 < e; g0 += ProductRows)
            {
                int end = Math.Min(g0 + ProductRows, e);
                if (end > limit) return kept;
                kept = end;
            }
        }
        return kept;
    }

    /// <summary>A dense matrix's row-major values: its array, or the memory a <see cref="MemoryDenseMatrix"/> reads.</summary>
    private static ReadOnlyMemory<double> DenseValues(IRowMatrix m) => m switch
    {
        DenseMatrix dense => dense.Data,
        MemoryDenseMatrix mapped => mapped.Values,
        _ => throw new ArgumentException($"B's rows must be dense, not a {m.GetType().Name}"),
    };

    /// <summary>
    /// Fixed row blocks: about 2²⁰ multiply-adds of the M = (A1 X) A2ᵀ pass per block, at most
    /// <see cref="RowBlocks.MaxBlocks"/>; a function of the shapes only, never of the machine.
    /// </summary>
    internal static RowBlocks BlocksFor(int rows, int n, int d)
    {
        long work = (long)rows * n * d + (long)rows * d * d;
        int count = (int)Math.Clamp(work >> 20, 1, RowBlocks.MaxBlocks);
        return new RowBlocks(rows, Math.Max(1, Math.Min(count, rows)));
    }

    public ShardReply Evaluate(ShardRequest request) => request switch
    {
        ScalarsRequest r => Scalars(r),
        GradientRequest r => Gradient(r),
        HessianVectorRequest r => HessianVector(r),
        GramRequest r => Gram(r),
        KroneckerFactorsRequest r => KroneckerFactors(r),
        TargetSummaryRequest => new TargetSummaryReply(SpanMath.SumOfMagnitudes(_b.Span), double.PositiveInfinity, _rows),
        RowProductsRequest r => RowProducts(r),
        LogLinearStartRequest => LogLinearStartSums(),
        StartScaleRequest r => StartScale(r),
        SampledGramRequest => throw new NotSupportedException(
            "a matrix problem has no row sampling (each row j carries its own normaliser and low-rank Hessian part): " +
            "its approx-newton is the Kronecker-preconditioned Newton-CG"),
        _ => throw new NotSupportedException($"matrix shard cannot answer {request.GetType().Name}"),
    };

    /// <summary>
    /// The shard's sums for the log-linear start (<see cref="Solvers.LogLinearStart"/>): over its rows whose entries of
    /// B are all positive, Σ a1_j a1_jᵀ and Σ a1_j (ℓ_jᵀ A2) (Ã2ᵀÃ2)⁻¹ with ℓ_j = log B_j − mean(log B_j); over all its
    /// rows, their part of ∇L(0) = −(1/n) Σ a1_j (B_j − mean(B_j))ᵀ A2 (at X = 0 every row's softmax is 1/n), whose
    /// product by A2 is an sgemm where the shard keeps A2 in single precision (only ∇L(0)'s norm is used, as the relative
    /// tolerance's scale: within ≈ 1e-7 of it; at n = 8192, d = 64 that halves the start's double multiply-adds).
    /// Rows go in groups of <see cref="ProductRows"/> (ℓ and the centred B for a group at a time).
    /// </summary>
    private LogLinearStartReply LogLinearStartSums()
    {
        if (_family is not NormalizedSoftmax)
            throw new NotSupportedException("the log-linear start is for multiple normalized softmax regression, whose rows of B are distributions");
        int n = _n, d = _d;
        var gram = new double[d * d];
        var projected = new double[d * d];
        var gradientAtZero = new double[d * d];
        var pool = System.Buffers.ArrayPool<double>.Shared;
        var logRows = pool.Rent(ProductRows * n);
        var centredRows = pool.Rent(ProductRows * n);
        var usableA1 = new double[ProductRows * d];
        var timesA2 = new double[ProductRows * d];
        // ∇L(0) only scales the relative tolerance (its norm), so where the shard has A2 in single precision its product
        // (B − means)·A2 is an sgemm: ≈ 1e-7 of the norm, against half the start's double multiply-adds.
        var centredSingle = _a2Single is not null ? System.Buffers.ArrayPool<float>.Shared.Rent(ProductRows * n) : null;
        var timesA2Single = _a2Single is not null ? new float[ProductRows * d] : null;
        long usable = 0;
        try
        {
            for (int start = 0; start < _rows; start += ProductRows)
            {
                int len = Math.Min(ProductRows, _rows - start), kept = 0;
                for (int jj = 0; jj < len; jj++)
                {
                    var b = BRow(start + jj);
                    // Narrowed at once where the sgemm takes it, so one row of doubles serves the whole group.
                    var centred = centredRows.AsSpan(centredSingle is null ? jj * n : 0, n);
                    SpanMath.Add(b, -SpanMath.Sum(b) / n, centred);
                    if (centredSingle is not null) SpanMath.Narrow(centred, centredSingle.AsSpan(jj * n, n));
                    if (!AllPositive(b)) continue;
                    var l = logRows.AsSpan(kept * n, n);
                    CentredLog(b, l);
                    _a1.AsSpan((start + jj) * d, d).CopyTo(usableA1.AsSpan(kept * d, d));
                    kept++;
                }
                var groupA1T = _a1T.AsSpan(start);   // A1ᵀ's columns start … start + len − 1 (leading dimension rows)
                if (centredSingle is not null)
                {
                    MatrixProducts.GemmSingle(len, d, n, centredSingle, n, _a2Single, d, timesA2Single, d, false);   // (B − means)·A2
                    SpanMath.Widen(timesA2Single.AsSpan(0, len * d), timesA2);
                }
                else MatrixProducts.Gemm(len, d, n, centredRows, n, _a2, d, timesA2, d, false);
                MatrixProducts.Gemm(d, d, len, groupA1T, _rows, timesA2, d, gradientAtZero, d, true);
                if (kept == 0) continue;
                usable += kept;
                var a1T = MatrixProducts.Transpose(usableA1.AsSpan(0, kept * d), kept, d);
                MatrixProducts.Gemm(kept, d, n, logRows, n, _a2, d, timesA2, d, false);            // L·A2 (kept×d)
                MatrixProducts.Gemm(d, d, kept, a1T, kept, timesA2, d, projected, d, true);       // += A1ᵀ (L A2)
                MatrixProducts.Gemm(d, d, kept, a1T, kept, usableA1, d, gram, d, true);           // += A1ᵀ A1
            }
        }
        finally
        {
            pool.Return(logRows);
            pool.Return(centredRows);
            if (centredSingle is not null) System.Buffers.ArrayPool<float>.Shared.Return(centredSingle);
        }
        SpanMath.Multiply(gradientAtZero, -1.0 / n, gradientAtZero);
        var rightSolved = usable == 0 ? projected : DenseAlgebra.CholeskyRightSolve(CentredA2GramFactor(), d, projected);
        return new LogLinearStartReply(gram, rightSolved, gradientAtZero, usable, _rows);
    }

    /// <summary>
    /// The shard's part of φ(t) = L(t·X) and its first two derivatives at t = <see cref="StartScaleRequest.Scale"/>
    /// (<see cref="NormalizedSoftmax.AlongRay"/> per row, and ½t²‖W∘M‖² with a regulariser). M = A1 X A2ᵀ is the same
    /// for every t: it is formed once (by sgemm where the shard keeps single-precision copies — the scale only chooses a
    /// start) and, on a shard with the cache, kept there for the next scale.
    /// </summary>
    private StartScaleReply StartScale(StartScaleRequest r)
    {
        if (_family is not NormalizedSoftmax softmax)
            throw new NotSupportedException("the log-linear start's scale is for multiple normalized softmax regression");
        if (!(double.IsFinite(r.Scale) && r.Scale > 0))
            throw new ArgumentException($"a start scale must be positive and finite, got {r.Scale}");
        int n = _n;
        var parts = Stream(r.X, null, () => new double[4], (c, acc) =>
        {
            var scratch = c.G.AsSpan(0, n);
            for (int jj = 0; jj < c.Length; jj++)
            {
                int j = c.Start + jj;
                var m = MRow(c, jj);
                var (loss, slope, curvature, gaussNewton) = softmax.AlongRay(m, BRow(j), r.Scale, scratch);
                if (_w2 is not null)
                {
                    // ½t²‖w∘m‖²: slope t‖w∘m‖², curvature (its own Gauss–Newton part) ‖w∘m‖².
                    var squares = scratch.Slice(0, n);
                    SpanMath.Multiply(m, m, squares);
                    double weighted = SpanMath.Dot(W2Row(j), squares);
                    loss += 0.5 * r.Scale * r.Scale * weighted;
                    slope += r.Scale * weighted;
                    curvature += weighted;
                    gaussNewton += weighted;
                }
                acc[0] += loss;
                acc[1] += slope;
                acc[2] += curvature;
                acc[3] += gaussNewton;
            }
        }, singleM: _a1Single is not null);
        var sums = new double[4];
        foreach (var part in parts) SpanMath.Add(sums, part, sums);
        return new StartScaleReply(sums[0], sums[1], sums[2], sums[3], _rows);
    }

    /// <summary>
    /// ℓ = log b − mean(log b)·1 for a row of positive entries, by <see cref="VectorLog"/> (TensorPrimitives.Log ran its
    /// per-element MultiplyAddEstimate as unoptimised runtime code in the installed build: 1.2 s for the start pass of a
    /// 4096×128 solve instead of ≈ 0.2 s; Math.Log a value at a time was about half of the pass).
    /// </summary>
    private static void CentredLog(ReadOnlySpan<double> b, Span<double> l)
    {
        VectorLog.Log(b, l);
        SpanMath.Add(l, -SpanMath.Sum(l) / b.Length, l);
    }

    /// <summary>Whether every entry is positive (and finite): a row of B with a logarithm.</summary>
    private static bool AllPositive(ReadOnlySpan<double> row)
    {
        foreach (double v in row) if (!(v > 0) || double.IsPositiveInfinity(v)) return false;
        return true;
    }

    /// <summary>The Cholesky factor of Ã2ᵀÃ2 = A2ᵀA2 − n μμᵀ (μ: A2's column means), damped as the start's Grams are.</summary>
    private double[] CentredA2GramFactor()
    {
        int n = _n, d = _d;
        var g = new double[d * d];
        MatrixProducts.Gemm(d, d, n, _a2T, n, _a2, d, g, d, false);
        var mean = new double[d];
        for (int a = 0; a < d; a++) mean[a] = SpanMath.Sum(_a2T.AsSpan(a * n, n)) / n;
        for (int a = 0; a < d; a++)
            for (int c = 0; c < d; c++) g[a * d + c] -= n * mean[a] * mean[c];
        return DenseAlgebra.DampedCholesky(g, d);
    }

    /// <summary>
    /// One running block's scratch: for a group of up to <see cref="ProductRows"/> rows M, G (the gradient's rows) and
    /// the work array (Z_V, then Y) and the d-wide products; for one chunk of up to <see cref="ChunkRows"/> rows of
    /// that group the other row terms (D + w², q, C), and one row's scratch for the family's fused operators (their
    /// own, then the row's values when they are not kept in the cache).
    /// </summary>
    private sealed class Chunk : IDisposable
    {
        private static readonly System.Buffers.ArrayPool<double> Pool = System.Buffers.ArrayPool<double>.Shared;
        public readonly double[] M, G, Dw, Q, C, Work, T, P, RowScratch;
        /// <summary>The group: rows [GroupStart, GroupStart + GroupLength) of the shard, whose M (and Z_V) one product call fills.</summary>
        public int GroupStart, GroupLength;
        /// <summary>The chunk: rows [Start, Start + Length) of the group, whose row terms are in Dw, Q, C (and G at <see cref="GroupOffset"/>).</summary>
        public int Start, Length;
        /// <summary>M of the group: a slice of the shard's cache, or <see cref="M"/>, from <see cref="MGroupOffset"/>.</summary>
        public double[] MSource = null!;
        public int MGroupOffset;
        /// <summary>The rows in <see cref="MSource"/> are the family's row values, not M (a cache that holds them).</summary>
        public bool HoldsValues;
        /// <summary>A pass that reads row values turns each cached row of M into them in place.</summary>
        public bool ValuesInPlace;
        /// <summary>The shard's single-precision values when the group's rows are among those kept and the pass reads or
        /// writes them (else null); <see cref="SingleValuesValid"/>: they hold this x's values (read, M not formed),
        /// otherwise the pass writes them; <see cref="RoundedValues"/>: a single-precision product, which uses the kept
        /// (rounded) values either way, so its result does not depend on whether they were kept before.</summary>
        public float[]? SingleValues;
        public bool SingleValuesValid, RoundedValues;
        /// <summary>A shard with the cache keeps its rows' single-precision terms and the pass reads values;
        /// <see cref="SingleTermsValid"/>: they hold this x's terms, otherwise <see cref="ValuesRow"/> writes each row's.</summary>
        public bool KeepsSingleTerms, SingleTermsValid;
        /// <summary>The group's M was formed by sgemm for a body that reads it as floats (<see cref="MSingle"/>), not widened
        /// into <see cref="M"/>.</summary>
        public bool SingleMOnly;
        /// <summary>The request is at a single-precision pass's iterate: every row of M it reads was formed in single
        /// precision, and its values are taken by <see cref="IOwnRowOperators.RowValuesFromSingleM"/>.</summary>
        public bool MFromSingle;
        /// <summary>With <see cref="MFromSingle"/> on a shard without the cache: the group's M stays in floats
        /// (<see cref="MSingle"/>, not widened into <see cref="M"/>) and the rows' values come from them
        /// (<see cref="IOwnRowOperators.RowValuesFromSingleLogits"/>), for a body that reads M only through its values.</summary>
        public bool ValuesFromFloatM;

        public Chunk(int n, int d, int lr)
        {
            M = Pool.Rent(ProductRows * n); G = Pool.Rent(ProductRows * n); Dw = Pool.Rent(ChunkRows * n);
            Q = Pool.Rent(Math.Max(ChunkRows * lr * n, 1)); C = Pool.Rent(Math.Max(ChunkRows * lr * lr, 1));
            Work = Pool.Rent(ProductRows * n); T = Pool.Rent(ProductRows * d); P = Pool.Rent(ProductRows * d);
            RowScratch = Pool.Rent((IOwnRowOperators.ScratchPerEntry + 1) * n);
        }

        private static readonly System.Buffers.ArrayPool<float> SinglePool = System.Buffers.ArrayPool<float>.Shared;
        /// <summary>A single-precision product's group of Z_V (then Y), A1·V and Y·A2, and of M where the shard keeps no
        /// cache, and one row's single-precision terms: rented at first use.</summary>
        public float[]? WorkSingle, TSingle, PSingle, MSingle, RowTermsSingle;
        /// <summary>That row's term sums.</summary>
        public readonly double[] RowTermSums = new double[IOwnRowOperators.SingleTermSumsPerRow];

        /// <summary>One row in single precision (n floats).</summary>
        public Span<float> RowSingle(int n) => (RowSingleScratch ??= SinglePool.Rent(n)).AsSpan(0, n);
        private float[]? RowSingleScratch;

        /// <summary>The row's terms scratch (<see cref="IOwnRowOperators.SingleTermsPerEntry"/>·n floats).</summary>
        public Span<float> RowTerms(int n) =>
            (RowTermsSingle ??= SinglePool.Rent(IOwnRowOperators.SingleTermsPerEntry * n)).AsSpan(0, IOwnRowOperators.SingleTermsPerEntry * n);

        public void EnsureSingle(int n, int d)
        {
            WorkSingle ??= SinglePool.Rent(ProductRows * n);
            TSingle ??= SinglePool.Rent(ProductRows * d);
            PSingle ??= SinglePool.Rent(ProductRows * d);
        }

        /// <summary>Where the chunk's first row starts in <see cref="MSource"/>.</summary>
        public int MOffset(int n) => MGroupOffset + (Start - GroupStart) * n;

        /// <summary>Where the chunk's first row starts in a group-sized array (<see cref="G"/>, <see cref="Work"/>).</summary>
        public int GroupOffset(int n) => (Start - GroupStart) * n;

        public void Dispose()
        {
            foreach (var a in new[] { M, G, Dw, Q, C, Work, T, P, RowScratch }) Pool.Return(a);
            foreach (var a in new[] { WorkSingle, TSingle, PSingle, MSingle, RowTermsSingle, RowSingleScratch }) if (a is not null) SinglePool.Return(a);
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> on every chunk of every block at x (M filled; with <paramref name="kind"/> also
    /// the row terms), giving each block one accumulator of type T, and <paramref name="endGroup"/> after each group's
    /// last chunk; returns the accumulators in block order. <paramref name="readsValues"/>: the body reads the rows'
    /// values (<see cref="ValuesRow"/>); <paramref name="singleX"/>: x in single precision, given only by a shard
    /// without the cache, whose groups then form M by sgemm (<see cref="FillMSingle"/>); <paramref name="readsSingleTerms"/>:
    /// the body reads only the single-precision row terms (<see cref="SingleTermsOf"/>), so where they hold x's no M is
    /// formed and the cache is left as it is; <paramref name="singleM"/>: x's values come from M formed in single precision
    /// (see <see cref="FillM"/>), and only what was kept from such an M is read; <paramref name="readsSingleM"/>: where
    /// <paramref name="singleX"/> has a group's M formed by sgemm, the body reads it as floats (<see cref="Chunk.SingleMOnly"/>);
    /// <paramref name="readsOnlyValues"/>: the body reads M only through the rows' values, so a shard without the cache
    /// leaves an M formed in single precision (<paramref name="singleM"/>) in floats (<see cref="Chunk.ValuesFromFloatM"/>).
    /// </summary>
    private T[] Stream<T>(double[] x, HessianKind? kind, Func<T> create, Action<Chunk, T> body, Action<Chunk, T>? endGroup = null,
        bool readsValues = false, float[]? singleX = null, bool readsSingleTerms = false, bool singleM = false, bool readsSingleM = false,
        bool readsOnlyValues = false)
    {
        if (x.Length != _d * _d) throw new ArgumentException($"x has {x.Length} entries but X is {_d}×{_d} ({_d * _d} unknowns)");
        var mX = singleM ? singleX ?? ToSingle(x) : null;   // FillM forms M from x in single precision
        // With the cache: every pass that reads values keeps each row's single-precision terms at x (written from the
        // values it computes or reads, unless they already hold x's).
        bool keepsTerms = _singleTerms is not null && readsValues;
        bool termsValid = keepsTerms && HeldAt(_singleTermsX, x) && _singleTermsFromSingleM == singleM;
        bool writesTerms = keepsTerms && !termsValid;
        bool skipsM = readsSingleTerms && termsValid;
        if (writesTerms) _singleTermsX = null;
        bool cached = _mCache is not null && HeldAt(_mCacheX, x) && _mCacheFromSingleM == singleM;
        if (cached && _cacheHoldsValues && !readsValues) cached = false;   // the body needs M: it is formed again
        bool holdsValues = cached && _cacheHoldsValues;
        // A body that reads row values leaves them in the cache instead of M (not with a regulariser, whose terms need z).
        bool valuesInPlace = readsValues && !holdsValues && !skipsM && _mCache is not null && _rowOperators is not null && _w2 is null;
        bool rewritesCache = _mCache is not null && !skipsM && (!cached || valuesInPlace);
        if (rewritesCache) _mCacheX = null;   // the cache is rewritten below; valid again only once the pass completes
        // Without the cache: single-precision values of the kept rows, read by single-precision products at the x of the
        // pass that wrote them; a pass that reads values at another x writes them (from M as that pass forms it).
        bool singleRequest = singleX is not null;
        bool keepsSingle = _singleValues is not null && readsValues && _rowOperators is not null;
        bool singleValid = keepsSingle && HeldAt(_singleValuesX, x) && _singleValuesFromSingleM == singleM;
        bool writesSingle = keepsSingle && !singleValid;
        if (writesSingle) _singleValuesX = null;
        var results = new T[_blocks.BlockCount];
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            var acc = create();
            using var chunk = new Chunk(_n, _d, _lr);
            for (int g0 = s; g0 < e; g0 += ProductRows)
            {
                chunk.GroupStart = g0;
                chunk.GroupLength = Math.Min(ProductRows, e - g0);
                chunk.HoldsValues = holdsValues;
                chunk.ValuesInPlace = valuesInPlace;
                bool groupKept = keepsSingle && g0 + chunk.GroupLength <= _singleValuesRows;
                chunk.SingleValues = groupKept && (singleRequest || writesSingle) ? _singleValues : null;
                chunk.SingleValuesValid = singleValid;
                chunk.RoundedValues = singleRequest;
                chunk.KeepsSingleTerms = keepsTerms;
                chunk.SingleTermsValid = termsValid;
                chunk.SingleMOnly = readsSingleM && singleRequest && !groupKept;
                chunk.MFromSingle = mX is not null;
                chunk.ValuesFromFloatM = readsOnlyValues && readsValues && mX is not null && _mCache is null;
                if (singleRequest && !groupKept) FillMSingle(singleX!, chunk, widen: !chunk.SingleMOnly);
                else if (!(singleRequest && singleValid) && !skipsM) FillM(x, mX, chunk, cached);   // (kept values or terms at this x need no M)
                for (int c0 = g0; c0 < g0 + chunk.GroupLength; c0 += ChunkRows)
                {
                    chunk.Start = c0;
                    chunk.Length = Math.Min(ChunkRows, g0 + chunk.GroupLength - c0);
                    if (kind is HessianKind kd) FillTerms(chunk, kd);
                    body(chunk, acc);
                }
                endGroup?.Invoke(chunk, acc);
            }
            results[k] = acc;
        });
        if (rewritesCache)
        {
            _mCacheX = (double[])x.Clone();
            _cacheHoldsValues = valuesInPlace;
            _mCacheFromSingleM = singleM;
        }
        if (writesSingle) (_singleValuesX, _singleValuesFromSingleM) = ((double[])x.Clone(), singleM);
        if (writesTerms) (_singleTermsX, _singleTermsFromSingleM) = ((double[])x.Clone(), singleM);
        return results;
    }

    /// <summary>
    /// The family's values of the chunk's row <paramref name="jj"/> (a body that streams with readsValues): the
    /// cache's own row when it holds values, else computed from M's row — in place when that row is the cache's (the
    /// pass then leaves the cache holding values), otherwise into the row scratch after the operators' own. On a row
    /// whose single-precision values are kept: a single-precision product reads them (widened into the scratch), and
    /// a pass that writes them stores the values it computed (a single-precision product then uses the stored ones).
    /// </summary>
    private ReadOnlySpan<double> ValuesRow(Chunk c, int jj, IOwnRowOperators ops)
    {
        var values = ComputedValuesRow(c, jj, ops);
        // Keep the row's single-precision terms for the single-precision products at this x.
        if (c.KeepsSingleTerms && !c.SingleTermsValid)
            ops.SingleRowTerms(values, BRow(c.Start + jj), SingleTermsOf(c.Start + jj), SingleTermSumsOf(c.Start + jj));
        return values;
    }

    /// <summary>Row j's single-precision terms (<see cref="IOwnRowOperators.SingleTermsPerEntry"/>·n floats) and their
    /// double sums (<see cref="IOwnRowOperators.SingleTermSumsPerRow"/>), on a shard that keeps them.</summary>
    private Span<float> SingleTermsOf(int j) =>
        _singleTerms.AsSpan(j * IOwnRowOperators.SingleTermsPerEntry * _n, IOwnRowOperators.SingleTermsPerEntry * _n);

    private Span<double> SingleTermSumsOf(int j) =>
        _singleTermSums.AsSpan(j * IOwnRowOperators.SingleTermSumsPerRow, IOwnRowOperators.SingleTermSumsPerRow);

    /// <summary><see cref="ValuesRow"/> before its single-precision terms: the row's values from the cache, the kept
    /// single-precision values or M.</summary>
    private ReadOnlySpan<double> ComputedValuesRow(Chunk c, int jj, IOwnRowOperators ops)
    {
        var values = c.RowScratch.AsSpan(IOwnRowOperators.ScratchPerEntry * _n, _n);
        if (c.SingleValues is { } kept)
        {
            var stored = kept.AsSpan((c.Start + jj) * _n, _n);
            if (!c.SingleValuesValid)
            {
                RowValues(c, ops, jj, values);
                SpanMath.Narrow(values, stored);
                if (!c.RoundedValues) return values;
            }
            SpanMath.Widen(stored, values);
            return values;
        }
        var row = c.MSource.AsSpan(c.MOffset(_n) + jj * _n, _n);
        if (c.HoldsValues) return row;
        if (c.ValuesInPlace)
        {
            RowValues(c, ops, jj, row);
            return row;
        }
        RowValues(c, ops, jj, values);
        return values;
    }

    /// <summary>The values of the chunk's row <paramref name="jj"/> from its row of M (<paramref name="values"/> may be
    /// that row itself): in single precision at a single-precision pass's iterate (the same function whichever request
    /// forms them, from the floats themselves where the group's M was left in floats), else the family's own.</summary>
    private void RowValues(Chunk c, IOwnRowOperators ops, int jj, Span<double> values)
    {
        if (c.ValuesFromFloatM) ops.RowValuesFromSingleLogits(c.MSingle.AsSpan((c.Start - c.GroupStart + jj) * _n, _n), values, c.RowSingle(_n));
        else RowValues(c, ops, MRow(c, jj), values);
    }

    /// <summary>The values of a row <paramref name="z"/> of M (<see cref="RowValues(Chunk, IOwnRowOperators, int, Span{double})"/>'s
    /// rule for a row of M in doubles).</summary>
    private void RowValues(Chunk c, IOwnRowOperators ops, ReadOnlySpan<double> z, Span<double> values)
    {
        if (c.MFromSingle) ops.RowValuesFromSingleM(z, values, c.RowSingle(_n));
        else ops.RowValues(z, values);
    }

    /// <summary>
    /// M rows of the group: (A1 X) A2ᵀ, or the cached rows at the same x. With <paramref name="xSingle"/> (x in single
    /// precision) M is formed by sgemm and widened (<see cref="FormSingle"/>): at an iterate whose loss-and-gradient
    /// pass ran in single precision (<see cref="ScalarsRequest.SinglePrecision"/>) every request that forms M again —
    /// that pass, and the single-precision products and factors at that x (<see cref="HessianVectorRequest.SinglePassIterate"/>)
    /// — forms it so, so a row's values are the same whichever request computed them first (a resumed solve's fresh
    /// shards answer as the uninterrupted solve's did).
    /// </summary>
    private void FillM(double[] x, float[]? xSingle, Chunk c, bool cached)
    {
        int d = _d, n = _n, len = c.GroupLength;
        if (_mCache is not null)
        {
            c.MSource = _mCache;
            c.MGroupOffset = c.GroupStart * n;
            if (cached) return;
        }
        else
        {
            c.MSource = c.M;
            c.MGroupOffset = 0;
        }
        var target = c.MSource.AsSpan(c.MGroupOffset, len * n);
        if (xSingle is not null) FormSingle(len, _a1Single.AsSpan(c.GroupStart * d), xSingle, c, c.ValuesFromFloatM ? Span<double>.Empty : target);
        else Forward(len, _a1.AsSpan(c.GroupStart * d), x, c.T, target);
    }

    /// <summary>
    /// (A1_rows X) A2ᵀ for <paramref name="len"/> rows of A1 (consecutive, d apart) and X (or a direction V, d×d):
    /// T = A1_rows X into <paramref name="t"/>, then T A2ᵀ (len×n) into <paramref name="target"/> from A2ᵀ's panels.
    /// </summary>
    private void Forward(int len, ReadOnlySpan<double> a1Rows, ReadOnlySpan<double> x, Span<double> t, Span<double> target)
    {
        int d = _d, n = _n;
        MatrixProducts.Gemm(len, d, d, a1Rows, d, x, d, t, d, false);
        MatrixProducts.GemmPacked(len, n, d, t, d, _a2T, _a2TPanels, target, n);
    }

    /// <summary><see cref="Forward"/> in single precision, on the float copies of A1's rows and A2ᵀ.</summary>
    private void ForwardSingle(int len, ReadOnlySpan<float> a1Rows, ReadOnlySpan<float> x, Span<float> t, Span<float> target)
    {
        int d = _d, n = _n;
        MatrixProducts.GemmSingle(len, d, d, a1Rows, d, x, d, t, d, false);
        MatrixProducts.GemmSinglePacked(len, n, d, t, d, _a2TSingle, _a2TPanelsSingle, target, n);
    }

    /// <summary>
    /// M rows of the group for a single-precision product on a shard without a cache: (A1 X) A2ᵀ by sgemm on the float
    /// copies, widened into the group's M (M's rounding, ≈ 6e-8 of |z|, moves the row values by about as much).
    /// </summary>
    private void FillMSingle(float[] singleX, Chunk c, bool widen = true)
    {
        c.MSource = c.M;
        c.MGroupOffset = 0;
        FormSingle(c.GroupLength, _a1Single.AsSpan(c.GroupStart * _d), singleX, c, widen ? c.M : Span<double>.Empty);
    }

    /// <summary>(A1_rows X) A2ᵀ for <paramref name="len"/> rows of A1 in single precision (float rows of A1, x as floats),
    /// by sgemm into the chunk's float M, widened into <paramref name="target"/> (len×n).</summary>
    private void FormSingle(int len, ReadOnlySpan<float> a1Rows, float[] xSingle, Chunk c, Span<double> target)
    {
        int d = _d, n = _n;
        c.EnsureSingle(n, d);
        c.MSingle ??= System.Buffers.ArrayPool<float>.Shared.Rent(ProductRows * n);
        ForwardSingle(len, a1Rows, xSingle, c.TSingle, c.MSingle);
        if (!target.IsEmpty) SpanMath.Widen(c.MSingle.AsSpan(0, len * n), target);
    }

    private ReadOnlySpan<double> MRow(Chunk c, int jj) => new(c.MSource, c.MOffset(_n) + jj * _n, _n);

    /// <summary>Row j (of the shard) of B, and of W∘W (empty without a regulariser).</summary>
    private ReadOnlySpan<double> BRow(int j) => _b.Span.Slice(j * _n, _n);
    private ReadOnlySpan<double> W2Row(int j) => _w2 is null ? ReadOnlySpan<double>.Empty : new(_w2, j * _n, _n);

    /// <summary>Per row j of the chunk, from the row alone: globals_j, then g + w²∘z, D + w², q and C.</summary>
    private void FillTerms(Chunk c, HessianKind kind)
    {
        int n = _n, lr = _lr;
        for (int jj = 0; jj < c.Length; jj++)
            RowTerms(MRow(c, jj), c.Start + jj, kind, c.G.AsSpan(c.GroupOffset(n) + jj * n, n), c.Dw.AsSpan(jj * n, n),
                c.Q.AsSpan(jj * lr * n, lr * n), c.C.AsSpan(jj * lr * lr, lr * lr));
    }

    /// <summary>Shard row j's terms from its row z of M: g + w²∘z, D + w², q and C (the family's, then the regulariser's).</summary>
    private void RowTerms(ReadOnlySpan<double> z, int j, HessianKind kind, Span<double> g, Span<double> dw, Span<double> q, Span<double> c)
    {
        int lr = _lr;
        var globals = _family.OwnGlobalsAndRowTerms(z, BRow(j), kind, g, dw, q);
        _family.LowRankCoefficients(globals, kind).AsSpan(0, lr * lr).CopyTo(c);
        if (_w2 is not null)
        {
            var w2 = W2Row(j);
            TensorPrimitives.FusedMultiplyAdd(w2, z, g, g);
            SpanMath.Add(dw, w2, dw);
        }
    }

    /// <summary>The chunk's D + w², q and C from its rows' values (<see cref="FillTerms"/> for a family with fused operators).</summary>
    private void FillTermsFromValues(Chunk c, HessianKind kind, IOwnRowOperators ops)
    {
        int n = _n, lr = _lr;
        for (int jj = 0; jj < c.Length; jj++)
            RowTermsFromValues(ops, ValuesRow(c, jj, ops), c.Start + jj, kind, c.Dw.AsSpan(jj * n, n),
                c.Q.AsSpan(jj * lr * n, lr * n), c.C.AsSpan(jj * lr * lr, lr * lr));
    }

    /// <summary>Shard row j's D + w², q and C from its values (<see cref="RowTerms"/> for a family with fused operators).</summary>
    private void RowTermsFromValues(IOwnRowOperators ops, ReadOnlySpan<double> values, int j, HessianKind kind, Span<double> dw,
        Span<double> q, Span<double> c)
    {
        ops.TermsFromValues(values, BRow(j), kind, dw, q, c);
        if (_w2 is not null) SpanMath.Add(dw, W2Row(j), dw);
    }

    // ---- Post-solve analysis (Analysis/PostSolveEvaluator): the shard's rows themselves, read-only.

    /// <summary>M = A1_k X A2ᵀ on the shard's rows (Rows×n row-major, into <paramref name="m"/>).</summary>
    public void Products(double[] x, double[] m)
    {
        if (m.Length != (long)_rows * _n) throw new ArgumentException($"M needs {(long)_rows * _n} values, got {m.Length}");
        Stream<object?>(x, null, () => null, (c, _) =>
            new ReadOnlySpan<double>(c.MSource, c.MOffset(_n), c.Length * _n).CopyTo(m.AsSpan(c.Start * _n, c.Length * _n)));
    }

    /// <summary>The shard's rows of B (Rows×n row-major).</summary>
    public ReadOnlySpan<double> Targets => _b.Span;

    /// <summary>The shard's rows of M = A1_k X A2ᵀ and of B, n values a row.</summary>
    private RowProductsReply RowProducts(RowProductsRequest r)
    {
        var m = new double[(long)_rows * _n];
        Products(r.X, m);
        return new RowProductsReply(m, _b.ToArray(), _n);
    }

    /// <summary>A block's part of a <see cref="Scalars"/> pass: Σ ℓ_j, Σ w²z², and, for a one-pass trial, its part of ∇L (d×d).</summary>
    private sealed class ScalarsPart(int gradientLength)
    {
        public double Loss, Regularizer;
        public readonly double[] Gradient = new double[gradientLength];
    }

    /// <summary>
    /// L at x: Σ_j ℓ(z_j; B_j) and Σ w²z². With <see cref="ScalarsRequest.WithGradient"/> (a line-search trial) and a
    /// family with fused row operators, the same pass also returns the shard's part of ∇L = A1ᵀ G A2 as the reply's
    /// <see cref="ScalarsReply.GradientBasis"/> (d² values): each row's gradient g_j = f∘(f − b − γ_j) (+ w²∘z_j) needs
    /// only its own values, so an accepted trial needs no gradient request (<see cref="MatrixObjective.FusedGradient"/>),
    /// at the cost of one back-projection when the trial is rejected. Other families answer the loss alone.
    /// </summary>
    private ScalarsReply Scalars(ScalarsRequest r)
    {
        var ops = _rowOperators;
        var gradientOps = r.WithGradient ? ops : null;
        int n = _n;
        bool singleM = r.SinglePrecision && _a1Single is not null;
        if (r.Anchored && r.WithGradient && !singleM && AnchorHeld()) return AnchoredScalars(r);
        // The fused one-pass gradient (no regulariser) reads M only through the rows' values. In single precision each
        // gradient row goes, from one row of doubles, straight into the group's float rows that the sgemm projects back.
        bool fusedGradient = gradientOps is not null && _w2 is null;
        bool gradientRowsSingle = gradientOps is not null && singleM;
        Span<double> GradientRow(Chunk c, int jj) => gradientRowsSingle ? c.G.AsSpan(0, n) : c.G.AsSpan(c.GroupOffset(n) + jj * n, n);
        void GradientRowDone(Chunk c, int jj, ReadOnlySpan<double> g)
        {
            if (gradientRowsSingle) SpanMath.Narrow(g, c.WorkSingle.AsSpan(c.GroupOffset(n) + jj * n, n));
        }
        var parts = Stream(r.X, null, () => new ScalarsPart(gradientOps is null ? 0 : _d * _d), (c, acc) =>
        {
            var residual = _residual is null ? null : c.Work;
            if (gradientRowsSingle) c.EnsureSingle(n, _d);
            for (int jj = 0; jj < c.Length; jj++)
            {
                int j = c.Start + jj;
                var b = BRow(j);
                if (fusedGradient)
                {
                    // Loss, gradient row and the kept single-precision terms together (GradientPass), from the row's
                    // values: a cached row of M turns into them in place.
                    bool keepTerms = c.KeepsSingleTerms && !c.SingleTermsValid;
                    var g = GradientRow(c, jj);
                    acc.Loss += gradientOps!.GradientPass(ComputedValuesRow(c, jj, gradientOps), b, g,
                        keepTerms ? SingleTermsOf(j) : default, keepTerms ? SingleTermSumsOf(j) : default);
                    GradientRowDone(c, jj, g);
                    continue;
                }
                // The row's values once: a cached row of M turns into them in place (ValuesRow).
                var values = ops is not null ? ValuesRow(c, jj, ops) : default;
                acc.Loss += ops is not null ? ops.HalfSquaredResidual(values, b)
                    : _residual is null ? _family.Globals(_family.LocalScalars(MRow(c, jj), b, null), null)[0]
                    : RowResidual.HalfSquaredNorm(_residual, MRow(c, jj), b, residual);
                var z = MRow(c, jj);   // still z with a regulariser (its cache keeps M)
                if (_w2 is not null)
                {
                    var w2 = W2Row(j);
                    double w = 0;
                    for (int i = 0; i < z.Length; i++) w += w2[i] * z[i] * z[i];
                    acc.Regularizer += w;
                }
                if (gradientOps is not null)
                {
                    var g = GradientRow(c, jj);
                    gradientOps.Gradient(values, b, g);
                    if (_w2 is not null) TensorPrimitives.FusedMultiplyAdd(W2Row(j), z, g, g);
                    GradientRowDone(c, jj, g);
                }
            }
        }, gradientOps is null ? null
            : gradientRowsSingle ? (c, acc) => ProjectBackSingle(c, acc.Gradient)
            : (c, acc) => ProjectBack(c, c.G, acc.Gradient),
            readsValues: ops is not null, singleM: singleM, readsOnlyValues: fusedGradient);
        double lossSum = 0, regSum = 0;
        foreach (var part in parts) { lossSum += part.Loss; regSum += part.Regularizer; }
        var gradient = gradientOps is null ? Array.Empty<double>() : SumInBlockOrder(parts.Select(p => p.Gradient).ToArray());
        // A pass in double that left the rows' values in the cache: an anchor for the next anchored passes.
        if (gradientOps is not null && !singleM && Anchors && CacheHoldsDoubleValuesAt(r.X))
            (_anchorX, _anchorGradient) = ((double[])r.X.Clone(), (double[])gradient.Clone());
        return new ScalarsReply(FinishedLoss(lossSum), regSum, _rows, gradient);
    }

    /// <summary>Per-row normalisers are local, so the shard reports a finished loss: one sum that does not scale with a shift.</summary>
    private ScalarSums FinishedLoss(double lossSum) =>
        _rows == 0 ? ScalarSums.Empty(LossPowers) : new ScalarSums(0.0, new[] { lossSum }, LossPowers);

    /// <summary>Whether the shard answers anchored passes: multiple normalized softmax rows whose values it caches and
    /// whose single-precision terms it keeps (so no regulariser, and single-precision copies of A1 and A2).</summary>
    private bool Anchors => _family is NormalizedSoftmax && _singleTerms is not null;

    /// <summary>Whether the cache holds the rows' values, computed in double precision, at <paramref name="x"/>.</summary>
    private bool CacheHoldsDoubleValuesAt(double[] x) =>
        _mCache is not null && _cacheHoldsValues && !_mCacheFromSingleM && HeldAt(_mCacheX, x);

    /// <summary>Whether the cache holds the rows' values in double precision at the anchor, with its part of ∇L.</summary>
    private bool AnchorHeld() => _anchorGradient is not null && Anchors && CacheHoldsDoubleValuesAt(_anchorX!);

    /// <summary>
    /// A loss-and-gradient pass in double precision at x from the anchor x_a (<see cref="ScalarsRequest.Anchored"/>;
    /// docs/MATH.md, "Anchored passes"), at about a single-precision pass's cost. Softmax is invariant to a row's
    /// shift, so from the anchor's values f_a (the cache) and ΔM = A1 (x − x_a) A2ᵀ, formed by sgemm:
    ///   f = f_a∘exp(ΔM_j) / ⟨f_a, exp(ΔM_j)⟩,   ∇L_shard(x) = ∇L_shard(x_a) + A1ᵀ (G(x) − G(x_a)) A2,
    /// the difference of the gradient rows projected by sgemm. Both single-precision products round in proportion to
    /// the change, not to M or G: f to ≈ 6e-8·|ΔM|, ∇L to ≈ 2e-7·‖∇L(x_a) − ∇L(x)‖ (measured in NumPy on the
    /// generated 2048×64 instance at steps of 1e-2 to 1e-5 of ‖x*‖). The cache then holds x's values, the kept
    /// single-precision terms x's, and x is the anchor. Each row in one fused kernel (<see cref="AnchoredRows.Pass"/>).
    /// </summary>
    private ScalarsReply AnchoredScalars(ScalarsRequest r)
    {
        int n = _n, d = _d;
        var step = new double[d * d];
        SpanMath.Subtract(r.X, _anchorX!, step);
        var stepSingle = ToSingle(step);
        var cache = _mCache!;
        var anchorGradient = _anchorGradient!;
        // Rewritten below: valid again only once the pass completes.
        (_mCacheX, _singleTermsX, _anchorX, _anchorGradient) = (null, null, null, null);
        var parts = new ScalarsPart[_blocks.BlockCount];
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            var acc = new ScalarsPart(d * d);
            using var chunk = new Chunk(n, d, _lr);
            var scratch = chunk.G.AsSpan(0, n);
            for (int g0 = s; g0 < e; g0 += ProductRows)
            {
                chunk.GroupStart = g0;
                chunk.GroupLength = Math.Min(ProductRows, e - g0);
                FormSingle(chunk.GroupLength, _a1Single.AsSpan(g0 * d), stepSingle, chunk, Span<double>.Empty);   // ΔM, in floats
                for (int jj = 0; jj < chunk.GroupLength; jj++)
                {
                    // f at x over the cache's f_a, the row of G(x) − G(x_a) in floats for the projection, x's terms.
                    int j = g0 + jj;
                    acc.Loss += AnchoredRows.Pass(cache.AsSpan(j * n, n), chunk.MSingle!.AsSpan(jj * n, n), BRow(j),
                        chunk.WorkSingle.AsSpan(jj * n, n), SingleTermsOf(j), SingleTermSumsOf(j), scratch);
                }
                ProjectBackSingle(chunk, acc.Gradient);
            }
            parts[k] = acc;
        });
        double lossSum = 0;
        foreach (var part in parts) lossSum += part.Loss;
        var gradient = SumInBlockOrder(parts.Select(p => p.Gradient).ToArray());
        SpanMath.Add(gradient, anchorGradient, gradient);
        (_mCacheX, _cacheHoldsValues, _mCacheFromSingleM) = ((double[])r.X.Clone(), true, false);
        (_singleTermsX, _singleTermsFromSingleM) = ((double[])r.X.Clone(), false);
        (_anchorX, _anchorGradient) = ((double[])r.X.Clone(), (double[])gradient.Clone());
        return new ScalarsReply(FinishedLoss(lossSum), 0, _rows, gradient);
    }

    /// <summary>
    /// Rows per dense product call: M = (A1 X) A2ᵀ and Z_V = (A1 V) A2ᵀ are formed for groups of this many rows, and
    /// the group's rows of R (the gradient's G or the Hessian-vector product's Y, kept group-sized) are projected back,
    /// A1ᵀ (R A2), at its end; the other row terms go <see cref="ChunkRows"/> rows at a time. OpenBLAS packs A2
    /// (n×d) afresh for every call, so on one 32-row chunk R·A2 ran at 24–28 GFLOP/s against NumPy's 60 on the same
    /// shape (n = 8192, d = 128, `gemm 64 8192 128`), and at 128 rows at 71–81 (`gemm 256 8192 128`). Three
    /// group-sized n-wide arrays per running block (M, G and Z_V: 8 MB each at n = 8192) are the cost.
    /// </summary>
    public const int ProductRows = 128;

    /// <summary>partial (d×d) += A1ᵀ[:, group] · (R · A2) for the group's rows R (GroupLength×n, row-major).</summary>
    private void ProjectBack(Chunk c, double[] groupRows, double[] partial)
    {
        int len = c.GroupLength, n = _n, d = _d;
        MatrixProducts.Gemm(len, d, n, groupRows, n, _a2, d, c.P, d, false);
        MatrixProducts.Gemm(d, d, len, _a1T.AsSpan(c.GroupStart), _rows, c.P, d, partial, d, true);
    }

    /// <summary><see cref="ProjectBack"/> of the group's float rows of Y: Y·A2 by sgemm, widened, then A1ᵀ·(Y·A2) in double.</summary>
    private void ProjectBackSingle(Chunk c, double[] partial)
    {
        int len = c.GroupLength, n = _n, d = _d;
        MatrixProducts.GemmSingle(len, d, n, c.WorkSingle, n, _a2Single, d, c.PSingle, d, false);
        SpanMath.Widen(c.PSingle.AsSpan(0, len * d), c.P);
        MatrixProducts.Gemm(d, d, len, _a1T.AsSpan(c.GroupStart), _rows, c.P, d, partial, d, true);
    }

    private static float[] ToSingle(ReadOnlySpan<double> values)
    {
        var single = new float[values.Length];
        SpanMath.Narrow(values, single);
        return single;
    }

    private double[] SumInBlockOrder(double[][] parts)
    {
        var total = parts[0];
        for (int k = 1; k < parts.Length; k++) SpanMath.Add(total, parts[k], total);
        return total;
    }

    /// <summary>A zeroed d×d partial sum for one row block of a Hessian-vector product, reused from earlier products.</summary>
    private double[] RentPartial()
    {
        double[]? partial = null;
        lock (_partials)
            if (_partials.Count > 0) partial = _partials.Pop();
        if (partial is null) return new double[_d * _d];
        Array.Clear(partial);
        return partial;
    }

    /// <summary>
    /// <see cref="SumInBlockOrder"/> of rented partials, copied into a new array (the reply's), the partials going back
    /// for the next product.
    /// </summary>
    private double[] SumRentedInBlockOrder(double[][] parts)
    {
        var total = (double[])SumInBlockOrder(parts).Clone();
        lock (_partials)
            foreach (var part in parts) _partials.Push(part);
        return total;
    }

    private GradientReply Gradient(GradientRequest r)
    {
        if (r.SketchRows > 0)
            throw new NotSupportedException("a matrix problem has no row sketch: its approx-newton is the Kronecker-preconditioned Newton-CG");
        // The rows of G are all a chunk contributes (from the family's fused gradient where it has one, else the row
        // terms Stream fills); each group's G is projected back at its end.
        var parts = _rowOperators is { } ops
            ? Stream(r.X, null, () => new double[_d * _d], (c, _) =>
            {
                for (int jj = 0; jj < c.Length; jj++)
                {
                    int j = c.Start + jj;
                    var g = c.G.AsSpan(c.GroupOffset(_n) + jj * _n, _n);
                    ops.Gradient(ValuesRow(c, jj, ops), BRow(j), g);
                    // A regulariser's w²∘z (its cache keeps M, so the row is still z).
                    if (_w2 is not null) TensorPrimitives.FusedMultiplyAdd(W2Row(j), MRow(c, jj), g, g);
                }
            }, (c, partial) => ProjectBack(c, c.G, partial), readsValues: true)
            : Stream(r.X, r.Kind, () => new double[_d * _d], static (_, _) => { }, (c, partial) => ProjectBack(c, c.G, partial));
        return new GradientReply(SumInBlockOrder(parts), Array.Empty<double>(), Array.Empty<double>());
    }

    private HessianVectorReply HessianVector(HessianVectorRequest r)
    {
        if (r.V.Length != _d * _d) throw new ArgumentException($"V has {r.V.Length} entries but X is {_d}×{_d}");
        int n = _n, d = _d, lr = _lr;
        // Z_V = (A1 V) A2ᵀ on the group's rows, at its first chunk (T is free once the group's M is filled).
        void DirectionRows(Chunk c)
        {
            if (c.Start != c.GroupStart) return;
            Forward(c.GroupLength, _a1.AsSpan(c.GroupStart * d), r.V, c.T, c.Work);
        }
        if (r.SinglePrecision && _rowOperators is { } single && _a1Single is { } a1Single)
        {
            // The same in single precision: Z_V and Y as floats from sgemm, each row's product from the row's
            // single-precision terms where the shard keeps them, else computed in double from its values.
            var vSingle = ToSingle(r.V);
            var singleParts = Stream(r.X, null, RentPartial, (c, _) =>
            {
                c.EnsureSingle(n, d);
                if (c.Start == c.GroupStart)
                {
                    ForwardSingle(c.GroupLength, a1Single.AsSpan(c.GroupStart * d), vSingle, c.TSingle, c.WorkSingle);
                }
                for (int jj = 0; jj < c.Length; jj++)
                {
                    var y = c.WorkSingle.AsSpan(c.GroupOffset(n) + jj * n, n);
                    if (c.KeepsSingleTerms)
                    {
                        // From the row's single-precision terms (ValuesRow writes them first where they are not x's).
                        if (!c.SingleTermsValid) ValuesRow(c, jj, single);
                        single.HessianProductFromSingleTerms(SingleTermsOf(c.Start + jj), SingleTermSumsOf(c.Start + jj), r.Kind, y);
                    }
                    else if (c.SingleMOnly)
                    {
                        // A row the shard keeps nothing of: its terms from its float row of M, the softmax in single precision.
                        var terms = c.RowTerms(n);
                        single.SingleRowTermsFromLogits(c.MSingle.AsSpan((c.Start - c.GroupStart + jj) * n, n), BRow(c.Start + jj), terms, c.RowTermSums);
                        single.HessianProductFromSingleTerms(terms, c.RowTermSums, r.Kind, y);
                    }
                    else if (c.SingleValues is { } kept && _w2 is null && single.SingleRowTermsAvailable)
                    {
                        // A row whose values the shard keeps in single precision (written first where they are not
                        // x's): the product from them in single precision, the rest of its terms formed on the fly.
                        if (!c.SingleValuesValid) ComputedValuesRow(c, jj, single);
                        single.HessianProductFromSingleValues(kept.AsSpan((c.Start + jj) * n, n), BRow(c.Start + jj), r.Kind, y);
                    }
                    else single.HessianProductSingle(ValuesRow(c, jj, single), BRow(c.Start + jj), r.Kind, W2Row(c.Start + jj), y, c.RowScratch);
                }
            }, ProjectBackSingle, readsValues: true, singleX: _mCache is null ? ToSingle(r.X) : null, readsSingleTerms: true,
                singleM: r.SinglePassIterate, readsSingleM: _w2 is null && single.SingleRowTermsAvailable);
            return new HessianVectorReply(SumRentedInBlockOrder(singleParts), Array.Empty<double>());
        }
        if (_rowOperators is { } ops)
        {
            // Y_j = B(z_j) Z_V,j + w_j² ∘ Z_V,j in place, by the family's fused product.
            var fused = Stream(r.X, null, RentPartial, (c, _) =>
            {
                DirectionRows(c);
                for (int jj = 0; jj < c.Length; jj++)
                    ops.HessianProduct(ValuesRow(c, jj, ops), BRow(c.Start + jj), r.Kind, W2Row(c.Start + jj),
                        c.Work.AsSpan(c.GroupOffset(n) + jj * n, n), c.RowScratch);
            }, (c, partial) => ProjectBack(c, c.Work, partial), readsValues: true);
            return new HessianVectorReply(SumRentedInBlockOrder(fused), Array.Empty<double>());
        }
        var parts = Stream(r.X, r.Kind, RentPartial, (c, _) =>
        {
            int len = c.Length;
            DirectionRows(c);
            var zv = c.Work.AsSpan(c.GroupOffset(n), len * n);
            Span<double> dots = stackalloc double[Math.Max(lr, 1)];
            for (int jj = 0; jj < len; jj++)
            {
                // Y_j = (D_j + w_j²) ∘ Z_V,j + Σ_a (Σ_b C_j,ab ⟨q_j,b, Z_V,j⟩) q_j,a
                var y = zv.Slice(jj * n, n);
                var q = c.Q.AsSpan(jj * lr * n, lr * n);
                for (int b = 0; b < lr; b++) dots[b] = SpanMath.Dot(q.Slice(b * n, n), y);
                SpanMath.Multiply(y, c.Dw.AsSpan(jj * n, n), y);
                for (int a = 0; a < lr; a++)
                {
                    double coef = 0;
                    for (int b = 0; b < lr; b++) coef += c.C[jj * lr * lr + a * lr + b] * dots[b];
                    if (coef != 0) SpanMath.MultiplyAdd(q.Slice(a * n, n), coef, y, y);
                }
            }
        }, (c, partial) => ProjectBack(c, c.Work, partial));
        return new HessianVectorReply(SumRentedInBlockOrder(parts), Array.Empty<double>());
    }

    /// <summary>Per-block sums of the Kronecker factors (see <see cref="KroneckerFactors"/>), and the block's scratch
    /// for a chunk's projected low-rank terms r_j,a (ChunkRows·lr rows of d) and its rows of A1.</summary>
    private sealed class FactorSums(int n, int d, int lr)
    {
        public readonly double[] Diagonal = new double[n];   // Σ_j (D_j + w_j²)/p_j
        public readonly double[] LowRank = new double[d * d]; // Σ_j Σ_ab C_j,ab r_j,a r_j,bᵀ / p_j
        public readonly double[] Left = new double[d * d];    // Σ_j τ_j a1_j a1_jᵀ / p_j
        public readonly double[] Projected = new double[Math.Max(ChunkRows * lr * d, 1)];
        public readonly double[] ProjectedT = new double[Math.Max(ChunkRows * lr * d, 1)];   // the r_j,a as columns (d × chunk·lr)
        public readonly double[] Combined = new double[Math.Max(ChunkRows * lr * d, 1)];     // w_j,a = Σ_b C_j,ab r_j,b
        public readonly double[] WeightedA1 = new double[ChunkRows * d];                     // τ_j a1_j / p_j
        public readonly double[] GatheredA1T = new double[ChunkRows * d];                    // a sampled chunk's A1 rows as columns
        public readonly double[] DiagonalTraces = new double[ChunkRows];                     // a chunk's ⟨D_j + w_j², ‖a2_i‖²⟩
        public readonly int[] Rows = new int[ChunkRows];                                     // a whole chunk's shard rows
        public readonly double[] Ones = Enumerable.Repeat(1.0, ChunkRows).ToArray();         // and their weights
        public double WeightSum;                              // Σ_j τ_j / p_j
    }

    /// <summary>
    /// The shard's sums for the Kronecker-factored curvature (docs/MATH.md, "Kronecker-factored curvature"): with
    /// S_j = A2ᵀ B(z_j) A2 = A2ᵀ diag(D_j + w_j²) A2 + Σ_ab C_j,ab r_j,a r_j,bᵀ (r_j,a = A2ᵀ q_j,a, d values) and
    /// τ_j = tr S_j = Σ_i (D_j,i + w_j,i²)‖a2_i‖² + Σ_ab C_j,ab ⟨r_j,a, r_j,b⟩:
    ///   left = Σ_j τ_j a1_j a1_jᵀ,  right = Σ_j S_j = A2ᵀ diag(Σ_j (D_j + w_j²)) A2 + Σ_j Σ_ab C_j,ab r_j,a r_j,bᵀ,
    /// over every row, or with <see cref="KroneckerFactorsRequest.RowShare"/> below 1 over a leverage-score sample of
    /// the rows, each weighted by 1/p_j (<see cref="SampledFactorSums"/>). Per chunk of rows (<see cref="AddFactorRows"/>):
    /// one GEMM for the r_j,a, the diagonal sums, and two d×d products for the low-rank sums and left; after the pass one
    /// A2ᵀ diag(·) A2 product.
    /// </summary>
    private KroneckerFactorsReply KroneckerFactors(KroneckerFactorsRequest r)
    {
        int n = _n, d = _d, lr = _lr;
        if (!(r.RowShare > 0 && r.RowShare <= 1))
            throw new ArgumentException($"a Kronecker-factor request's row share must be in (0, 1], got {r.RowShare}");
        var a2Norms = new double[n];
        for (int i = 0; i < n; i++) a2Norms[i] = SpanMath.Dot(_a2.AsSpan(i * d, d), _a2.AsSpan(i * d, d));
        var ops = _rowOperators;
        // The chunk's lr·ChunkRows rows of q fit the group-sized single-precision scratch while lr ≤ ProductRows/ChunkRows.
        bool single = r.SinglePrecision && _a2Single is not null && lr > 0 && ChunkRows * lr <= ProductRows;
        // Single precision from the rows' values without a regulariser: the terms go straight into the sgemm's floats.
        bool fused = single && ops is not null && _w2 is null;
        long rowsUsed = _rows;
        FactorSums[] parts;
        if (r.Samples) (parts, rowsUsed) = SampledFactorSums(r, single, fused, a2Norms);
        else
            parts = Stream(r.X, ops is null ? r.Kind : null, () => new FactorSums(n, d, lr), (c, acc) =>
            {
                for (int jj = 0; jj < c.Length; jj++) acc.Rows[jj] = c.Start + jj;
                var rows = acc.Rows.AsSpan(0, c.Length);
                var ones = acc.Ones.AsSpan(0, c.Length);
                if (fused)
                {
                    c.EnsureSingle(n, d);
                    for (int jj = 0; jj < c.Length; jj++) FusedFactorRow(c, acc, ops!, ValuesRow(c, jj, ops!), c.Start + jj, jj, r.Kind, 1, a2Norms);
                    AddProjectedFactorRows(c, acc, rows, ones, single);
                    return;
                }
                if (ops is not null) FillTermsFromValues(c, r.Kind, ops);
                AddFactorRows(c, acc, rows, ones, single, a2Norms);
            }, readsValues: ops is not null, singleX: single && _mCache is null ? ToSingle(r.X) : null,
                singleM: single && r.SinglePassIterate);
        var total = parts[0];
        for (int k = 1; k < parts.Length; k++)
        {
            SpanMath.Add(total.Diagonal, parts[k].Diagonal, total.Diagonal);
            SpanMath.Add(total.LowRank, parts[k].LowRank, total.LowRank);
            SpanMath.Add(total.Left, parts[k].Left, total.Left);
            total.WeightSum += parts[k].WeightSum;
        }
        // right = A2ᵀ diag(Σ_j (D_j + w_j²)) A2 + the low-rank sums.
        var scaled = new double[n * d];
        for (int i = 0; i < n; i++) SpanMath.Multiply(_a2.AsSpan(i * d, d), total.Diagonal[i], scaled.AsSpan(i * d, d));
        var right = total.LowRank;
        MatrixProducts.Gemm(d, d, n, _a2T, n, scaled, d, right, d, true);
        return new KroneckerFactorsReply(Packed.FromUpper(total.Left, d), Packed.FromUpper(right, d), total.WeightSum, rowsUsed);
    }

    /// <summary>
    /// Adds a chunk's rows to the factor sums: row jj (shard row rows[jj], weight weights[jj] = 1/p_j) with its terms
    /// D + w², q and C in the chunk's Dw, Q and C. One GEMM projects the chunk's q's onto A2 (lr×n×d a row; single
    /// precision when asked, on the float copy of A2 — the GEMM is most of the request, about lr forward products),
    /// then per row the diagonal sum, w_j,a = Σ_b C_j,ab r_j,b and τ_j = ⟨D_j + w_j², ‖a2_i‖²⟩ + Σ_a ⟨r_j,a, w_j,a⟩,
    /// then two products for the chunk: low rank += Σ_j Σ_a r_j,a (w_j,a/p_j)ᵀ = Rᵀ W (d × chunk·lr × d) and
    /// left += Σ_j (τ_j/p_j) a1_j a1_jᵀ (d × chunk × d; a rank-one update per row and pair took as long as the
    /// projection GEMM). A weight of 1 multiplies nothing, so the every-row sums keep their bits.
    /// </summary>
    private void AddFactorRows(Chunk c, FactorSums acc, ReadOnlySpan<int> rows, ReadOnlySpan<double> weights, bool single, double[] a2Norms)
    {
        int n = _n, lr = _lr, len = rows.Length;
        if (single)
        {
            c.EnsureSingle(n, _d);
            SpanMath.Narrow(c.Q.AsSpan(0, len * lr * n), c.WorkSingle);
        }
        for (int jj = 0; jj < len; jj++)
        {
            double weight = weights[jj];
            var dw = c.Dw.AsSpan(jj * n, n);
            if (weight == 1) SpanMath.Add(acc.Diagonal, dw, acc.Diagonal);
            else SpanMath.MultiplyAdd(dw, weight, acc.Diagonal, acc.Diagonal);
            acc.DiagonalTraces[jj] = SpanMath.Dot(dw, a2Norms);
        }
        AddProjectedFactorRows(c, acc, rows, weights, single);
    }

    /// <summary>
    /// Row jj's (shard row j's) factor terms from its values straight into the chunk's single-precision q rows
    /// (<see cref="IOwnRowOperators.FactorTermsSingle"/>), its D into the diagonal sums and ⟨D, ‖a2_i‖²⟩ into the
    /// chunk's traces: what <see cref="AddFactorRows"/> does before <see cref="AddProjectedFactorRows"/>, from the values.
    /// </summary>
    private void FusedFactorRow(Chunk c, FactorSums acc, IOwnRowOperators ops, ReadOnlySpan<double> values, int j, int jj,
        HessianKind kind, double weight, double[] a2Norms)
    {
        int n = _n, lr = _lr;
        acc.DiagonalTraces[jj] = ops.FactorTermsSingle(values, BRow(j), kind, c.WorkSingle.AsSpan(jj * lr * n, lr * n),
            c.C.AsSpan(jj * lr * lr, lr * lr), acc.Diagonal, weight, a2Norms);
    }

    /// <summary>
    /// The rest of <see cref="AddFactorRows"/> once the chunk's diagonal sums and traces are in: the projection of its
    /// q rows (the chunk's Q, or with <paramref name="single"/> their floats in WorkSingle) onto A2, each row's
    /// w_j,a and τ_j, and the chunk's two d×d products.
    /// </summary>
    private void AddProjectedFactorRows(Chunk c, FactorSums acc, ReadOnlySpan<int> rows, ReadOnlySpan<double> weights, bool single)
    {
        int n = _n, d = _d, lr = _lr, len = rows.Length;
        var projected = acc.Projected;
        if (single)
        {
            MatrixProducts.GemmSingle(len * lr, d, n, c.WorkSingle, n, _a2Single, d, c.PSingle, d, false);
            SpanMath.Widen(c.PSingle.AsSpan(0, len * lr * d), projected);
        }
        else if (lr > 0) MatrixProducts.Gemm(len * lr, d, n, c.Q, n, _a2, d, projected, d, false);
        var combined = acc.Combined;
        for (int jj = 0; jj < len; jj++)
        {
            double weight = weights[jj];
            double t = acc.DiagonalTraces[jj];
            var projectedRow = projected.AsSpan(jj * lr * d, lr * d);
            var ws = combined.AsSpan(jj * lr * d, lr * d);
            ws.Clear();
            for (int a = 0; a < lr; a++)
            {
                for (int b = 0; b < lr; b++)
                {
                    double cab = c.C[jj * lr * lr + a * lr + b];
                    if (cab != 0) SpanMath.MultiplyAdd(projectedRow.Slice(b * d, d), cab, ws.Slice(a * d, d), ws.Slice(a * d, d));
                }
                t += SpanMath.Dot(projectedRow.Slice(a * d, d), ws.Slice(a * d, d));
            }
            if (weight != 1) SpanMath.Multiply(ws, weight, ws);
            acc.WeightSum += weight * t;
            SpanMath.Multiply(_a1.AsSpan(rows[jj] * d, d), weight * t, acc.WeightedA1.AsSpan(jj * d, d));
        }
        if (lr > 0)
        {
            int k = len * lr;
            MatrixProducts.Transpose(projected.AsSpan(0, k * d), k, d, acc.ProjectedT);
            MatrixProducts.Gemm(d, d, k, acc.ProjectedT, k, combined, d, acc.LowRank, d, true);
        }
        if (rows[len - 1] - rows[0] == len - 1)   // consecutive rows: their columns of A1ᵀ
            MatrixProducts.Gemm(d, d, len, _a1T.AsSpan(rows[0]), _rows, acc.WeightedA1, d, acc.Left, d, true);
        else
        {
            for (int jj = 0; jj < len; jj++)
                for (int i = 0; i < d; i++) acc.GatheredA1T[i * len + jj] = _a1[rows[jj] * d + i];
            MatrixProducts.Gemm(d, d, len, acc.GatheredA1T, len, acc.WeightedA1, d, acc.Left, d, true);
        }
    }

    /// <summary>
    /// The factor sums over a leverage-score sample of the shard's rows (<see cref="LeverageRowSample"/>, scores of A1's
    /// rows computed at the first such request) and the rows kept. The kept rows go ChunkRows at a time in each block's
    /// range: their rows of M — read from the cache where it holds this x's M or values, else formed for those rows
    /// alone, (A1 X) A2ᵀ on their gathered rows of A1 — then their terms, then <see cref="AddFactorRows"/>. Reads the
    /// caches and never writes them (a sample's values are not every row's). The kept rows' M is the same whether read
    /// or formed: the AVX-512 kernel sums every entry in the same order whatever the rows around it.
    /// </summary>
    private (FactorSums[] Parts, long Rows) SampledFactorSums(KroneckerFactorsRequest r, bool single, bool fused, double[] a2Norms)
    {
        int n = _n, d = _d, lr = _lr;
        _a1Leverage ??= LeverageRowSample.Scores(_a1, _a1T, _rows, d);
        var (rows, weights) = LeverageRowSample.Draw(_a1Leverage, r.RowShare, r.SampleSeed, RowOffset);
        bool singleM = single && r.SinglePassIterate;   // M formed as FillM would (see there)
        var mX = singleM ? ToSingle(r.X) : null;
        bool cached = _mCache is not null && HeldAt(_mCacheX, r.X) && _mCacheFromSingleM == singleM;
        var ops = _rowOperators;
        var parts = new FactorSums[_blocks.BlockCount];
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            var acc = new FactorSums(n, d, lr);
            using var c = new Chunk(n, d, lr);
            c.MFromSingle = mX is not null;
            int first = LowerBound(rows, s), end = LowerBound(rows, e);
            for (int i0 = first; i0 < end; i0 += ChunkRows)
            {
                int len = Math.Min(ChunkRows, end - i0);
                var chunkRows = rows.AsSpan(i0, len);
                if (!cached)
                {
                    // M of the kept rows: their rows of A1 gathered, times X, times A2ᵀ.
                    if (mX is not null)
                    {
                        c.EnsureSingle(n, d);
                        for (int jj = 0; jj < len; jj++) _a1Single.AsSpan(chunkRows[jj] * d, d).CopyTo(c.PSingle.AsSpan(jj * d, d));
                        FormSingle(len, c.PSingle, mX, c, c.M.AsSpan(0, len * n));
                    }
                    else
                    {
                        for (int jj = 0; jj < len; jj++) _a1.AsSpan(chunkRows[jj] * d, d).CopyTo(c.P.AsSpan(jj * d, d));
                        Forward(len, c.P, r.X, c.T, c.M.AsSpan(0, len * n));
                    }
                }
                if (fused) c.EnsureSingle(n, d);
                for (int jj = 0; jj < len; jj++)
                {
                    int j = chunkRows[jj];
                    var z = cached ? new ReadOnlySpan<double>(_mCache, j * n, n) : new ReadOnlySpan<double>(c.M, jj * n, n);
                    var dw = c.Dw.AsSpan(jj * n, n);
                    var q = c.Q.AsSpan(jj * lr * n, lr * n);
                    var coefficients = c.C.AsSpan(jj * lr * lr, lr * lr);
                    if (ops is not null)   // as FillTermsFromValues: the terms from the row's values
                    {
                        var values = c.RowScratch.AsSpan(IOwnRowOperators.ScratchPerEntry * n, n);
                        if (cached && _cacheHoldsValues) values = _mCache.AsSpan(j * n, n);
                        else RowValues(c, ops, z, values);
                        if (fused) FusedFactorRow(c, acc, ops, values, j, jj, r.Kind, weights[i0 + jj], a2Norms);
                        else RowTermsFromValues(ops, values, j, r.Kind, dw, q, coefficients);
                    }
                    else RowTerms(z, j, r.Kind, c.G.AsSpan(jj * n, n), dw, q, coefficients);
                }
                if (fused) AddProjectedFactorRows(c, acc, chunkRows, weights.AsSpan(i0, len), single);
                else AddFactorRows(c, acc, chunkRows, weights.AsSpan(i0, len), single, a2Norms);
            }
            parts[k] = acc;
        });
        return (parts, rows.Length);
    }

    /// <summary>Whether a kept array's x (<paramref name="keptAt"/>: null while it holds none) is <paramref name="x"/>.</summary>
    private static bool HeldAt(double[]? keptAt, double[] x) => keptAt is not null && keptAt.AsSpan().SequenceEqual(x);

    /// <summary>The index of the first entry of the ascending <paramref name="sorted"/> that is ≥ <paramref name="value"/>.</summary>
    private static int LowerBound(int[] sorted, int value)
    {
        int index = Array.BinarySearch(sorted, value);
        return index >= 0 ? index : ~index;
    }

    /// <summary>
    /// The exact Hessian of the shard's rows, H = Σ_j (a1_j a1_jᵀ) ⊗ S_j with S_j = A2ᵀ B(z_j) A2 (d×d, including
    /// the row's low-rank part), as the packed upper triangle of a d²×d² matrix in row-major vec(X) order:
    /// H[(k,l),(k',l')] = Σ_j a1_jk a1_jk' S_j[l,l'].
    /// Per chunk the S_j are stacked (chunk×d²) and, for every block row k, R_k = W_k · S with
    /// W_k[k'−k, j] = a1_jk a1_jk' (k' ≥ k) gives the blocks (k, k..d−1) — one GEMM per k, written into packed rows
    /// k·d … k·d+d−1 (disjoint across k, so the k loop runs in parallel deterministically). Chunks run in row order
    /// on one block (the d loop carries the parallelism).
    /// </summary>
    private GramReply Gram(GramRequest r)
    {
        int d = _d, n = _n, lr = _lr, dd = d * d;
        if (dd > MatrixObjective.MaxGramUnknowns)
            throw new NotSupportedException(
                $"the exact Hessian of a matrix problem is d²×d²; d = {d} gives d² = {dd} > {MatrixObjective.MaxGramUnknowns}: use newton-cg");
        if (r.X.Length != dd) throw new ArgumentException($"x has {r.X.Length} entries but X is {d}×{d} ({dd} unknowns)");
        var packed = new double[Packed.Length(dd)];
        var pool = System.Buffers.ArrayPool<double>.Shared;
        var stacked = pool.Rent(ChunkRows * dd);
        var scaled = pool.Rent(n * d);
        var low = new double[Math.Max(lr, 1) * d];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _compute.MaxDegreeOfParallelism) };
        // The row terms need M: a cache of row values is a miss.
        bool cached = _mCache is not null && !_cacheHoldsValues && !_mCacheFromSingleM && HeldAt(_mCacheX, r.X);
        if (!cached) _mCacheX = null;
        using var chunk = new Chunk(n, d, lr);
        try
        {
            for (int c0 = 0; c0 < _rows; c0 += ChunkRows)
            {
                // (Small d only: each chunk is its own group.)
                chunk.Start = chunk.GroupStart = c0;
                chunk.Length = chunk.GroupLength = Math.Min(ChunkRows, _rows - c0);
                FillM(r.X, null, chunk, cached);
                FillTerms(chunk, r.Kind);
                int cl = chunk.Length;
                // S_j = A2ᵀ diag(D_j + w_j²) A2 + Σ_ab C_j,ab (A2ᵀ q_j,a)(A2ᵀ q_j,b)ᵀ for j in the chunk.
                for (int jj = 0; jj < cl; jj++)
                {
                    var dw = chunk.Dw.AsSpan(jj * n, n);
                    for (int i = 0; i < n; i++)
                        SpanMath.Multiply(_a2.AsSpan(i * d, d), dw[i], scaled.AsSpan(i * d, d));
                    var s = stacked.AsSpan(jj * dd, dd);
                    MatrixProducts.Gemm(d, d, n, _a2T, n, scaled, d, s, d, false);
                    if (lr == 0) continue;
                    MatrixProducts.Gemm(lr, d, n, chunk.Q.AsSpan(jj * lr * n, lr * n), n, _a2, d, low, d, false);
                    for (int a = 0; a < lr; a++)
                        for (int b = 0; b < lr; b++)
                        {
                            double cab = chunk.C[jj * lr * lr + a * lr + b];
                            if (cab == 0) continue;
                            for (int l = 0; l < d; l++)
                            {
                                double f = cab * low[a * d + l];
                                if (f != 0) SpanMath.MultiplyAdd(low.AsSpan(b * d, d), f, s.Slice(l * d, d), s.Slice(l * d, d));
                            }
                        }
                }

                Parallel.For(0, d, parallel, k =>
                {
                    int width = d - k;
                    var w = pool.Rent(width * cl);
                    var blocks = pool.Rent(width * dd);
                    try
                    {
                        for (int kk = 0; kk < width; kk++)
                            for (int jj = 0; jj < cl; jj++)
                            {
                                int row = (c0 + jj) * d;
                                w[kk * cl + jj] = _a1[row + k] * _a1[row + k + kk];
                            }
                        MatrixProducts.Gemm(width, dd, cl, w, cl, stacked, dd, blocks, dd, false);
                        for (int l = 0; l < d; l++)
                        {
                            int p = k * d + l;
                            long start = (long)p * dd - (long)p * (p - 1) / 2;
                            // Diagonal block (k, k): columns l' = l..d−1.
                            var dst = packed.AsSpan((int)start, dd - p);
                            SpanMath.Add(dst.Slice(0, d - l), blocks.AsSpan(l * d + l, d - l), dst.Slice(0, d - l));
                            // Blocks (k, k'), k' > k: all columns l'.
                            for (int kk = 1; kk < width; kk++)
                            {
                                var target = dst.Slice((k + kk) * d - p, d);
                                SpanMath.Add(target, blocks.AsSpan(kk * dd + l * d, d), target);
                            }
                        }
                    }
                    finally
                    {
                        pool.Return(w);
                        pool.Return(blocks);
                    }
                });
            }
            if (_mCache is not null && !cached)
            {
                _mCacheX = (double[])r.X.Clone();
                _cacheHoldsValues = false;
                _mCacheFromSingleM = false;
            }
        }
        finally
        {
            pool.Return(stacked);
            pool.Return(scaled);
        }
        return new GramReply(packed, _rows);
    }
}
