using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// Normalized softmax's single-precision row products computed in single precision, from row terms kept in single
/// precision (<see cref="IOwnRowOperators.SingleRowTerms"/>), on 512-bit vectors:
///   terms of a row   f (n floats), v = (2f − b)∘f (n floats), and ⟨f,f⟩, ⟨f,b⟩ in double (from f and b in double);
///   Gauss–Newton     y ← f∘(t − ⟨f,t⟩),  t = f∘(y − ⟨f,y⟩)                 (t recomputed, not stored);
///   exact            y ← f∘(h − γ y) + v∘(y − ⟨f,y⟩),  h = β⟨f,y⟩ − ⟨v,y⟩,  γ = ⟨f,f⟩ − ⟨f,b⟩,  β = 3⟨f,f⟩ − 2⟨f,b⟩
/// (docs/MATH.md, "Kronecker-factored curvature"; the same formulas as <see cref="WideRowProducts"/>, which reads f and
/// b in double and computes in double). The dot products sum <see cref="BlockEntries"/> entries in single precision,
/// then add the block's sum into a double one, so a sum's rounding stays near that of its block (≈ 16 additions a lane)
/// instead of growing with n. Why: the row products in double were bound by arithmetic — widening every float of y into
/// two double vectors — not by memory (2048 rows × 4096: 8.3 ms a product with every row's f and b in cache, 12.5 ms
/// streaming them, against 5.1 and 6.4 ms for these); README, #12, twenty-ninth session.
/// </summary>
internal static class SingleTermProducts
{
    /// <summary>Entries summed in single precision before the block's sum joins the row's double sum (16 vectors).</summary>
    public const int BlockEntries = 256;

    /// <summary>Whether these run here (512-bit vectors).</summary>
    public static bool Available => Vector512.IsHardwareAccelerated;

    /// <summary>A row's terms from its values f and targets b (both in double): f and v rounded into <paramref name="terms"/>
    /// (2n: <see cref="IOwnRowOperators.SingleTermsPerEntry"/> a value), ⟨f,f⟩ and ⟨f,b⟩ into <paramref name="sums"/>
    /// (<see cref="IOwnRowOperators.SingleTermSumsPerRow"/>).</summary>
    public static void Write(ReadOnlySpan<double> f, ReadOnlySpan<double> b, Span<float> terms, Span<double> sums)
    {
        var (ff, fb, _) = Sums(f, b);
        GradientAndTerms(f, b, default, terms, 0);
        sums[0] = ff;
        sums[1] = fb;
    }

    /// <summary>
    /// A row's loss and gradient from its values f and targets b, with its terms where <paramref name="terms"/> is not
    /// empty, in two passes instead of four (a loss pass, the sums, the gradient, the terms): the sums, then g and the
    /// terms together. Returns ½‖f − b‖²; g = f∘(f − b − γ), γ = ⟨f,f⟩ − ⟨f,b⟩; the terms and sums exactly as
    /// <see cref="Write"/>'s (the same arithmetic in the same order), so a row's terms do not depend on which request
    /// wrote them.
    /// </summary>
    public static double GradientPass(ReadOnlySpan<double> f, ReadOnlySpan<double> b, Span<double> g, Span<float> terms, Span<double> sums)
    {
        var (ff, fb, cc) = Sums(f, b);
        GradientAndTerms(f, b, g, terms, ff - fb);
        if (!terms.IsEmpty)
        {
            sums[0] = ff;
            sums[1] = fb;
        }
        return 0.5 * cc;
    }

