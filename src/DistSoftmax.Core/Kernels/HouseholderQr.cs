using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// R factors of thin QR decompositions, Q never formed, R returned as a packed upper triangle (see <see cref="Packed"/>).
///
/// <see cref="PackedR"/>: blocked Householder QR of an m×d matrix (m ≥ d). Columns are reduced in panels of
/// <see cref="PanelWidth"/>: inside a panel reflector H_k = I − τ_k v_k v_kᵀ (v_k = x − α e_k, α = −sign(x₀)‖x‖,
/// τ_k = 2/‖v_k‖²) is applied column by column; the panel's product H_k0 ⋯ H_k0+b−1 = I − V T Vᵀ (compact WY, T b×b upper
/// triangular) is then applied to the trailing columns as C ← C − V (Tᵀ (Vᵀ C)), two matrix products on register
/// tiles, the trailing columns split over threads. Flops ≈ 2md² − ⅔d³, almost all in those products.
///
/// <see cref="MergePacked"/>: R of the stacked [R₁; R₂] (2d×d) of two upper triangles (the TSQR merge): reflector k
/// touches only row k of the top triangle and rows 0…k of the bottom one, so the structure is kept and the merge
/// costs ≈ ⅔d³ flops instead of the ≈ 3⅓d³ of a dense 2d×d QR.
///
/// In both RᵀR equals the input's Gram matrix to rounding (the diagonal of R may have either sign).
/// Results depend only on the inputs, never on the number of threads: every column is updated by the same
/// sequence of operations whichever thread owns it.
/// </summary>
public static class HouseholderQr
{
    /// <summary>Columns per panel of the blocked QR (V is (m − k)×32: 1 MB for m = 4000, kept in L2).</summary>
    public const int PanelWidth = 32;

    /// <summary>Trailing columns handed to one thread at a time.</summary>
    private const int ColumnsPerTask = 16;

    /// <summary>Below this many flops of a trailing update (or merge step) threads cost more than they save.</summary>
    private const double ParallelFlops = 2e6;

    /// <summary>Packed upper-triangular R (d(d+1)/2) of a thin QR of the m×d row-major matrix <paramref name="a"/> (m ≥ d).</summary>
    public static double[] PackedR(ReadOnlySpan<double> a, int m, int d, int maxThreads = 0)
    {
        if (m < d) throw new ArgumentException($"QR needs at least as many rows as columns ({m} < {d})");
        if ((long)m * d > int.MaxValue) throw new ArgumentException("matrix too large for QR");
        if (a.Length < m * d) throw new ArgumentException($"A has {a.Length} entries, fewer than {m}×{d}");
        var cols = new double[m * d];
        Transpose(a, m, d, cols);
        var diag = new double[d];
        Factor(cols, m, d, diag, Threads(maxThreads));
        return PackR(cols, m, d, diag);
    }

    /// <summary>
    /// As <see cref="PackedR"/> for a matrix given column-major (column j at j·m), factored in place: the array is
    /// overwritten (no copy of the m×d input is made).
    /// </summary>
    public static double[] PackedRInPlace(double[] columns, int m, int d, int maxThreads = 0)
    {
        if (m < d) throw new ArgumentException($"QR needs at least as many rows as columns ({m} < {d})");
        if (columns.Length < (long)m * d) throw new ArgumentException($"A has {columns.Length} entries, fewer than {m}×{d}");
        var diag = new double[d];
        Factor(columns, m, d, diag, Threads(maxThreads));
        return PackR(columns, m, d, diag);
    }

    private static double[] PackR(double[] cols, int m, int d, double[] diag)
    {
        var r = new double[Packed.Length(d)];
        int p = 0;
        for (int i = 0; i < d; i++)
        {
            r[p++] = diag[i];
            for (int j = i + 1; j < d; j++) r[p++] = cols[j * m + i];
        }
        return r;
    }

