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
///   Gram      Σ_j (a1_j a1_jᵀ) ⊗ S_j,  S_j = A2ᵀ B(z_j) A2  (the exact d²×d² Hessian of the rows, packed upper;
///             only for d² ≤ <see cref="MatrixObjective.MaxGramUnknowns"/>: O(rows·n·d² + rows·d⁴))
///
/// The n²×d² Kronecker matrix is never formed. Products go through <see cref="MatrixProducts.Gemm"/> with stored
/// transposes A1ᵀ (d×rows) and A2ᵀ (d×n). Work is split into fixed row blocks that depend only on the shapes;
/// block results are summed in block order, so replies are bit-for-bit the same whatever the thread count.
///
/// Caches: M rows for the last x; the row terms (G, D + w², q, C) for the last (x, kind). A miss only costs time.
/// Row sampling (leverage scores, sampled Gram, sketches) has no meaning here and is refused.
/// </summary>
public sealed class MatrixShard : IShard
{
    private static readonly int[] LossPowers = { 0 };

    private readonly IVectorFamily _family;
    private readonly RowResidualFunction? _residual;
    private readonly ShardComputeOptions _compute;
    private readonly RowBlocks _blocks;
    private readonly int _rows, _n, _d, _lr;
    private readonly double[] _a1, _a1T, _a2, _a2T, _b;
    private readonly double[]? _w2;

    private double[]? _mX;
    private readonly double[] _t;   // rows×d   scratch: A1 X, A1 V, Y A2, G A2
    private readonly double[] _m;   // rows×n   M = A1 X A2ᵀ on the shard's rows
    private readonly double[] _zv;  // rows×n   scratch: Z_V, then Y

    private bool _termsValid;
    private HessianKind _termsKind;
    private readonly double[] _g;   // rows×n   g(z_j) + w_j²∘z_j
    private readonly double[] _dw;  // rows×n   D(z_j) + w_j²
    private readonly double[] _q;   // rows×lr×n, q_j,a at (j·lr + a)·n
    private readonly double[] _c;   // rows×lr×lr, C_j at j·lr²

    public long RowOffset { get; }
    public int Rows => _rows;
    /// <summary>Side d of X.</summary>
    public int Side => _d;
    /// <summary>Columns n of B (rows of A2).</summary>
    public int Columns => _n;
    public IVectorFamily Family => _family;