    /// <summary>
    /// ⟨f,f⟩, ⟨f,b⟩ and ‖f − b‖² in one pass, in a fixed order (eight-lane double sums over 16 entries a step, then the
    /// tail): the sums <see cref="Write"/> stores and the gradient's γ.
    /// </summary>
    public static (double Ff, double Fb, double Cc) Sums(ReadOnlySpan<double> f, ReadOnlySpan<double> b)
    {
        int n = f.Length, wd = Vector512<double>.Count, i;
        ref double rf = ref MemoryMarshal.GetReference(f);
        ref double rb = ref MemoryMarshal.GetReference(b);
        Vector512<double> accFf = Vector512<double>.Zero, accFb = accFf, accCc = accFf;
        for (i = 0; i <= n - 2 * wd; i += 2 * wd)
        {
            var fLo = Vector512.LoadUnsafe(ref rf, (nuint)i);
            var fHi = Vector512.LoadUnsafe(ref rf, (nuint)(i + wd));
            var bLo = Vector512.LoadUnsafe(ref rb, (nuint)i);
            var bHi = Vector512.LoadUnsafe(ref rb, (nuint)(i + wd));
            accFf += fLo * fLo + fHi * fHi;
            accFb += fLo * bLo + fHi * bHi;
            var cLo = fLo - bLo;
            var cHi = fHi - bHi;
            accCc += cLo * cLo + cHi * cHi;
        }
        double ff = Vector512.Sum(accFf), fb = Vector512.Sum(accFb), cc = Vector512.Sum(accCc);
        for (; i < n; i++)
        {
            ff += f[i] * f[i];
            fb += f[i] * b[i];
            double c = f[i] - b[i];
            cc += c * c;
        }
        return (ff, fb, cc);
    }

