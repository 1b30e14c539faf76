using DistSoftmax.Core;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// BLAS-named kernels on row-major dense blocks A (rows×d, contiguous). Each is written once, generic over
/// <see cref="ILanes{TVector}"/>, and runs with 512-bit registers where the hardware accelerates them, else 256-bit;
/// columns left over after the wide loop take one 256-bit step and then scalar steps. Rows are blocked four at a
/// time so a row is read once while its operands stay in registers/L1, and every multiply-add is fused.
/// All loops are fixed in order, so on one machine results are deterministic.
/// </summary>
public static class DenseKernels
{
    /// <summary>Whether the 512-bit kernels are in use (reported by the benchmarks).</summary>
    public static bool Wide => Vector512.IsHardwareAccelerated;

    /// <summary>y[i] = a_iᵀ x for the rows of A (GEMV).</summary>
    public static void Gemv(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> x, Span<double> y) =>
        Gemv(a, rows, d, x, y, Wide);

    /// <summary>The kernels take the register width explicitly so tests can check both on one machine.</summary>
    internal static void Gemv(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> x, Span<double> y, bool wide)
    {
        Check(a, rows, d); CheckLength(x, d, "x"); CheckLength(y, rows, "y");
        if (wide) Gemv<Lanes512, Vector512<double>>(a, rows, d, x, y);
        else Gemv<Lanes256, Vector256<double>>(a, rows, d, x, y);
    }