    /// <param name="family">The per-row loss ℓ(z_j; B_j).</param>
    /// <param name="a1Rows">The shard's rows of A1 (rows×d).</param>
    /// <param name="a2">All of A2 (n×d).</param>
    /// <param name="bRows">The shard's rows of B (rows×n).</param>
    /// <param name="wRows">The shard's rows of the weight matrix W (rows×n), or null for no regulariser.</param>
    public MatrixShard(IVectorFamily family, DenseMatrix a1Rows, DenseMatrix a2, DenseMatrix bRows, DenseMatrix? wRows,
        long rowOffset, ShardComputeOptions? compute = null)
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
        _b = bRows.Data;
        if (wRows is not null)
        {
            _w2 = new double[wRows.Data.Length];
            TensorPrimitives.Multiply(wRows.Data, wRows.Data, _w2);
        }
        RowOffset = rowOffset;
        _blocks = BlocksFor(_rows, _n, _d);
        long rn = (long)_rows * _n;
        _t = new double[(long)_rows * _d];
        _m = new double[rn];
        _zv = new double[rn];
        _g = new double[rn];
        _dw = new double[rn];
        _q = new double[rn * _lr];
        _c = new double[(long)_rows * _lr * _lr];
    }

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
        SampledGramRequest => throw new NotSupportedException(
            "a matrix problem has no row sampling (each row j carries its own normaliser and low-rank Hessian part): " +
            "use newton, newton-cg, lbfgs or gd, not approx-newton"),
        _ => throw new NotSupportedException($"matrix shard cannot answer {request.GetType().Name}"),
    };

    private ReadOnlySpan<double> RowOf(double[] rowsByN, int j) => new(rowsByN, j * _n, _n);

    /// <summary>M = (A1 X) A2ᵀ on the shard's rows, reused while x is unchanged.</summary>
    private void EnsureM(double[] x)
    {
        if (x.Length != _d * _d) throw new ArgumentException($"x has {x.Length} entries but X is {_d}×{_d} ({_d * _d} unknowns)");
        if (_mX is not null && _mX.AsSpan().SequenceEqual(x)) return;
        int d = _d, n = _n;
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            int len = e - s;
            MatrixProducts.Gemm(len, d, d, _a1.AsSpan(s * d), d, x, d, _t.AsSpan(s * d), d, false);
            MatrixProducts.Gemm(len, n, d, _t.AsSpan(s * d), d, _a2T, n, _m.AsSpan(s * n), n, false);
        });
        _mX = (double[])x.Clone();
        _termsValid = false;
    }

    /// <summary>Per row j, from the row alone: globals_j, then g + w²∘z, D + w², q and C at (x, kind).</summary>
    private void EnsureTerms(double[] x, HessianKind kind)
    {
        EnsureM(x);
        if (_termsValid && _termsKind == kind) return;
        int n = _n, lr = _lr;
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            for (int j = s; j < e; j++)
            {
                var z = RowOf(_m, j);
                var b = RowOf(_b, j);
                var globals = _family.Globals(_family.LocalScalars(z, b, null), null);
                var g = _g.AsSpan(j * n, n);
                var dw = _dw.AsSpan(j * n, n);
                _family.RowTerms(z, b, globals, kind, g, dw, _q.AsSpan(j * lr * n, lr * n));
                _family.LowRankCoefficients(globals, kind).AsSpan(0, lr * lr).CopyTo(_c.AsSpan(j * lr * lr, lr * lr));
                if (_w2 is not null)
                {
                    var w2 = RowOf(_w2, j);
                    TensorPrimitives.FusedMultiplyAdd(w2, z, g, g);
                    TensorPrimitives.Add(dw, w2, dw);
                }
            }
        });
        _termsKind = kind;
        _termsValid = true;
    }

    private ScalarsReply Scalars(ScalarsRequest r)
    {
        EnsureM(r.X);
        int blocks = _blocks.BlockCount;
        var loss = new double[blocks];
        var reg = new double[blocks];
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            double l = 0, w = 0;
            var c = _residual is null ? null : new double[_n];
            for (int j = s; j < e; j++)
            {
                var z = RowOf(_m, j);
                l += _residual is null
                    ? _family.Globals(_family.LocalScalars(z, RowOf(_b, j), null), null)[0]
                    : RowResidual.HalfSquaredNorm(_residual, z, RowOf(_b, j), c);
                if (_w2 is not null)
                {
                    var w2 = RowOf(_w2, j);
                    for (int i = 0; i < z.Length; i++) w += w2[i] * z[i] * z[i];
                }
            }
            loss[k] = l;
            reg[k] = w;
        });
        double lossSum = 0, regSum = 0;
        for (int k = 0; k < blocks; k++) { lossSum += loss[k]; regSum += reg[k]; }
        // Per-row normalisers are local, so the shard reports a finished loss: one sum that does not scale with a shift.
        var sums = _rows == 0 ? ScalarSums.Empty(LossPowers) : new ScalarSums(0.0, new[] { lossSum }, LossPowers);
        return new ScalarsReply(sums, regSum, _rows);
    }

    /// <summary>Runs body(block, start, end, partial d×d) per block and sums the partials in block order.</summary>
    private double[] SumOverBlocks(Action<int, int, double[]> body)
    {
        var parts = new double[_blocks.BlockCount][];
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            var partial = new double[_d * _d];
            body(s, e, partial);
            parts[k] = partial;
        });
        var total = parts[0];
        for (int k = 1; k < parts.Length; k++) TensorPrimitives.Add(total, parts[k], total);
        return total;
    }

    /// <summary>partial (d×d) = A1ᵀ[:, s:e] · (R[s:e] · A2) for an (e−s)×n block R of the shard's n-wide rows.</summary>
    private void ProjectBack(double[] rowsByN, int s, int e, double[] partial)
    {
        int len = e - s, n = _n, d = _d;
        var p = _t.AsSpan(s * d, len * d);
        MatrixProducts.Gemm(len, d, n, rowsByN.AsSpan(s * n), n, _a2, d, p, d, false);
        MatrixProducts.Gemm(d, d, len, _a1T.AsSpan(s), _rows, p, d, partial, d, false);
    }

    private GradientReply Gradient(GradientRequest r)
    {
        if (r.SketchRows > 0)
            throw new NotSupportedException("a matrix problem has no row sketch (approx-newton): use newton, newton-cg, lbfgs or gd");
        EnsureTerms(r.X, r.Kind);
        var grad = SumOverBlocks((s, e, partial) => ProjectBack(_g, s, e, partial));
        return new GradientReply(grad, Array.Empty<double>(), Array.Empty<double>());
    }

    private HessianVectorReply HessianVector(HessianVectorRequest r)
    {
        EnsureTerms(r.X, r.Kind);
        if (r.V.Length != _d * _d) throw new ArgumentException($"V has {r.V.Length} entries but X is {_d}×{_d}");
        int n = _n, d = _d, lr = _lr;
        var product = SumOverBlocks((s, e, partial) =>
        {
            int len = e - s;
            // Z_V = (A1 V) A2ᵀ on rows s..e.
            MatrixProducts.Gemm(len, d, d, _a1.AsSpan(s * d), d, r.V, d, _t.AsSpan(s * d), d, false);
            MatrixProducts.Gemm(len, n, d, _t.AsSpan(s * d), d, _a2T, n, _zv.AsSpan(s * n), n, false);
            Span<double> dots = stackalloc double[lr];
            for (int j = s; j < e; j++)
            {
                // Y_j = (D_j + w_j²) ∘ Z_V,j + Σ_a (Σ_b C_j,ab ⟨q_j,b, Z_V,j⟩) q_j,a
                var y = _zv.AsSpan(j * n, n);
                var q = _q.AsSpan(j * lr * n, lr * n);
                for (int b = 0; b < lr; b++) dots[b] = TensorPrimitives.Dot(q.Slice(b * n, n), y);
                TensorPrimitives.Multiply(y, RowOf(_dw, j), y);
                for (int a = 0; a < lr; a++)
                {
                    double coef = 0;
                    for (int b = 0; b < lr; b++) coef += _c[j * lr * lr + a * lr + b] * dots[b];
                    if (coef != 0) TensorPrimitives.MultiplyAdd(q.Slice(a * n, n), coef, y, y);
                }
            }
            ProjectBack(_zv, s, e, partial);
        });
        return new HessianVectorReply(product, Array.Empty<double>());
    }

    /// <summary>
    /// The exact Hessian of the shard's rows, H = Σ_j (a1_j a1_jᵀ) ⊗ S_j with S_j = A2ᵀ B(z_j) A2 (d×d, including
    /// the row's low-rank part), as the packed upper triangle of a d²×d² matrix in row-major vec(X) order:
    /// H[(k,l),(k',l')] = Σ_j a1_jk a1_jk' S_j[l,l'].
    /// Rows are taken in fixed chunks; per chunk the S_j are stacked (chunk×d²) and, for every block row k,
    /// R_k = W_k · S with W_k[k'−k, j] = a1_jk a1_jk' (k' ≥ k) gives the blocks (k, k..d−1) — one GEMM per k,
    /// written into packed rows k·d … k·d+d−1 (disjoint across k, so the k loop runs in parallel deterministically).
    /// </summary>
    private GramReply Gram(GramRequest r)
    {
        int d = _d, n = _n, lr = _lr, dd = d * d;
        if (dd > MatrixObjective.MaxGramUnknowns)
            throw new NotSupportedException(
                $"the exact Hessian of a matrix problem is d²×d²; d = {d} gives d² = {dd} > {MatrixObjective.MaxGramUnknowns}: use newton-cg");
        EnsureTerms(r.X, r.Kind);
        var packed = new double[Packed.Length(dd)];
        const int chunkRows = 256;
        int chunk = Math.Min(chunkRows, Math.Max(_rows, 1));
        // Large scratch (stacked S_j, per-k weights and blocks) comes from the shared pool: a Gram request would
        // otherwise leave tens of large-object-heap arrays behind per call.
        var pool = System.Buffers.ArrayPool<double>.Shared;
        var stacked = pool.Rent(chunk * dd);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _compute.MaxDegreeOfParallelism) };
        try
        {
            for (int c0 = 0; c0 < _rows; c0 += chunk)
            {
                int cl = Math.Min(chunk, _rows - c0);
                // S_j = A2ᵀ diag(D_j + w_j²) A2 + Σ_ab C_j,ab (A2ᵀ q_j,a)(A2ᵀ q_j,b)ᵀ for j in the chunk.
                Parallel.For(0, cl, parallel, () => (pool.Rent(n * d), new double[Math.Max(lr, 1) * d]), (jj, _, scratch) =>
                {
                    var (scaled, low) = scratch;
                    int j = c0 + jj;
                    var dw = RowOf(_dw, j);
                    for (int i = 0; i < n; i++)
                        TensorPrimitives.Multiply(_a2.AsSpan(i * d, d), dw[i], scaled.AsSpan(i * d, d));
                    var s = stacked.AsSpan(jj * dd, dd);
                    MatrixProducts.Gemm(d, d, n, _a2T, n, scaled, d, s, d, false);
                    if (lr > 0)
                    {
                        MatrixProducts.Gemm(lr, d, n, _q.AsSpan(j * lr * n, lr * n), n, _a2, d, low, d, false);
                        for (int a = 0; a < lr; a++)
                            for (int b = 0; b < lr; b++)
                            {
                                double cab = _c[j * lr * lr + a * lr + b];
                                if (cab == 0) continue;
                                for (int l = 0; l < d; l++)
                                {
                                    double f = cab * low[a * d + l];
                                    if (f != 0) TensorPrimitives.MultiplyAdd(low.AsSpan(b * d, d), f, s.Slice(l * d, d), s.Slice(l * d, d));
                                }
                            }
                    }
                    return scratch;
                }, scratch => pool.Return(scratch.Item1));

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
                            TensorPrimitives.Add(dst.Slice(0, d - l), blocks.AsSpan(l * d + l, d - l), dst.Slice(0, d - l));
                            // Blocks (k, k'), k' > k: all columns l'.
                            for (int kk = 1; kk < width; kk++)
                            {
                                var target = dst.Slice((k + kk) * d - p, d);
                                TensorPrimitives.Add(target, blocks.AsSpan(kk * dd + l * d, d), target);
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
        }
        finally
        {
            pool.Return(stacked);
        }
        return new GramReply(packed, _rows);
    }
}