    /// <summary>g = f∘(f − b − γ) where <paramref name="g"/> is not empty, and f and v = (2f − b)∘f rounded into
    /// <paramref name="terms"/> where it is not, in one pass.</summary>
    private static void GradientAndTerms(ReadOnlySpan<double> f, ReadOnlySpan<double> b, Span<double> g, Span<float> terms, double gamma)
    {
        int n = f.Length, wd = Vector512<double>.Count, i;
        bool gradient = !g.IsEmpty, keep = !terms.IsEmpty;
        var fTerms = keep ? terms.Slice(0, n) : default;
        var vTerms = keep ? terms.Slice(n, n) : default;
        ref double rf = ref MemoryMarshal.GetReference(f);
        ref double rb = ref MemoryMarshal.GetReference(b);
        ref double rg = ref MemoryMarshal.GetReference(g);
        ref float rft = ref MemoryMarshal.GetReference(fTerms);
        ref float rvt = ref MemoryMarshal.GetReference(vTerms);
        var vGamma = Vector512.Create(gamma);
        for (i = 0; i <= n - 2 * wd; i += 2 * wd)
        {
            var fLo = Vector512.LoadUnsafe(ref rf, (nuint)i);
            var fHi = Vector512.LoadUnsafe(ref rf, (nuint)(i + wd));
            var bLo = Vector512.LoadUnsafe(ref rb, (nuint)i);
            var bHi = Vector512.LoadUnsafe(ref rb, (nuint)(i + wd));
            if (gradient)
            {
                (fLo * (fLo - bLo - vGamma)).StoreUnsafe(ref rg, (nuint)i);
                (fHi * (fHi - bHi - vGamma)).StoreUnsafe(ref rg, (nuint)(i + wd));
            }
            if (keep)
            {
                Vector512.Narrow(fLo, fHi).StoreUnsafe(ref rft, (nuint)i);
                Vector512.Narrow((fLo + fLo - bLo) * fLo, (fHi + fHi - bHi) * fHi).StoreUnsafe(ref rvt, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            if (gradient) g[i] = f[i] * (f[i] - b[i] - gamma);
            if (keep)
            {
                fTerms[i] = (float)f[i];
                vTerms[i] = (float)((2 * f[i] - b[i]) * f[i]);
            }
        }
    }

    /// <summary>
    /// A row's terms straight from its logits z in single precision (the float M of a shard that keeps nothing for the
    /// row): f = softmax(z) in single precision (<see cref="SingleExp"/> of z − max z, the sum in double, one scaling),
    /// then v = (2f − b)∘f, ⟨f,f⟩ and ⟨f,b⟩ as <see cref="Write"/> computes them from f widened. f carries M's rounding
    /// (≈ 6e-8 of |z|) and the kernel's (≤ 3e-7 relative), as the values the product would otherwise compute in double
    /// from the same float M carry the first.
    /// </summary>
    public static void WriteFromLogits(ReadOnlySpan<float> z, ReadOnlySpan<double> b, Span<float> terms, Span<double> sums)
    {
        int n = z.Length, w = Vector512<float>.Count, wd = Vector512<double>.Count, i;
        var f = terms.Slice(0, n);
        var vTerms = terms.Slice(n, n);
        ref float rf = ref MemoryMarshal.GetReference(f);
        // f = exp(z − m), m = max z, S = Σ f in double
        double sum = SingleExp.ExpShiftedSum(z, Max(z), f);
        float scale = (float)(1.0 / sum);
        // f /= S; v = (2f − b)∘f, ⟨f,f⟩ and ⟨f,b⟩ with f widened
        ref double rb = ref MemoryMarshal.GetReference(b);
        ref float rv = ref MemoryMarshal.GetReference(vTerms);
        var vScale = Vector512.Create(scale);
        Vector512<double> accFf = Vector512<double>.Zero, accFb = accFf;
        for (i = 0; i <= n - w; i += w)
        {
            var fi = Vector512.LoadUnsafe(ref rf, (nuint)i) * vScale;
            fi.StoreUnsafe(ref rf, (nuint)i);
            var (fLo, fHi) = Vector512.Widen(fi);
            var bLo = Vector512.LoadUnsafe(ref rb, (nuint)i);
            var bHi = Vector512.LoadUnsafe(ref rb, (nuint)(i + wd));
            accFf += fLo * fLo + fHi * fHi;
            accFb += fLo * bLo + fHi * bHi;
            Vector512.Narrow((fLo + fLo - bLo) * fLo, (fHi + fHi - bHi) * fHi).StoreUnsafe(ref rv, (nuint)i);
        }
        double ff = Vector512.Sum(accFf), fb = Vector512.Sum(accFb);
        for (; i < n; i++)
        {
            f[i] *= scale;
            double fi = f[i];
            ff += fi * fi;
            fb += fi * b[i];
            vTerms[i] = (float)((2 * fi - b[i]) * fi);
        }
        sums[0] = ff;
        sums[1] = fb;
    }

    /// <summary>max z (−∞ for an empty row).</summary>
    public static float Max(ReadOnlySpan<float> z)
    {
        int n = z.Length, w = Vector512<float>.Count;
        if (n < w)
        {
            float small = float.NegativeInfinity;
            foreach (float zi in z) small = Math.Max(small, zi);
            return small;
        }
        ref float rz = ref MemoryMarshal.GetReference(z);
        var vm = Vector512.LoadUnsafe(ref rz, (nuint)(n - w));   // the last w entries cover the tail
        for (int i = 0; i <= n - w; i += w) vm = Vector512.Max(vm, Vector512.LoadUnsafe(ref rz, (nuint)i));
        return MaxOf(vm);
    }

    /// <summary>
    /// A row's values f = softmax(z) in double from a row of M formed in single precision (every z a float widened, so
    /// narrowing it back is exact): the exponentials in single precision (<see cref="SingleExp"/>, within 3e-7 of
    /// exp, of z − max z rounded to a float: 6e-8·|z − max z| more, as single-precision M's own rounding of z), their
    /// sum in double, f = e/S in double. <paramref name="values"/> may be z's own storage;
    /// <paramref name="scratch"/> holds n floats.
    /// </summary>
    public static void ValuesFromSingleM(ReadOnlySpan<double> z, Span<double> values, Span<float> scratch)
    {
        var e = scratch.Slice(0, z.Length);
        SpanMath.Narrow(z, e);
        Softmax(e, e, values);
    }

    /// <summary><see cref="ValuesFromSingleM"/> of a row already in floats (the same values: narrowing the row widened
    /// gives the row back).</summary>
    public static void ValuesFromSingleLogits(ReadOnlySpan<float> z, Span<double> values, Span<float> scratch) =>
        Softmax(z, scratch.Slice(0, z.Length), values);

    /// <summary>e = exp(z − max z) in single precision, then f = e/Σe widened into <paramref name="values"/>.</summary>
    private static void Softmax(ReadOnlySpan<float> z, Span<float> e, Span<double> values)
    {
        double inverse = 1.0 / SingleExp.ExpShiftedSum(z, Max(z), e);
        SpanMath.Widen(e, values);
        SpanMath.Multiply(values, inverse, values);
    }

    private static float MaxOf(Vector512<float> v)
    {
        float m = v[0];
        for (int k = 1; k < Vector512<float>.Count; k++) m = Math.Max(m, v[k]);
        return m;
    }

    /// <summary>y ← B y for the exact z-Hessian, from a row's <paramref name="terms"/> (2n) and <paramref name="sums"/> (2).</summary>
    public static void Exact(ReadOnlySpan<float> terms, ReadOnlySpan<double> sums, Span<float> y)
    {
        int n = y.Length;
        var f = terms.Slice(0, n);
        var v = terms.Slice(n, n);
        var (fy, vy) = TwoDots(f, v, y);
        var (h, g, m) = ExactCoefficients(sums[0], sums[1], fy, vy);
        var vHead = Vector512.Create(h);
        var vGamma = Vector512.Create(g);
        var vFy = Vector512.Create(m);
        int w = Vector512<float>.Count, i;
        ref float rf = ref MemoryMarshal.GetReference(f);
        ref float rv = ref MemoryMarshal.GetReference(v);
        ref float ry = ref MemoryMarshal.GetReference(y);
        for (i = 0; i <= n - w; i += w)
        {
            var yi = Vector512.LoadUnsafe(ref ry, (nuint)i);
            var r = Vector512.LoadUnsafe(ref rf, (nuint)i) * (vHead - vGamma * yi) + Vector512.LoadUnsafe(ref rv, (nuint)i) * (yi - vFy);
            r.StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < n; i++) y[i] = f[i] * (h - g * y[i]) + v[i] * (y[i] - m);
    }

    /// <summary>The exact product's row scalars from ⟨f,f⟩, ⟨f,b⟩, ⟨f,y⟩, ⟨v,y⟩ (in double), rounded for the update
    /// y ← f∘(h − γ y) + v∘(y − ⟨f,y⟩): h = β⟨f,y⟩ − ⟨v,y⟩ with β = 3⟨f,f⟩ − 2⟨f,b⟩, γ = ⟨f,f⟩ − ⟨f,b⟩, and ⟨f,y⟩.</summary>
    private static (float Head, float Gamma, float Fy) ExactCoefficients(double ff, double fb, double fy, double vy) =>
        ((float)((3 * ff - 2 * fb) * fy - vy), (float)(ff - fb), (float)fy);

    /// <summary>
    /// y ← B y for the exact z-Hessian from a row's values f in single precision and its targets b in double (a shard
    /// without the M cache keeps f only): v = (2f − b)∘f is formed on the fly in single precision, ⟨f,f⟩ and ⟨f,b⟩ are
    /// summed in double from f widened (as <see cref="Write"/> sums them), ⟨f,y⟩ and ⟨v,y⟩ in blocks as <see cref="Dot"/>;
    /// then <see cref="Exact"/>'s update. Two passes over f, b and y.
    /// </summary>
    public static void ExactFromValues(ReadOnlySpan<float> f, ReadOnlySpan<double> b, Span<float> y)
    {
        int n = y.Length, w = Vector512<float>.Count, wd = Vector512<double>.Count, i = 0;
        f = f.Slice(0, n);
        ref float rf = ref MemoryMarshal.GetReference(f);
        ref double rb = ref MemoryMarshal.GetReference(b);
        ref float ry = ref MemoryMarshal.GetReference(y);
        Vector512<double> accFf = Vector512<double>.Zero, accFb = accFf, totalF = accFf, totalV = accFf;
        while (i <= n - w)
        {
            int end = Math.Min(n - w, i + BlockEntries - w);
            Vector512<float> blockF = Vector512<float>.Zero, blockV = blockF;
            for (; i <= end; i += w)
            {
                var fi = Vector512.LoadUnsafe(ref rf, (nuint)i);
                var (fLo, fHi) = Vector512.Widen(fi);
                var bLo = Vector512.LoadUnsafe(ref rb, (nuint)i);
                var bHi = Vector512.LoadUnsafe(ref rb, (nuint)(i + wd));
                accFf += fLo * fLo + fHi * fHi;
                accFb += fLo * bLo + fHi * bHi;
                var yi = Vector512.LoadUnsafe(ref ry, (nuint)i);
                var vi = (fi + fi - Vector512.Narrow(bLo, bHi)) * fi;
                blockF = Vector512.FusedMultiplyAdd(fi, yi, blockF);
                blockV = Vector512.FusedMultiplyAdd(vi, yi, blockV);
            }
            var (lo, hi) = Vector512.Widen(blockF);
            totalF += lo + hi;
            (lo, hi) = Vector512.Widen(blockV);
            totalV += lo + hi;
        }
        double ff = Vector512.Sum(accFf), fb = Vector512.Sum(accFb), fy = Vector512.Sum(totalF), vy = Vector512.Sum(totalV);
        for (int k = i; k < n; k++)
        {
            double fk = f[k];
            ff += fk * fk;
            fb += fk * b[k];
            fy += fk * y[k];
            vy += (double)((f[k] + f[k] - (float)b[k]) * f[k]) * y[k];
        }
        var (h, g, m) = ExactCoefficients(ff, fb, fy, vy);
        var vHead = Vector512.Create(h);
        var vGamma = Vector512.Create(g);
        var vFy = Vector512.Create(m);
        for (i = 0; i <= n - w; i += w)
        {
            var fi = Vector512.LoadUnsafe(ref rf, (nuint)i);
            var vi = (fi + fi - Vector512.Narrow(Vector512.LoadUnsafe(ref rb, (nuint)i), Vector512.LoadUnsafe(ref rb, (nuint)(i + wd)))) * fi;
            var yi = Vector512.LoadUnsafe(ref ry, (nuint)i);
            (fi * (vHead - vGamma * yi) + vi * (yi - vFy)).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < n; i++)
        {
            float vk = (f[i] + f[i] - (float)b[i]) * f[i];
            y[i] = f[i] * (h - g * y[i]) + vk * (y[i] - m);
        }
    }

    /// <summary>y ← JᵀJ y = f∘(t − ⟨f,t⟩), t = f∘(y − ⟨f,y⟩), from a row's f (n floats: the first half of its terms).</summary>
    public static void GaussNewton(ReadOnlySpan<float> f, Span<float> y)
    {
        int n = y.Length, w = Vector512<float>.Count, i;
        f = f.Slice(0, n);
        float fy = (float)Dot(f, y);
        float ft = (float)ShiftedDot(f, y, fy);   // ⟨f, t⟩
        var vFy = Vector512.Create(fy);
        var vFt = Vector512.Create(ft);
        ref float rf = ref MemoryMarshal.GetReference(f);
        ref float ry = ref MemoryMarshal.GetReference(y);
        for (i = 0; i <= n - w; i += w)
        {
            var fi = Vector512.LoadUnsafe(ref rf, (nuint)i);
            (fi * (fi * (Vector512.LoadUnsafe(ref ry, (nuint)i) - vFy) - vFt)).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < n; i++) y[i] = f[i] * (f[i] * (y[i] - fy) - ft);
    }

    /// <summary>⟨f, y⟩: single-precision sums of <see cref="BlockEntries"/> entries added into a double sum.</summary>
    private static double Dot(ReadOnlySpan<float> f, ReadOnlySpan<float> y)
    {
        int n = y.Length, w = Vector512<float>.Count, i = 0;
        ref float rf = ref MemoryMarshal.GetReference(f);
        ref float ry = ref MemoryMarshal.GetReference(y);
        var total = Vector512<double>.Zero;
        while (i <= n - w)
        {
            int end = Math.Min(n - w, i + BlockEntries - w);
            var block = Vector512<float>.Zero;
            for (; i <= end; i += w)
                block = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref rf, (nuint)i), Vector512.LoadUnsafe(ref ry, (nuint)i), block);
            var (lo, hi) = Vector512.Widen(block);
            total += lo + hi;
        }
        double s = Vector512.Sum(total);
        for (; i < n; i++) s += (double)f[i] * y[i];
        return s;
    }