    /// <summary>aᵀx.</summary>
    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> x) => SpanMath.Dot(a, x);

    /// <summary>acc += Aᵀ v (GEMV with A transposed): acc_j += Σ_i v_i a_ij.</summary>
    public static void GemvTransposed(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> v, Span<double> acc) =>
        GemvTransposedMany(a, rows, d, v, 1, acc);

    /// <summary>
    /// acc_c += Aᵀ v_c for c = 0…k−1 at once: v is k×rows and acc k×d, both row-major. Each row of A is loaded once
    /// for up to three right-hand sides (larger k goes in groups of three), so a pass that needs several
    /// transposed products (a gradient basis, the low-rank vectors) reads the block once instead of k times.
    /// </summary>
    public static void GemvTransposedMany(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> v, int k, Span<double> acc) =>
        GemvTransposedMany(a, rows, d, v, k, acc, Wide);

    internal static void GemvTransposedMany(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> v, int k, Span<double> acc, bool wide)
    {
        Check(a, rows, d); CheckLength(v, k * rows, "v"); CheckLength(acc, k * d, "acc");
        for (int c = 0; c < k;)
        {
            int group = Math.Min(3, k - c);
            var vg = v.Slice(c * rows, group * rows);
            var ag = acc.Slice(c * d, group * d);
            if (wide)
            {
                if (group == 3) GemvT<Lanes512, Vector512<double>, Three>(a, rows, d, vg, ag);
                else if (group == 2) GemvT<Lanes512, Vector512<double>, Two>(a, rows, d, vg, ag);
                else GemvT<Lanes512, Vector512<double>, One>(a, rows, d, vg, ag);
            }
            else
            {
                if (group == 3) GemvT<Lanes256, Vector256<double>, Three>(a, rows, d, vg, ag);
                else if (group == 2) GemvT<Lanes256, Vector256<double>, Two>(a, rows, d, vg, ag);
                else GemvT<Lanes256, Vector256<double>, One>(a, rows, d, vg, ag);
            }
            c += group;
        }
    }

    /// <summary>y += α x.</summary>
    public static void Axpy(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        if (alpha != 0) SpanMath.MultiplyAdd(x, alpha, y, y);
    }

    /// <summary>
    /// τ_i = Σ_c (a_iᵀ y_c)² for the rows of A and the k columns y_c of the projection: the squared norms of the
    /// rows of A·Y (a GEMM with k columns). Y comes packed in panels of one register width (see
    /// <see cref="ProjectionPanels"/>), so each a_ij is broadcast once against a register of Y's row j and each row
    /// needs one horizontal sum per two panels instead of one per column.
    /// </summary>
    public static void ProjectedSquaredNorms(ReadOnlySpan<double> a, int rows, int d, ProjectionPanels y, Span<double> tau)
    {
        Check(a, rows, d); CheckLength(tau, rows, "τ");
        if (y.D != d) throw new ArgumentException($"the projection has {y.D} rows but A has {d} columns");
        if (y.Wide) ProjectedSquaredNorms<Lanes512, Vector512<double>>(a, rows, default, d, y, tau);
        else ProjectedSquaredNorms<Lanes256, Vector256<double>>(a, rows, default, d, y, tau);
    }

    /// <summary>
    /// τ_t = ‖a_{rows[t]}ᵀ Y‖² for the listed rows of the row-major A (any order, repeats allowed), read where they
    /// lie: the leverage pass refines a scattered subset of each tile (46 % of the rows at n = 400000, d = 400), and
    /// copying those rows into a block first took as long as projecting them (perf: 5.4 % of the whole solve's CPU in
    /// that copy). The same arithmetic, in the same order, as <see cref="ProjectedSquaredNorms(ReadOnlySpan{double}, int, int, ProjectionPanels, Span{double})"/>
    /// on the gathered rows.
    /// </summary>
    public static void ProjectedSquaredNorms(ReadOnlySpan<double> a, ReadOnlySpan<int> rows, int d, ProjectionPanels y, Span<double> tau)
    {
        CheckLength(tau, rows.Length, "τ");
        if (y.D != d) throw new ArgumentException($"the projection has {y.D} rows but A has {d} columns");
        long available = d == 0 ? 0 : a.Length / d;
        foreach (int r in rows)
            if ((uint)r >= available) throw new ArgumentException($"row {r} is outside A's {available} rows");
        if (rows.IsEmpty) return;
        if (y.Wide) ProjectedSquaredNorms<Lanes512, Vector512<double>>(a, rows.Length, rows, d, y, tau);
        else ProjectedSquaredNorms<Lanes256, Vector256<double>>(a, rows.Length, rows, d, y, tau);
    }

    /// <summary>
    /// S_{bucket[i]} += weight[i]·a_i for the rows of A into the rows of the row-major sketch S (m×d): the
    /// scattered update of a CountSketch, inlined so each row costs one vectorised read-modify-write of its bucket.
    /// </summary>
    public static void ScatterRows(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<int> bucket, ReadOnlySpan<double> weight, Span<double> sketch) =>
        ScatterRows(a, rows, d, bucket, weight, sketch, Wide);

    internal static void ScatterRows(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<int> bucket, ReadOnlySpan<double> weight, Span<double> sketch, bool wide)
    {
        Check(a, rows, d); CheckLength(bucket, rows, "bucket"); CheckLength(weight, rows, "weight");
        uint buckets = (uint)(sketch.Length / Math.Max(d, 1));
        for (int i = 0; i < rows; i++)
            if ((uint)bucket[i] >= buckets)
                throw new ArgumentException($"bucket {bucket[i]} of row {i} is outside the sketch");
        if (wide) ScatterRows<Lanes512, Vector512<double>>(a, rows, d, bucket, weight, sketch);
        else ScatterRows<Lanes256, Vector256<double>>(a, rows, d, bucket, weight, sketch);
    }

    /// <summary>
    /// C += Aᵀ diag(w) A on the upper triangle of the d×d row-major C (SYRK), four rows per sweep of C so that
    /// C is read and written a quarter as often as with rank-one updates.
    /// </summary>
    public static void SyrkUpper(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<double> c) =>
        SyrkUpper(a, rows, d, w, c, Wide);

    internal static void SyrkUpper(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<double> c, bool wide)
    {
        Check(a, rows, d); CheckLength(w, rows, "w"); CheckLength(c, d * d, "C");
        if (wide) SyrkUpper<Lanes512, Vector512<double>>(a, rows, d, w, c);
        else SyrkUpper<Lanes256, Vector256<double>>(a, rows, d, w, c);
    }

    private static void Check(ReadOnlySpan<double> a, int rows, int d)
    {
        if (rows < 0 || d < 0 || a.Length < (long)rows * d)
            throw new ArgumentException($"A has {a.Length} entries, fewer than {rows}×{d}");
    }

    private static void CheckLength<T>(ReadOnlySpan<T> s, int length, string name)
    {
        if (s.Length < length) throw new ArgumentException($"{name} has {s.Length} entries, expected {length}");
    }

    // ---- generic bodies -------------------------------------------------------------------------------------

    private static void Gemv<L, V>(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> x, Span<double> y)
        where L : struct, ILanes<V> where V : struct
    {
        ref double a0 = ref MemoryMarshal.GetReference(a);
        ref double xs = ref MemoryMarshal.GetReference(x);
        int w = L.Count, i = 0;
        for (; i < rows; i += 4)
        {
            var rows4 = new FourRows(ref a0, i, rows, d);
            int n = rows4.Count;
            ref double r0 = ref rows4.R0; ref double r1 = ref rows4.R1;
            ref double r2 = ref rows4.R2; ref double r3 = ref rows4.R3;
            V s0 = L.Zero, s1 = L.Zero, s2 = L.Zero, s3 = L.Zero;
            int j = 0;
            for (; j + w <= d; j += w)
            {
                var xv = L.Load(ref xs, (nuint)j);
                s0 = L.MultiplyAdd(L.Load(ref r0, (nuint)j), xv, s0);
                s1 = L.MultiplyAdd(L.Load(ref r1, (nuint)j), xv, s1);
                s2 = L.MultiplyAdd(L.Load(ref r2, (nuint)j), xv, s2);
                s3 = L.MultiplyAdd(L.Load(ref r3, (nuint)j), xv, s3);
            }
            double t0 = L.Sum(s0), t1 = L.Sum(s1), t2 = L.Sum(s2), t3 = L.Sum(s3);
            if (w > 4 && j + 4 <= d)
            {
                var xv = Lanes256.Load(ref xs, (nuint)j);
                t0 += Vector256.Sum(Lanes256.Load(ref r0, (nuint)j) * xv);
                t1 += Vector256.Sum(Lanes256.Load(ref r1, (nuint)j) * xv);
                t2 += Vector256.Sum(Lanes256.Load(ref r2, (nuint)j) * xv);
                t3 += Vector256.Sum(Lanes256.Load(ref r3, (nuint)j) * xv);
                j += 4;
            }
            for (; j < d; j++)
            {
                double xj = Unsafe.Add(ref xs, j);
                t0 += Unsafe.Add(ref r0, j) * xj; t1 += Unsafe.Add(ref r1, j) * xj;
                t2 += Unsafe.Add(ref r2, j) * xj; t3 += Unsafe.Add(ref r3, j) * xj;
            }
            y[i] = t0;
            if (n > 1) y[i + 1] = t1;
            if (n > 2) y[i + 2] = t2;
            if (n > 3) y[i + 3] = t3;
        }
    }

    /// <summary>A right-hand-side count known to the JIT, so unused accumulators compile away.</summary>
    private interface IGroup { static abstract int Size { get; } }
    private readonly struct One : IGroup { public static int Size => 1; }
    private readonly struct Two : IGroup { public static int Size => 2; }
    private readonly struct Three : IGroup { public static int Size => 3; }

    /// <summary>acc_c += Aᵀ v_c for G.Size right-hand sides, four rows per sweep of the accumulators.</summary>
    private static void GemvT<L, V, G>(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> v, Span<double> acc)
        where L : struct, ILanes<V> where V : struct where G : struct, IGroup
    {
        ref double a0 = ref MemoryMarshal.GetReference(a);
        ref double c0 = ref MemoryMarshal.GetReference(acc);
        ref double c1 = ref Unsafe.Add(ref c0, G.Size > 1 ? d : 0);
        ref double c2 = ref Unsafe.Add(ref c0, G.Size > 2 ? 2 * d : 0);
        ReadOnlySpan<double> v0 = v.Slice(0, rows);
        ReadOnlySpan<double> v1 = G.Size > 1 ? v.Slice(rows, rows) : v0;
        ReadOnlySpan<double> v2 = G.Size > 2 ? v.Slice(2 * rows, rows) : v0;
        int w = L.Count, i = 0;
        for (; i < rows; i += 4)
        {
            // Rows past the end get coefficient 0 (see FourRows).
            var rows4 = new FourRows(ref a0, i, rows, d);
            int n = rows4.Count;
            ref double r0 = ref rows4.R0; ref double r1 = ref rows4.R1;
            ref double r2 = ref rows4.R2; ref double r3 = ref rows4.R3;
            double p00 = v0[i], p01 = n > 1 ? v0[i + 1] : 0, p02 = n > 2 ? v0[i + 2] : 0, p03 = n > 3 ? v0[i + 3] : 0;
            double p10 = 0, p11 = 0, p12 = 0, p13 = 0, p20 = 0, p21 = 0, p22 = 0, p23 = 0;
            if (G.Size > 1) { p10 = v1[i]; p11 = n > 1 ? v1[i + 1] : 0; p12 = n > 2 ? v1[i + 2] : 0; p13 = n > 3 ? v1[i + 3] : 0; }
            if (G.Size > 2) { p20 = v2[i]; p21 = n > 1 ? v2[i + 1] : 0; p22 = n > 2 ? v2[i + 2] : 0; p23 = n > 3 ? v2[i + 3] : 0; }
            V b00 = L.Broadcast(p00), b01 = L.Broadcast(p01), b02 = L.Broadcast(p02), b03 = L.Broadcast(p03);
            V b10 = L.Broadcast(p10), b11 = L.Broadcast(p11), b12 = L.Broadcast(p12), b13 = L.Broadcast(p13);
            V b20 = L.Broadcast(p20), b21 = L.Broadcast(p21), b22 = L.Broadcast(p22), b23 = L.Broadcast(p23);
            int j = 0;
            for (; j + w <= d; j += w)
            {
                V x0 = L.Load(ref r0, (nuint)j), x1 = L.Load(ref r1, (nuint)j), x2 = L.Load(ref r2, (nuint)j), x3 = L.Load(ref r3, (nuint)j);
                L.Store(L.MultiplyAdd(x3, b03, L.MultiplyAdd(x2, b02, L.MultiplyAdd(x1, b01, L.MultiplyAdd(x0, b00, L.Load(ref c0, (nuint)j))))), ref c0, (nuint)j);
                if (G.Size > 1)
                    L.Store(L.MultiplyAdd(x3, b13, L.MultiplyAdd(x2, b12, L.MultiplyAdd(x1, b11, L.MultiplyAdd(x0, b10, L.Load(ref c1, (nuint)j))))), ref c1, (nuint)j);
                if (G.Size > 2)
                    L.Store(L.MultiplyAdd(x3, b23, L.MultiplyAdd(x2, b22, L.MultiplyAdd(x1, b21, L.MultiplyAdd(x0, b20, L.Load(ref c2, (nuint)j))))), ref c2, (nuint)j);
            }
            if (w > 4 && j + 4 <= d)
            {
                Vector256<double> x0 = Lanes256.Load(ref r0, (nuint)j), x1 = Lanes256.Load(ref r1, (nuint)j);
                Vector256<double> x2 = Lanes256.Load(ref r2, (nuint)j), x3 = Lanes256.Load(ref r3, (nuint)j);
                Lanes256.Store(Tail4(x0, x1, x2, x3, p00, p01, p02, p03, Lanes256.Load(ref c0, (nuint)j)), ref c0, (nuint)j);
                if (G.Size > 1) Lanes256.Store(Tail4(x0, x1, x2, x3, p10, p11, p12, p13, Lanes256.Load(ref c1, (nuint)j)), ref c1, (nuint)j);
                if (G.Size > 2) Lanes256.Store(Tail4(x0, x1, x2, x3, p20, p21, p22, p23, Lanes256.Load(ref c2, (nuint)j)), ref c2, (nuint)j);
                j += 4;
            }
            for (; j < d; j++)
            {
                double x0 = Unsafe.Add(ref r0, j), x1 = Unsafe.Add(ref r1, j), x2 = Unsafe.Add(ref r2, j), x3 = Unsafe.Add(ref r3, j);
                Unsafe.Add(ref c0, j) += x0 * p00 + x1 * p01 + x2 * p02 + x3 * p03;
                if (G.Size > 1) Unsafe.Add(ref c1, j) += x0 * p10 + x1 * p11 + x2 * p12 + x3 * p13;
                if (G.Size > 2) Unsafe.Add(ref c2, j) += x0 * p20 + x1 * p21 + x2 * p22 + x3 * p23;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Tail4(Vector256<double> x0, Vector256<double> x1, Vector256<double> x2, Vector256<double> x3,
        double p0, double p1, double p2, double p3, Vector256<double> c) =>
        Vector256.FusedMultiplyAdd(x3, Vector256.Create(p3), Vector256.FusedMultiplyAdd(x2, Vector256.Create(p2),
            Vector256.FusedMultiplyAdd(x1, Vector256.Create(p1), Vector256.FusedMultiplyAdd(x0, Vector256.Create(p0), c))));

    /// <param name="index">The rows' indices in A, or empty for rows 0 … rows − 1.</param>
    private static void ProjectedSquaredNorms<L, V>(ReadOnlySpan<double> a, int rows, ReadOnlySpan<int> index, int d, ProjectionPanels y, Span<double> tau)
        where L : struct, ILanes<V> where V : struct
    {
        ref double a0 = ref MemoryMarshal.GetReference(a);
        int w = L.Count, panels = y.Panels;
        ref double p0 = ref MemoryMarshal.GetArrayDataReference(y.Packed);
        tau.Slice(0, rows).Clear();
        for (int i = 0; i < rows; i += 4)
        {
            var rows4 = index.IsEmpty ? new FourRows(ref a0, i, rows, d) : new FourRows(ref a0, index, i, d);
            int n = rows4.Count;
            ref double r0 = ref rows4.R0; ref double r1 = ref rows4.R1;
            ref double r2 = ref rows4.R2; ref double r3 = ref rows4.R3;
            double t0 = 0, t1 = 0, t2 = 0, t3 = 0;
            for (int p = 0; p < panels; p += 2)
            {
                // Panels p and p+1 (a missing p+1 reads panel p again and is not counted): u_r = Σ_j a_rj·Y_j.
                bool second = p + 1 < panels;
                ref double ya = ref Unsafe.Add(ref p0, (nint)p * d * w);
                ref double yb = ref Unsafe.Add(ref ya, second ? d * w : 0);
                V u0a = L.Zero, u0b = L.Zero, u1a = L.Zero, u1b = L.Zero, u2a = L.Zero, u2b = L.Zero, u3a = L.Zero, u3b = L.Zero;
                for (int j = 0; j < d; j++)
                {
                    V va = L.Load(ref ya, (nuint)(j * w)), vb = L.Load(ref yb, (nuint)(j * w));
                    V x0 = L.Broadcast(Unsafe.Add(ref r0, j)), x1 = L.Broadcast(Unsafe.Add(ref r1, j));
                    V x2 = L.Broadcast(Unsafe.Add(ref r2, j)), x3 = L.Broadcast(Unsafe.Add(ref r3, j));
                    u0a = L.MultiplyAdd(x0, va, u0a); u0b = L.MultiplyAdd(x0, vb, u0b);
                    u1a = L.MultiplyAdd(x1, va, u1a); u1b = L.MultiplyAdd(x1, vb, u1b);
                    u2a = L.MultiplyAdd(x2, va, u2a); u2b = L.MultiplyAdd(x2, vb, u2b);
                    u3a = L.MultiplyAdd(x3, va, u3a); u3b = L.MultiplyAdd(x3, vb, u3b);
                }
                if (!second) { u0b = L.Zero; u1b = L.Zero; u2b = L.Zero; u3b = L.Zero; }
                t0 += L.Sum(L.MultiplyAdd(u0a, u0a, L.Multiply(u0b, u0b)));
                t1 += L.Sum(L.MultiplyAdd(u1a, u1a, L.Multiply(u1b, u1b)));
                t2 += L.Sum(L.MultiplyAdd(u2a, u2a, L.Multiply(u2b, u2b)));
                t3 += L.Sum(L.MultiplyAdd(u3a, u3a, L.Multiply(u3b, u3b)));
            }
            tau[i] = t0;
            if (n > 1) tau[i + 1] = t1;
            if (n > 2) tau[i + 2] = t2;
            if (n > 3) tau[i + 3] = t3;
        }
    }

    private static void ScatterRows<L, V>(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<int> bucket, ReadOnlySpan<double> weight, Span<double> sketch)
        where L : struct, ILanes<V> where V : struct
    {
        ref double a0 = ref MemoryMarshal.GetReference(a);
        ref double s0 = ref MemoryMarshal.GetReference(sketch);
        int w = L.Count;
        for (int i = 0; i < rows; i++)
        {
            double c = weight[i];
            if (c == 0) continue;
            ref double row = ref Unsafe.Add(ref a0, (nint)i * d);
            ref double target = ref Unsafe.Add(ref s0, (nint)bucket[i] * d);
            V cv = L.Broadcast(c);
            int j = 0;
            for (; j + w <= d; j += w)
                L.Store(L.MultiplyAdd(L.Load(ref row, (nuint)j), cv, L.Load(ref target, (nuint)j)), ref target, (nuint)j);
            if (w > 4 && j + 4 <= d)
            {
                Lanes256.Store(Vector256.FusedMultiplyAdd(Lanes256.Load(ref row, (nuint)j), Vector256.Create(c), Lanes256.Load(ref target, (nuint)j)), ref target, (nuint)j);
                j += 4;
            }
            for (; j < d; j++) Unsafe.Add(ref target, j) += c * Unsafe.Add(ref row, j);
        }
    }

    private static void SyrkUpper<L, V>(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<double> c)
        where L : struct, ILanes<V> where V : struct
    {
        ref double a0 = ref MemoryMarshal.GetReference(a);
        ref double cs = ref MemoryMarshal.GetReference(c);
        int lanes = L.Count;
        for (int i = 0; i < rows; i += 4)
        {
            var rows4 = new FourRows(ref a0, i, rows, d);
            int n = rows4.Count;
            ref double r0 = ref rows4.R0; ref double r1 = ref rows4.R1;
            ref double r2 = ref rows4.R2; ref double r3 = ref rows4.R3;
            double w0 = w[i], w1 = n > 1 ? w[i + 1] : 0, w2 = n > 2 ? w[i + 2] : 0, w3 = n > 3 ? w[i + 3] : 0;
            for (int p = 0; p < d; p++)
            {
                // Row p of C, columns p…d−1: C_p· += Σ_r (w_r a_rp) a_r·.
                double e0 = w0 * Unsafe.Add(ref r0, p), e1 = w1 * Unsafe.Add(ref r1, p);
                double e2 = w2 * Unsafe.Add(ref r2, p), e3 = w3 * Unsafe.Add(ref r3, p);
                if (e0 == 0 && e1 == 0 && e2 == 0 && e3 == 0) continue;
                ref double row = ref Unsafe.Add(ref cs, (nint)p * d);
                V f0 = L.Broadcast(e0), f1 = L.Broadcast(e1), f2 = L.Broadcast(e2), f3 = L.Broadcast(e3);
                int j = p;
                for (; j + lanes <= d; j += lanes)
                    L.Store(L.MultiplyAdd(L.Load(ref r3, (nuint)j), f3, L.MultiplyAdd(L.Load(ref r2, (nuint)j), f2,
                        L.MultiplyAdd(L.Load(ref r1, (nuint)j), f1, L.MultiplyAdd(L.Load(ref r0, (nuint)j), f0, L.Load(ref row, (nuint)j))))), ref row, (nuint)j);
                if (lanes > 4 && j + 4 <= d)
                {
                    Lanes256.Store(Tail4(Lanes256.Load(ref r0, (nuint)j), Lanes256.Load(ref r1, (nuint)j), Lanes256.Load(ref r2, (nuint)j),
                        Lanes256.Load(ref r3, (nuint)j), e0, e1, e2, e3, Lanes256.Load(ref row, (nuint)j)), ref row, (nuint)j);
                    j += 4;
                }
                for (; j < d; j++)
                    Unsafe.Add(ref row, j) += Unsafe.Add(ref r0, j) * e0 + Unsafe.Add(ref r1, j) * e1 + Unsafe.Add(ref r2, j) * e2 + Unsafe.Add(ref r3, j) * e3;
            }
        }
    }
}

/// <summary>
/// Rows i…i+3 of a row-major block with d columns, for the kernels that work four rows at a time. At the end of the
/// block there may be fewer: the missing ones alias the last row, so a kernel's body stays branch-free, and
/// <see cref="Count"/> says how many results to keep.
/// </summary>
internal readonly ref struct FourRows
{
    public readonly ref double R0;
    public readonly ref double R1;
    public readonly ref double R2;
    public readonly ref double R3;
    public readonly int Count;

    public FourRows(ref double a0, int i, int rows, int d)
    {
        Count = Math.Min(4, rows - i);
        R0 = ref Unsafe.Add(ref a0, (nint)i * d);
        R1 = ref Unsafe.Add(ref R0, Count > 1 ? d : 0);
        R2 = ref Unsafe.Add(ref R0, (nint)(Count > 2 ? 2 : Count - 1) * d);
        R3 = ref Unsafe.Add(ref R0, (nint)(Count - 1) * d);
    }

    /// <summary>Rows index[i] … index[i + 3] of A (fewer at the end: the last one repeated, as above).</summary>
    public FourRows(ref double a0, ReadOnlySpan<int> index, int i, int d)
    {
        Count = Math.Min(4, index.Length - i);
        R0 = ref Unsafe.Add(ref a0, (nint)index[i] * d);
        R1 = ref Unsafe.Add(ref a0, (nint)index[i + Math.Min(1, Count - 1)] * d);
        R2 = ref Unsafe.Add(ref a0, (nint)index[i + Math.Min(2, Count - 1)] * d);
        R3 = ref Unsafe.Add(ref a0, (nint)index[i + Count - 1] * d);
    }
}

/// <summary>
/// A d×k projection Y laid out for <see cref="DenseKernels.ProjectedSquaredNorms"/>: ⌈k/W⌉ panels of W columns
/// (W = the kernel's register width in doubles), each panel d×W row-major and zero-padded past column k.
/// Built once per request from Yᵀ (k×d row-major); <see cref="Transposed"/> keeps Yᵀ for the sparse kernels.
/// </summary>
public sealed class ProjectionPanels
{
    public int D { get; }
    public int K { get; }
    public bool Wide { get; }
    public int Panels { get; }
    public double[] Packed { get; }
    public double[] Transposed { get; }
    /// <summary>
    /// An upper bound on ‖Y‖₂² = λ_max(YᵀY), so Σ_c (aᵀy_c)² ≤ ‖a‖²·SquaredNormBound for every a: the computed
    /// largest eigenvalue of the k×k YᵀY with a relative margin of 1e-10 for rounding, never more than the
    /// Gershgorin bound (the largest absolute row sum).
    /// </summary>
    public double SquaredNormBound { get; }

    private static double LargestEigenvalueBound(double[] yT, int k, int d)
    {
        if (k == 0) return 0;
        var gram = new double[k * k];
        double gershgorin = 0;
        for (int c = 0; c < k; c++)
        {
            double rowSum = 0;
            for (int e = 0; e < k; e++)
            {
                gram[c * k + e] = SpanMath.Dot(yT.AsSpan(c * d, d), yT.AsSpan(e * d, d));
                rowSum += Math.Abs(gram[c * k + e]);
            }
            gershgorin = Math.Max(gershgorin, rowSum);
        }
        if (!double.IsFinite(gershgorin)) return gershgorin;
        var (_, max) = DenseAlgebra.EigenvalueRange(gram, k);
        return Math.Min(gershgorin, max * (1 + 1e-10) + NumericLimits.Tiny);
    }

    public ProjectionPanels(double[] yT, int k, int d) : this(yT, k, d, DenseKernels.Wide) { }

    internal ProjectionPanels(double[] yT, int k, int d, bool wide)
    {
        if (k < 0 || d < 0 || yT.Length != k * d) throw new ArgumentException($"Yᵀ has {yT.Length} entries, expected {k}×{d}");
        D = d; K = k; Wide = wide; Transposed = yT;
        int w = wide ? Vector512<double>.Count : Vector256<double>.Count;
        Panels = (k + w - 1) / w;
        Packed = new double[Panels * d * w];
        for (int c = 0; c < k; c++)
        {
            int panel = c / w, lane = c % w;
            for (int j = 0; j < d; j++) Packed[(panel * d + j) * w + lane] = yT[c * d + j];
        }
        SquaredNormBound = LargestEigenvalueBound(yT, k, d);
    }
}
