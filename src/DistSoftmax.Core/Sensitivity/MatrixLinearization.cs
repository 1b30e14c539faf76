using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The data derivatives of a multiple softmax regression L(X) = Σ_j ℓ(z_j; B_j) + ½‖W∘M‖²_F, M = A1 X A2ᵀ (A1 m×d,
/// A2 n×d, B m×n, X d×d) in the perturbed matrices among A1, A2, B at fixed X. With G (m×n) the rows r_j = ∂L/∂z_j,
/// K_j the row curvature and T_j = ∂r_j/∂b_j (<see cref="RowCurvature"/>):
///   ∇_X L = A1ᵀ G A2,   δM = ΔA1 X A2ᵀ + A1 X ΔA2ᵀ,   δG_j = K_j δM_j + T_j ΔB_j
///   (∂∇L/∂θ)[Δ]  = ΔA1ᵀ G A2 + A1ᵀ G ΔA2 + A1ᵀ δG A2                                    (d×d)
///   adjoint of V (d×d), Z = A1 V A2ᵀ, Y_j = K_j Z_j:
///       ΔA1 ← G A2 Vᵀ + Y A2 Xᵀ,   ΔA2 ← Gᵀ A1 V + Yᵀ A1 X,   ΔB_j ← T_jᵀ Z_j
///   (∂f/∂θ)[Δ]_j = J_f,j δM_j;  adjoint of U (m×n), Y'_j = J_f,jᵀ U_j: ΔA1 ← Y' A2 Xᵀ, ΔA2 ← Y'ᵀ A1 X, ΔB ← 0
///   ∂L/∂θ: ΔA1 ← G A2 Xᵀ,  ΔA2 ← Gᵀ A1 X,  ΔB_j ← ∂ℓ_j/∂b_j
/// Dense products of O(m·n·d) each. Memory: only O((m + n)·d) is held (X A2ᵀ, A1 X, G A2, Gᵀ A1); the rows of M,
/// G, δM, δG, Z, Y and their <see cref="RowCurvature"/>s are recomputed in blocks of <see cref="ChunkEntries"/>/n rows
/// on every product (one extra (rows×d)·(d×n) product per block), so no m×n array exists beyond a product's own
/// input or output (Δθ, (∂f/∂θ)[Δ], (∂∇L/∂θ)ᵀ v), and the fixed-x output constant (<see cref="OutputNorm"/>) needs none;
/// nor do the Gram product (∂∇L/∂θ)(∂∇L/∂θ)ᵀ v of the Lanczos steps (<see cref="MixedGram"/>, its middle Δθ recomputed by
/// blocks) and ‖∂L/∂θ‖ (<see cref="LossGradientNorm"/>).
/// </summary>
public sealed class MatrixLinearization : DataLinearization
{
    /// <summary>Entries of one block of rows of an m×n quantity (2 MiB).</summary>
    public const int ChunkEntries = 1 << 18;

    private readonly MatrixProblem _p;
    private readonly IReadOnlyList<string> _parts;
    private readonly int _m, _n, _d, _chunk;
    private readonly double[] _x, _xt, _a2T, _xA2t, _a1X, _gA2, _gtA1;

    /// <param name="chunkEntries">Entries of a block of rows (at least one row per block); the results do not depend on it.</param>
    public MatrixLinearization(MatrixProblem problem, IReadOnlyList<string> parts, ReadOnlySpan<double> x, int chunkEntries = ChunkEntries)
    {
        if (chunkEntries < 1) throw new ParameterException(nameof(chunkEntries), chunkEntries, "must be at least 1");
        _p = problem;
        _parts = parts;
        _m = problem.Rows; _n = problem.A2.Rows; _d = problem.Side;
        _chunk = Math.Max(1, Math.Min(_m, chunkEntries / Math.Max(_n, 1)));
        _x = x.ToArray();
        _xt = T(_x, _d, _d);
        _a2T = T(problem.A2.Data, _n, _d);                                                   // A2ᵀ (d×n)
        _xA2t = Mul(_x, _d, _d, _a2T, _n);                                                   // X A2ᵀ (d×n)
        _a1X = Mul(problem.A1.Data, _m, _d, _x, _d);                                         // A1 X (m×d)
        _gA2 = new double[_m * _d];                                                          // G A2 (m×d)
        _gtA1 = new double[_n * _d];                                                         // Gᵀ A1 (n×d)
        var g = new double[_chunk * _n];
        foreach (var (start, len) in Chunks())
        {
            var rows = Rows(start, len, g);
            for (int jj = 0; jj < len; jj++) rows[jj].Residual.CopyTo(g, jj * _n);
            MatrixProducts.Gemm(len, _d, _n, g, _n, _p.A2.Data, _d, _gA2.AsSpan(start * _d, len * _d), _d, accumulate: false);
            MatrixProducts.Gemm(_n, _d, len, T(g, len, _n), len, _p.A1.Data.AsSpan(start * _d, len * _d), _d, _gtA1, _d, accumulate: true);
        }
    }

    public override int ParameterCount => _parts.Sum(PartSize);
    public override int Dimension => _d * _d;
    public override int OutputCount => _m * _n;
    public override IReadOnlyList<(int Rows, int Cols)> PartShapes => _parts.Select(p => p switch { "A1" => (_m, _d), "A2" => (_n, _d), _ => (_m, _n) }).ToArray();

    private int PartSize(string part) => part switch { "A1" => _m * _d, "A2" => _n * _d, _ => _m * _n };

    /// <summary>Offset of a part in Δθ, or −1 when it is not perturbed.</summary>
    private int Offset(string part)
    {
        int offset = 0;
        foreach (var name in _parts)
        {
            if (name == part) return offset;
            offset += PartSize(name);
        }
        return -1;
    }

    /// <summary>C = A B for row-major A (r×k) and B (k×c).</summary>
    private static double[] Mul(ReadOnlySpan<double> a, int r, int k, ReadOnlySpan<double> b, int c)
    {
        var result = new double[r * c];
        MatrixProducts.Gemm(r, c, k, a, k, b, c, result, c, accumulate: false);
        return result;
    }

    private static double[] T(ReadOnlySpan<double> a, int rows, int cols) => MatrixProducts.Transpose(a, rows, cols);

    /// <summary>The blocks of rows (start, length) of <see cref="_chunk"/> rows each.</summary>
    private IEnumerable<(int Start, int Length)> Chunks()
    {
        for (int start = 0; start < _m; start += _chunk) yield return (start, Math.Min(_chunk, _m - start));
    }

    /// <summary>
    /// The row curvatures of rows [start, start + len): M_j = (A1 X)_j A2ᵀ into <paramref name="work"/> (len×n,
    /// overwritten), then <see cref="RowCurvature"/> of (M_j, B_j, W_j²).
    /// </summary>
    private RowCurvature[] Rows(int start, int len, double[] work)
    {
        MatrixProducts.Gemm(len, _n, _d, _a1X.AsSpan(start * _d, len * _d), _d, _a2T, _n, work, _n, accumulate: false);
        var rows = new RowCurvature[len];
        var w2 = _p.W is null ? null : new double[_n];
        for (int jj = 0; jj < len; jj++)
        {
            int j = start + jj;
            if (w2 is not null) for (int i = 0; i < _n; i++) w2[i] = _p.W![j, i] * _p.W[j, i];
            rows[jj] = new RowCurvature(_p.RowFamily, work.AsSpan(jj * _n, _n), _p.B.Row(j), w2);
        }
        return rows;
    }

    /// <summary>δM rows [start, start + len) = ΔA1_c X A2ᵀ + (A1 X)_c ΔA2ᵀ into <paramref name="dm"/> (len×n).</summary>
    private void DeltaM(int start, int len, ReadOnlySpan<double> a1, double[]? a2t, double[] dm)
    {
        Array.Clear(dm);
        if (!a1.IsEmpty) MatrixProducts.Gemm(len, _n, _d, a1.Slice(start * _d, len * _d), _d, _xA2t, _n, dm, _n, accumulate: true);
        if (a2t is not null) MatrixProducts.Gemm(len, _n, _d, _a1X.AsSpan(start * _d, len * _d), _d, a2t, _n, dm, _n, accumulate: true);
    }

    private ReadOnlySpan<double> Part(ReadOnlySpan<double> delta, string part) =>
        Offset(part) is var o and >= 0 ? delta.Slice(o, PartSize(part)) : ReadOnlySpan<double>.Empty;

    private Span<double> Part(Span<double> delta, string part) =>
        Offset(part) is var o and >= 0 ? delta.Slice(o, PartSize(part)) : Span<double>.Empty;

    public override double[] Mixed(ReadOnlySpan<double> delta)
    {
        if (delta.Length != ParameterCount) throw new ArgumentException($"Δθ has {delta.Length} entries, expected {ParameterCount}");
        return MixedOf(Part(delta, "A1"), Part(delta, "A2"), Part(delta, "B"), null);
    }

    /// <summary>The mixed derivative of a perturbation held as its matrices (in the order of the perturbed parts), without flattening it.</summary>
    public override double[] Mixed(Perturbation delta)
    {
        if (delta.Parts.Count != _parts.Count) throw new ArgumentException($"a perturbation of {string.Join(", ", _parts)} has {_parts.Count} matrices, got {delta.Parts.Count}");
        ReadOnlySpan<double> a1 = default, a2 = default, b = default;
        for (int i = 0; i < _parts.Count; i++)
        {
            var data = SensitivityAnalysis.Dense(delta.Parts[i]).Data;
            if (data.Length != PartSize(_parts[i])) throw new ArgumentException($"Δ{_parts[i]} has {data.Length} entries, expected {PartSize(_parts[i])}");
            switch (_parts[i]) { case "A1": a1 = data; break; case "A2": a2 = data; break; default: b = data; break; }
        }
        return MixedOf(a1, a2, b, null);
    }

    /// <summary>
    /// ΔB of rows [start, start + len) into <paramref name="target"/> (len×n), given the block's row curvatures
    /// (<see cref="MixedGram"/>: ΔB_j = T_jᵀ Z_j recomputed instead of held).
    /// </summary>
    private delegate void TargetBlock(int start, int len, RowCurvature[] rows, Span<double> target);

    /// <summary>
    /// (∂∇L/∂θ)[Δ] = ΔA1ᵀ G A2 + A1ᵀ G ΔA2 + A1ᵀ δG A2 (d×d) with δG_j = K_j δM_j + T_j ΔB_j, by row blocks. ΔB comes
    /// from <paramref name="b"/> (m×n, or empty when B is not perturbed), or, when <paramref name="targetBlock"/> is
    /// given, block by block from it.
    /// </summary>
    private double[] MixedOf(ReadOnlySpan<double> a1, ReadOnlySpan<double> a2, ReadOnlySpan<double> b, TargetBlock? targetBlock)
    {
        var a2t = a2.IsEmpty ? null : T(a2, _n, _d);
        var result = new double[_d * _d];
        double[] work = new double[_chunk * _n], dm = new double[_chunk * _n], scratch = new double[_n], p = new double[_chunk * _d];
        var blockB = targetBlock is null ? null : new double[_chunk * _n];
        foreach (var (start, len) in Chunks())
        {
            var rows = Rows(start, len, work);
            ReadOnlySpan<double> bRows = ReadOnlySpan<double>.Empty;
            if (targetBlock is not null)
            {
                targetBlock(start, len, rows, blockB);
                bRows = blockB.AsSpan(0, len * _n);
            }
            else if (!b.IsEmpty) bRows = b.Slice(start * _n, len * _n);
            DeltaM(start, len, a1, a2t, dm);
            for (int jj = 0; jj < len; jj++)
            {
                var row = work.AsSpan(jj * _n, _n); // δG_j = K_j δM_j + T_j ΔB_j
                rows[jj].Curvature(dm.AsSpan(jj * _n, _n), row);
                if (!bRows.IsEmpty)
                {
                    rows[jj].TargetDerivative(bRows.Slice(jj * _n, _n), scratch);
                    SpanMath.Add(row, scratch, row);
                }
            }
            MatrixProducts.Gemm(len, _d, _n, work, _n, _p.A2.Data, _d, p, _d, accumulate: false);                     // δG_c A2
            MatrixProducts.Gemm(_d, _d, len, T(_p.A1.Data.AsSpan(start * _d, len * _d), len, _d), len, p, _d, result, _d, accumulate: true); // + A1_cᵀ δG_c A2
            if (!a1.IsEmpty)
                MatrixProducts.Gemm(_d, _d, len, T(a1.Slice(start * _d, len * _d), len, _d), len, _gA2.AsSpan(start * _d, len * _d), _d, result, _d, accumulate: true); // + ΔA1_cᵀ (G A2)_c
        }
        if (!a2.IsEmpty) MatrixProducts.Gemm(_d, _d, _n, T(_gtA1, _n, _d), _n, a2, _d, result, _d, accumulate: true); // + (A1ᵀ G) ΔA2
        return result;
    }

    public override double[] MixedAdjoint(ReadOnlySpan<double> v)
    {
        if (v.Length != Dimension) throw new ArgumentException($"V has {v.Length} entries, expected {Dimension}");
        var result = new double[ParameterCount];
        AdjointInto(v, Part(result.AsSpan(), "A1"), Part(result.AsSpan(), "A2"), Part(result.AsSpan(), "B"));
        return result;
    }

    /// <summary>(∂∇L/∂θ)ᵀ V written straight into one array per perturbed matrix (no p-entry array to split).</summary>
    public override Perturbation MixedAdjointParts(ReadOnlySpan<double> v)
    {
        if (v.Length != Dimension) throw new ArgumentException($"V has {v.Length} entries, expected {Dimension}");
        var shapes = PartShapes;
        var data = shapes.Select(s => new double[s.Rows * s.Cols]).ToArray();
        double[] Of(string part)
        {
            for (int i = 0; i < _parts.Count; i++) if (_parts[i] == part) return data[i];
            return Array.Empty<double>();
        }
        AdjointInto(v, Of("A1"), Of("A2"), Of("B"));
        return new Perturbation(shapes.Select((s, i) => (IRowMatrix)new DenseMatrix(s.Rows, s.Cols, data[i])).ToList());
    }

    /// <summary>
    /// (∂∇L/∂θ)ᵀ V by row blocks into the parts given (each zero on entry; an empty span is not computed): Z = A1 V A2ᵀ,
    /// Y_j = K_j Z_j, ΔA1 ← G A2 Vᵀ + Y A2 Xᵀ, ΔA2 ← Gᵀ A1 V + Yᵀ A1 X, ΔB_j ← T_jᵀ Z_j.
    /// </summary>
    private void AdjointInto(ReadOnlySpan<double> v, Span<double> a1, Span<double> a2, Span<double> b)
    {
        var vt = T(v, _d, _d);
        if (!a2.IsEmpty) MatrixProducts.Gemm(_n, _d, _d, _gtA1, _d, v, _d, a2, _d, accumulate: false);             // Gᵀ A1 V
        double[] work = new double[_chunk * _n], z = new double[_chunk * _n], t = new double[_chunk * _d], ya2 = new double[_chunk * _d];
        foreach (var (start, len) in Chunks())
        {
            var rows = Rows(start, len, work);
            MatrixProducts.Gemm(len, _d, _d, _p.A1.Data.AsSpan(start * _d, len * _d), _d, v, _d, t, _d, accumulate: false); // A1_c V
            MatrixProducts.Gemm(len, _n, _d, t, _d, _a2T, _n, z, _n, accumulate: false);                                      // Z_c = A1_c V A2ᵀ
            for (int jj = 0; jj < len; jj++)
            {
                rows[jj].Curvature(z.AsSpan(jj * _n, _n), work.AsSpan(jj * _n, _n));                                          // Y_j = K_j Z_j
                if (!b.IsEmpty) rows[jj].TargetDerivative(z.AsSpan(jj * _n, _n), b.Slice((start + jj) * _n, _n), transpose: true);
            }
            if (!a1.IsEmpty)
            {
                var rowsA1 = a1.Slice(start * _d, len * _d);
                MatrixProducts.Gemm(len, _d, _d, _gA2.AsSpan(start * _d, len * _d), _d, vt, _d, rowsA1, _d, accumulate: false); // (G A2)_c Vᵀ
                MatrixProducts.Gemm(len, _d, _n, work, _n, _p.A2.Data, _d, ya2, _d, accumulate: false);
                MatrixProducts.Gemm(len, _d, _d, ya2, _d, _xt, _d, rowsA1, _d, accumulate: true);                              // + Y_c A2 Xᵀ
            }
            if (!a2.IsEmpty)
                MatrixProducts.Gemm(_n, _d, len, T(work, len, _n), len, _a1X.AsSpan(start * _d, len * _d), _d, a2, _d, accumulate: true); // + Y_cᵀ (A1 X)_c
        }
    }

    /// <summary>
    /// (∂∇L/∂θ)(∂∇L/∂θ)ᵀ V without the p-entry Δθ = (∂∇L/∂θ)ᵀ V: its small parts ΔA1 (m×d), ΔA2 (n×d) first, by one
    /// pass over the row blocks (they are needed whole: every block's δM uses all of ΔA2); then the mixed derivative by
    /// a second pass, in which each block's ΔB_c = T_cᵀ Z_c (len×n, Z_c = A1_c V A2ᵀ) is recomputed from the block's own
    /// row curvatures and dropped after use. The same operations as <see cref="Mixed(ReadOnlySpan{double})"/> of
    /// <see cref="MixedAdjoint"/> on the same blocks, so the same numbers; memory O((m + n)·d) plus a block, against p
    /// entries (m·n + (m + n)·d: 553 MB at an n = 8192, d = 128 attention head). Costs one more (len×d)·(d×n) product per block.
    /// </summary>
    public override double[] MixedGram(ReadOnlySpan<double> v)
    {
        if (v.Length != Dimension) throw new ArgumentException($"V has {v.Length} entries, expected {Dimension}");
        var a1 = Offset("A1") >= 0 ? new double[_m * _d] : Array.Empty<double>();
        var a2 = Offset("A2") >= 0 ? new double[_n * _d] : Array.Empty<double>();
        if (a1.Length + a2.Length > 0) AdjointInto(v, a1, a2, Span<double>.Empty);
        if (Offset("B") < 0) return MixedOf(a1, a2, ReadOnlySpan<double>.Empty, null);
        var vv = v.ToArray();
        double[] t = new double[_chunk * _d], z = new double[_chunk * _n];
        void TargetAdjoint(int start, int len, RowCurvature[] rows, Span<double> target)
        {
            MatrixProducts.Gemm(len, _d, _d, _p.A1.Data.AsSpan(start * _d, len * _d), _d, vv, _d, t, _d, accumulate: false); // A1_c V
            MatrixProducts.Gemm(len, _n, _d, t, _d, _a2T, _n, z, _n, accumulate: false);                                       // Z_c = A1_c V A2ᵀ
            for (int jj = 0; jj < len; jj++) rows[jj].TargetDerivative(z.AsSpan(jj * _n, _n), target.Slice(jj * _n, _n), transpose: true); // ΔB_j = T_jᵀ Z_j
        }
        return MixedOf(a1, a2, ReadOnlySpan<double>.Empty, TargetAdjoint);
    }

    public override double[] Output(ReadOnlySpan<double> delta)
    {
        if (delta.Length != ParameterCount) throw new ArgumentException($"Δθ has {delta.Length} entries, expected {ParameterCount}");
        ReadOnlySpan<double> a1 = Part(delta, "A1"), a2 = Part(delta, "A2");
        var a2t = a2.IsEmpty ? null : T(a2, _n, _d);
        var result = new double[_m * _n];
        double[] work = new double[_chunk * _n], dm = new double[_chunk * _n];
        foreach (var (start, len) in Chunks())
        {
            var rows = Rows(start, len, work);
            DeltaM(start, len, a1, a2t, dm);
            for (int jj = 0; jj < len; jj++) rows[jj].OutputJacobian(dm.AsSpan(jj * _n, _n), result.AsSpan((start + jj) * _n, _n));
        }
        return result;
    }

    public override double[] OutputAdjoint(ReadOnlySpan<double> u)
    {
        if (u.Length != OutputCount) throw new ArgumentException($"U has {u.Length} entries, expected {OutputCount}");
        var result = new double[ParameterCount];
        double[] work = new double[_chunk * _n];
        foreach (var (start, len) in Chunks())
        {
            var rows = Rows(start, len, work);
            for (int jj = 0; jj < len; jj++) rows[jj].OutputJacobian(u.Slice((start + jj) * _n, _n), work.AsSpan(jj * _n, _n), transpose: true);
            FromZSpace(start, len, work, result);
        }
        return result;
    }

    /// <summary>(ΔA1_c, ΔA2) ← (Y_c A2 Xᵀ, ΔA2 + Y_cᵀ (A1 X)_c) for a z-space block Y_c (len×n) of rows [start, start + len).</summary>
    private void FromZSpace(int start, int len, double[] y, double[] result)
    {
        Span<double> a1 = Part(result.AsSpan(), "A1"), a2 = Part(result.AsSpan(), "A2");
        if (!a1.IsEmpty)
        {
            var ya2 = new double[len * _d];
            MatrixProducts.Gemm(len, _d, _n, y, _n, _p.A2.Data, _d, ya2, _d, accumulate: false);
            MatrixProducts.Gemm(len, _d, _d, ya2, _d, _xt, _d, a1.Slice(start * _d, len * _d), _d, accumulate: false);
        }
        if (!a2.IsEmpty)
            MatrixProducts.Gemm(_n, _d, len, T(y, len, _n), len, _a1X.AsSpan(start * _d, len * _d), _d, a2, _d, accumulate: true);
    }

    public override double[] LossGradient()
    {
        var result = new double[ParameterCount];
        Span<double> a1 = Part(result.AsSpan(), "A1"), a2 = Part(result.AsSpan(), "A2"), b = Part(result.AsSpan(), "B");
        if (!a1.IsEmpty) MatrixProducts.Gemm(_m, _d, _d, _gA2, _d, _xt, _d, a1, _d, accumulate: false);   // G A2 Xᵀ
        if (!a2.IsEmpty) MatrixProducts.Gemm(_n, _d, _d, _gtA1, _d, _x, _d, a2, _d, accumulate: false);   // Gᵀ A1 X
        if (!b.IsEmpty)
        {
            var work = new double[_chunk * _n];
            foreach (var (start, len) in Chunks())
            {
                var rows = Rows(start, len, work);
                for (int jj = 0; jj < len; jj++) rows[jj].TargetGradient().CopyTo(b.Slice((start + jj) * _n, _n));
            }
        }
        return result;
    }

    /// <summary>
    /// ‖∂L/∂θ‖ without the p-entry gradient: √(‖G A2 Xᵀ‖²_F + ‖Gᵀ A1 X‖²_F + Σ_j ‖∂ℓ_j/∂b_j‖²) over the perturbed
    /// parts, the B part's rows summed by blocks (equal to the norm of <see cref="LossGradient"/> up to the order of the sum).
    /// </summary>
    public override double LossGradientNorm()
    {
        double squares = 0;
        if (Offset("A1") >= 0)
        {
            var a1 = new double[_m * _d];
            MatrixProducts.Gemm(_m, _d, _d, _gA2, _d, _xt, _d, a1, _d, accumulate: false);                  // G A2 Xᵀ
            squares += SpanMath.SumOfSquares(a1);
        }
        if (Offset("A2") >= 0)
        {
            var a2 = new double[_n * _d];
            MatrixProducts.Gemm(_n, _d, _d, _gtA1, _d, _x, _d, a2, _d, accumulate: false);                  // Gᵀ A1 X
            squares += SpanMath.SumOfSquares(a2);
        }
        if (Offset("B") >= 0)
        {
            var work = new double[_chunk * _n];
            foreach (var (start, len) in Chunks())
            {
                var rows = Rows(start, len, work);
                for (int jj = 0; jj < len; jj++) squares += SpanMath.SumOfSquares(rows[jj].TargetGradient()); // ‖∂ℓ_j/∂b_j‖²
            }
        }
        return Math.Sqrt(squares);
    }

    /// <summary>
    /// ‖∂f/∂θ‖₂ without an m×n vector: f does not depend on B at fixed X, so the norm is that of F restricted to the
    /// perturbed ΔA1, ΔA2 (q = their entries), the square root of λ_max(FᵀF) by Lanczos (<see cref="OperatorNorm.LargestEigenvalue"/>)
    /// with FᵀF v streamed by row blocks: δM_c, U_j = J_f,j δM_j, Y_j = J_f,jᵀ U_j, then ΔA1_c ← Y_c A2 Xᵀ, ΔA2 += Y_cᵀ (A1 X)_c.
    /// </summary>
    public override (double Norm, int Steps) OutputNorm(ulong seed)
    {
        int q1 = _parts.Contains("A1") ? _m * _d : 0, q2 = _parts.Contains("A2") ? _n * _d : 0;
        if (q1 + q2 == 0) return (0, 0);
        double[] Gram(double[] v)
        {
            ReadOnlySpan<double> a1 = v.AsSpan(0, q1), a2 = v.AsSpan(q1, q2);
            var a2t = q2 == 0 ? null : T(a2, _n, _d);
            var result = new double[q1 + q2];
            Span<double> r1 = result.AsSpan(0, q1), r2 = result.AsSpan(q1, q2);
            double[] work = new double[_chunk * _n], dm = new double[_chunk * _n], u = new double[_n], ya2 = new double[_chunk * _d];
            foreach (var (start, len) in Chunks())
            {
                var rows = Rows(start, len, work);
                DeltaM(start, len, a1, a2t, dm);
                for (int jj = 0; jj < len; jj++)
                {
                    rows[jj].OutputJacobian(dm.AsSpan(jj * _n, _n), u);
                    rows[jj].OutputJacobian(u, work.AsSpan(jj * _n, _n), transpose: true);
                }
                if (q1 > 0)
                {
                    MatrixProducts.Gemm(len, _d, _n, work, _n, _p.A2.Data, _d, ya2, _d, accumulate: false);
                    MatrixProducts.Gemm(len, _d, _d, ya2, _d, _xt, _d, r1.Slice(start * _d, len * _d), _d, accumulate: false);
                }
                if (q2 > 0)
                    MatrixProducts.Gemm(_n, _d, len, T(work, len, _n), len, _a1X.AsSpan(start * _d, len * _d), _d, r2, _d, accumulate: true);
            }
            return result;
        }
        var (value, steps) = OperatorNorm.LargestEigenvalue(Gram, q1 + q2, seed);
        return (Math.Sqrt(Math.Max(value, 0)), steps);
    }
}