    /// <summary>⟨f, f∘(y − <paramref name="shift"/>)⟩, summed as <see cref="Dot"/> sums.</summary>
    private static double ShiftedDot(ReadOnlySpan<float> f, ReadOnlySpan<float> y, float shift)
    {
        int n = y.Length, w = Vector512<float>.Count, i = 0;
        ref float rf = ref MemoryMarshal.GetReference(f);
        ref float ry = ref MemoryMarshal.GetReference(y);
        var vShift = Vector512.Create(shift);
        var total = Vector512<double>.Zero;
        while (i <= n - w)
        {
            int end = Math.Min(n - w, i + BlockEntries - w);
            var block = Vector512<float>.Zero;
            for (; i <= end; i += w)
            {
                var fi = Vector512.LoadUnsafe(ref rf, (nuint)i);
                block = Vector512.FusedMultiplyAdd(fi, fi * (Vector512.LoadUnsafe(ref ry, (nuint)i) - vShift), block);
            }
            var (lo, hi) = Vector512.Widen(block);
            total += lo + hi;
        }
        double s = Vector512.Sum(total);
        for (; i < n; i++) s += (double)f[i] * (f[i] * (y[i] - shift));
        return s;
    }

    /// <summary>⟨f, y⟩ and ⟨v, y⟩ in one pass, summed as <see cref="Dot"/> sums.</summary>
    private static (double Fy, double Vy) TwoDots(ReadOnlySpan<float> f, ReadOnlySpan<float> v, ReadOnlySpan<float> y)
    {
        int n = y.Length, w = Vector512<float>.Count, i = 0;
        ref float rf = ref MemoryMarshal.GetReference(f);
        ref float rv = ref MemoryMarshal.GetReference(v);
        ref float ry = ref MemoryMarshal.GetReference(y);
        Vector512<double> totalF = Vector512<double>.Zero, totalV = totalF;
        while (i <= n - w)
        {
            int end = Math.Min(n - w, i + BlockEntries - w);
            Vector512<float> blockF = Vector512<float>.Zero, blockV = blockF;
            for (; i <= end; i += w)
            {
                var yi = Vector512.LoadUnsafe(ref ry, (nuint)i);
                blockF = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref rf, (nuint)i), yi, blockF);
                blockV = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref rv, (nuint)i), yi, blockV);
            }
            var (lo, hi) = Vector512.Widen(blockF);
            totalF += lo + hi;
            (lo, hi) = Vector512.Widen(blockV);
            totalV += lo + hi;
        }
        double fy = Vector512.Sum(totalF), vy = Vector512.Sum(totalV);
        for (; i < n; i++)
        {
            fy += (double)f[i] * y[i];
            vy += (double)v[i] * y[i];
        }
        return (fy, vy);
    }
}