    /// <summary>Row-major m×d into column-major (column j at j·m), in 32×32 tiles so both sides stay in cache.</summary>
    private static void Transpose(ReadOnlySpan<double> a, int m, int d, double[] cols)
    {
        const int tile = 32;
        for (int i0 = 0; i0 < m; i0 += tile)
            for (int j0 = 0; j0 < d; j0 += tile)
            {
                int i1 = Math.Min(m, i0 + tile), j1 = Math.Min(d, j0 + tile);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++) cols[j * m + i] = a[i * d + j];
            }
    }

    private static int Threads(int maxThreads) => maxThreads > 0 ? maxThreads : Environment.ProcessorCount;

    /// <summary>
    /// In-place blocked Householder QR of the column-major m×d <paramref name="a"/>: afterwards R_kk = diag[k] and
    /// R_kj = a[j·m + k] for j &gt; k (the reflectors' vectors sit on and below the diagonal).
    /// </summary>
    private static void Factor(double[] a, int m, int d, double[] diag, int threads)
    {
        var tau = new double[PanelWidth];
        var t = new double[PanelWidth * PanelWidth];
        double[]? v = null;
        for (int k0 = 0; k0 < d; k0 += PanelWidth)
        {
            int b = Math.Min(PanelWidth, d - k0), len = m - k0;
            for (int k = k0; k < k0 + b; k++)
            {
                var x = a.AsSpan(k * m + k, m - k);
                double norm = SpanMath.Norm(x);
                if (norm == 0) { tau[k - k0] = 0; diag[k] = 0; continue; }
                double alpha = x[0] > 0 ? -norm : norm;
                x[0] -= alpha;                                              // v = x − α e₁
                double tk = 2 / SpanMath.Dot(x, x);
                tau[k - k0] = tk;
                diag[k] = alpha;
                for (int j = k + 1; j < k0 + b; j++)
                {
                    var c = a.AsSpan(j * m + k, m - k);
                    SpanMath.MultiplyAdd(x, -tk * SpanMath.Dot(x, c), c, c);   // c −= τ v (vᵀc)
                }
            }
            int trailing = d - k0 - b;
            if (trailing == 0) break;

            // V: len×b column-major, column i = v_{k0+i} (zero above row i).
            v ??= new double[m * PanelWidth];
            var vp = v.AsSpan(0, len * b);
            vp.Clear();
            for (int i = 0; i < b; i++)
                a.AsSpan((k0 + i) * m + k0 + i, len - i).CopyTo(vp.Slice(i * len + i, len - i));
            BuildT(v, len, b, tau, t);

            var vArr = v; var tArr = t;
            int groups = (trailing + ColumnsPerTask - 1) / ColumnsPerTask;
            void Update(int g)
            {
                int j0 = k0 + b + g * ColumnsPerTask, j1 = Math.Min(d, j0 + ColumnsPerTask);
                ApplyBlockReflector(a, m, k0, j0, j1, vArr, len, b, tArr);
            }
            if (threads > 1 && groups > 1 && 4.0 * len * b * trailing > ParallelFlops)
                Parallel.For(0, groups, new ParallelOptions { MaxDegreeOfParallelism = threads }, Update);
            else
                for (int g = 0; g < groups; g++) Update(g);
        }
    }

    /// <summary>
    /// T (b×b upper, row-major with stride PanelWidth) of H_0 ⋯ H_{b−1} = I − V T Vᵀ:
    /// T_ii = τ_i and T[0:i, i] = −τ_i T[0:i, 0:i] (V[:, 0:i]ᵀ v_i).
    /// </summary>
    private static void BuildT(double[] v, int len, int b, double[] tau, double[] t)
    {
        Array.Clear(t);
        Span<double> w = stackalloc double[PanelWidth];
        for (int i = 0; i < b; i++)
        {
            var vi = v.AsSpan(i * len + i, len - i);
            for (int l = 0; l < i; l++) w[l] = SpanMath.Dot(v.AsSpan(l * len + i, len - i), vi);
            for (int l = 0; l < i; l++)
            {
                double s = 0;
                for (int q = l; q < i; q++) s += t[l * PanelWidth + q] * w[q];
                t[l * PanelWidth + i] = -tau[i] * s;
            }
            t[i * PanelWidth + i] = tau[i];
        }
    }

    /// <summary>
    /// Columns [j0, j1) of the column-major <paramref name="a"/>, rows k0…m−1: C ← C − V (Tᵀ (Vᵀ C)).
    /// </summary>
    private static void ApplyBlockReflector(double[] a, int m, int k0, int j0, int j1, double[] v, int len, int b, double[] t)
    {
        Span<double> w = stackalloc double[PanelWidth * 4];
        Span<double> wt = stackalloc double[PanelWidth * 4];
        for (int j = j0; j < j1; j += 4)
        {
            int nc = Math.Min(4, j1 - j);
            // W = Vᵀ C (b×nc, stored column by column: w[c·b + i]).
            ref double c0 = ref a[j * m + k0];
            ref double c1 = ref a[(j + Math.Min(1, nc - 1)) * m + k0];
            ref double c2 = ref a[(j + Math.Min(2, nc - 1)) * m + k0];
            ref double c3 = ref a[(j + Math.Min(3, nc - 1)) * m + k0];
            for (int i = 0; i < b; i += 4)
            {
                int ni = Math.Min(4, b - i);
                Dots4x4(ref v[i * len], ref v[(i + Math.Min(1, ni - 1)) * len], ref v[(i + Math.Min(2, ni - 1)) * len],
                    ref v[(i + Math.Min(3, ni - 1)) * len], ref c0, ref c1, ref c2, ref c3, len, w, i, b, ni, nc);
            }
            // W' = −Tᵀ W (T upper: W'_i = −Σ_{l ≤ i} T_li W_l).
            for (int c = 0; c < nc; c++)
                for (int i = 0; i < b; i++)
                {
                    double s = 0;
                    for (int l = 0; l <= i; l++) s += t[l * PanelWidth + i] * w[c * b + l];
                    wt[c * b + i] = -s;
                }
            // C += V W'.
            UpdateColumns(ref v[0], len, b, wt, ref c0, ref c1, ref c2, ref c3, nc);
        }
    }

    /// <summary>w[c·b + i + r] = v_{i+r}ᵀ c_c for r &lt; ni, c &lt; nc: 16 dot products sharing every load.</summary>
    private static void Dots4x4(ref double v0, ref double v1, ref double v2, ref double v3,
        ref double c0, ref double c1, ref double c2, ref double c3, int len, Span<double> w, int i, int b, int ni, int nc)
    {
        Span<double> sums = stackalloc double[16];
        DotBlock.FourByFour(ref v0, ref v1, ref v2, ref v3, ref c0, ref c1, ref c2, ref c3, len, sums);
        for (int q = 0; q < ni; q++)
            for (int c = 0; c < nc; c++) w[c * b + i + q] = sums[q * 4 + c];
    }

    /// <summary>c_c += Σ_i v_i wt[c·b + i] for the nc columns, four at a time per row chunk.</summary>
    private static void UpdateColumns(ref double v, int len, int b, ReadOnlySpan<double> wt,
        ref double c0, ref double c1, ref double c2, ref double c3, int nc)
    {
        // Missing columns alias the last one: compute all four, store only nc (stores in reverse so the real column wins).
        ref double w0 = ref MemoryMarshal.GetReference(wt);
        int o1 = Math.Min(1, nc - 1) * b, o2 = Math.Min(2, nc - 1) * b, o3 = Math.Min(3, nc - 1) * b;
        int r = 0;
        for (; r + 4 <= len; r += 4)
        {
            var x0 = Vector256.LoadUnsafe(ref c0, (nuint)r); var x1 = Vector256.LoadUnsafe(ref c1, (nuint)r);
            var x2 = Vector256.LoadUnsafe(ref c2, (nuint)r); var x3 = Vector256.LoadUnsafe(ref c3, (nuint)r);
            for (int i = 0; i < b; i++)
            {
                var y = Vector256.LoadUnsafe(ref v, (nuint)(i * len + r));
                x0 = Vector256.FusedMultiplyAdd(y, Vector256.Create(Unsafe.Add(ref w0, i)), x0);
                x1 = Vector256.FusedMultiplyAdd(y, Vector256.Create(Unsafe.Add(ref w0, o1 + i)), x1);
                x2 = Vector256.FusedMultiplyAdd(y, Vector256.Create(Unsafe.Add(ref w0, o2 + i)), x2);
                x3 = Vector256.FusedMultiplyAdd(y, Vector256.Create(Unsafe.Add(ref w0, o3 + i)), x3);
            }
            if (nc > 3) x3.StoreUnsafe(ref c3, (nuint)r);
            if (nc > 2) x2.StoreUnsafe(ref c2, (nuint)r);
            if (nc > 1) x1.StoreUnsafe(ref c1, (nuint)r);
            x0.StoreUnsafe(ref c0, (nuint)r);
        }
        for (; r < len; r++)
        {
            double x0 = Unsafe.Add(ref c0, r), x1 = Unsafe.Add(ref c1, r), x2 = Unsafe.Add(ref c2, r), x3 = Unsafe.Add(ref c3, r);
            for (int i = 0; i < b; i++)
            {
                double y = Unsafe.Add(ref v, i * len + r);
                x0 += y * Unsafe.Add(ref w0, i); x1 += y * Unsafe.Add(ref w0, o1 + i);
                x2 += y * Unsafe.Add(ref w0, o2 + i); x3 += y * Unsafe.Add(ref w0, o3 + i);
            }
            if (nc > 3) Unsafe.Add(ref c3, r) = x3;
            if (nc > 2) Unsafe.Add(ref c2, r) = x2;
            if (nc > 1) Unsafe.Add(ref c1, r) = x1;
            Unsafe.Add(ref c0, r) = x0;
        }
    }

    /// <summary>
    /// Packed R of the QR of the stacked [R₁; R₂] for two packed upper triangles of dimension d (the TSQR merge);
    /// R̃ᵀR̃ = R₁ᵀR₁ + R₂ᵀR₂ to rounding.
    /// </summary>
    public static double[] MergePacked(ReadOnlySpan<double> r1, ReadOnlySpan<double> r2, int d, int maxThreads = 0)
    {
        int len = Packed.Length(d);
        if (r1.Length != len || r2.Length != len)
            throw new ArgumentException($"triangles of {r1.Length} and {r2.Length} entries cannot be merged as {d}×{d}");
        int threads = Threads(maxThreads);
        // Top: R₁ packed (row k of it is touched only by reflector k, so it can stay packed and becomes R).
        var top = r1.ToArray();
        // Bottom: R₂ column-major, column j holding rows 0…j (offset j(j+1)/2).
        var bottom = new double[len];
        {
            int p = 0;
            for (int i = 0; i < d; i++)
                for (int j = i; j < d; j++) bottom[ColumnOffset(j) + i] = r2[p++];
        }
        int rowStart = 0;
        for (int k = 0; k < d; k++)
        {
            int rowLen = d - k;
            double x0 = top[rowStart];
            var x = bottom.AsSpan(ColumnOffset(k), k + 1);
            double sq = SpanMath.Dot(x, x);
            double norm = Math.Sqrt(x0 * x0 + sq);
            if (norm == 0 || sq == 0)
            {
                rowStart += rowLen;                                           // nothing below the diagonal: H_k = I
                continue;
            }
            double alpha = x0 > 0 ? -norm : norm;
            double v0 = x0 - alpha;
            double tk = 2 / (v0 * v0 + sq);
            top[rowStart] = alpha;
            var topArr = top; var botArr = bottom; int rs = rowStart, kk = k;
            void Column(int j)
            {
                var c = botArr.AsSpan(ColumnOffset(j), kk + 1);
                var vx = botArr.AsSpan(ColumnOffset(kk), kk + 1);
                ref double tj = ref topArr[rs + (j - kk)];
                double s = tk * (v0 * tj + SpanMath.Dot(vx, c));
                tj -= s * v0;
                SpanMath.MultiplyAdd(vx, -s, c, c);
            }
            int columns = d - k - 1;
            if (threads > 1 && 4.0 * (k + 2) * columns > ParallelFlops)
            {
                int chunks = Math.Min(columns, threads * 4);
                Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, q =>
                {
                    int a0 = k + 1 + (int)((long)columns * q / chunks), a1 = k + 1 + (int)((long)columns * (q + 1) / chunks);
                    for (int j = a0; j < a1; j++) Column(j);
                });
            }
            else
                for (int j = k + 1; j < d; j++) Column(j);
            rowStart += rowLen;
        }
        return top;
    }

    /// <summary>Offset of column j in column-major packed upper storage (columns of lengths 1, 2, …).</summary>
    private static int ColumnOffset(int j) => j * (j + 1) / 2;
}
