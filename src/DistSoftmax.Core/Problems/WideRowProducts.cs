using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// The single-precision row products of <see cref="NormalizedSoftmax.HessianProductSingle"/> on 512-bit vectors, for
/// processors that have them: the same formulas as its Vector&lt;T&gt; methods (which stay 256 bits wide), with each
/// Vector512&lt;float&gt; of y widened to two Vector512&lt;double&gt;, the sums in double and the result narrowed back.
/// A row is n values of f (the softmax of z_j, double), y (float, in place) and, for the exact product, b:
///   Gauss–Newton  y ← J²y + w²∘y,  J y = f∘(y − ⟨f,y⟩)  (t = J y in the scratch, then f∘(t − ⟨f,t⟩));
///   exact         y ← f∘(β⟨f,y⟩ − ⟨v,y⟩ − γ y) + v∘(y − ⟨f,y⟩) + w²∘y,  v = (2f − b)∘f,  γ = ⟨f,f⟩ − ⟨f,b⟩,
///                 β = 3⟨f,f⟩ − 2⟨f,b⟩  (docs/MATH.md, "Kronecker-factored curvature").
/// Measured in a shard's single-precision product (`matrix-passes 4096 64 2`): README, #12, twenty-eighth session.
/// </summary>
internal static class WideRowProducts
{
    /// <summary>Whether these run here (512-bit vectors).</summary>
    public static bool Available => Vector512.IsHardwareAccelerated;

    public static void GaussNewton(ReadOnlySpan<double> f, ReadOnlySpan<double> w2, Span<float> y, Span<double> scratch)
    {
        int n = f.Length, wd = Vector512<double>.Count, wf = Vector512<float>.Count, i;
        var t = scratch.Slice(0, n);
        ref double rf = ref MemoryMarshal.GetReference(f);
        ref float ry = ref MemoryMarshal.GetReference(y);
        ref double rt = ref MemoryMarshal.GetReference(t);
        var acc = Vector512<double>.Zero;
        for (i = 0; i <= n - wf; i += wf)
        {
            var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref ry, (nuint)i));
            acc += Vector512.LoadUnsafe(ref rf, (nuint)i) * lo + Vector512.LoadUnsafe(ref rf, (nuint)(i + wd)) * hi;
        }
        double fy = Vector512.Sum(acc);
        for (; i < n; i++) fy += f[i] * y[i];
        var vFy = Vector512.Create(fy);
        acc = Vector512<double>.Zero;
        for (i = 0; i <= n - wf; i += wf)
        {
            var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref ry, (nuint)i));
            var fLo = Vector512.LoadUnsafe(ref rf, (nuint)i);
            var fHi = Vector512.LoadUnsafe(ref rf, (nuint)(i + wd));
            var tLo = fLo * (lo - vFy);
            var tHi = fHi * (hi - vFy);
            tLo.StoreUnsafe(ref rt, (nuint)i);
            tHi.StoreUnsafe(ref rt, (nuint)(i + wd));
            acc += fLo * tLo + fHi * tHi;
        }
        double ft = Vector512.Sum(acc);
        for (; i < n; i++) { t[i] = f[i] * (y[i] - fy); ft += f[i] * t[i]; }
        var vFt = Vector512.Create(ft);
        bool regularised = !w2.IsEmpty;
        for (i = 0; i <= n - wf; i += wf)
        {
            var lo = Vector512.LoadUnsafe(ref rf, (nuint)i) * (Vector512.LoadUnsafe(ref rt, (nuint)i) - vFt);
            var hi = Vector512.LoadUnsafe(ref rf, (nuint)(i + wd)) * (Vector512.LoadUnsafe(ref rt, (nuint)(i + wd)) - vFt);
            if (regularised)
            {
                var (yLo, yHi) = Vector512.Widen(Vector512.LoadUnsafe(ref ry, (nuint)i));
                lo += Vector512.Create(w2.Slice(i, wd)) * yLo;
                hi += Vector512.Create(w2.Slice(i + wd, wd)) * yHi;
            }
            Vector512.Narrow(lo, hi).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < n; i++) y[i] = (float)(f[i] * (t[i] - ft) + (regularised ? w2[i] * y[i] : 0));
    }

    public static void Exact(ReadOnlySpan<double> f, ReadOnlySpan<double> b, ReadOnlySpan<double> w2, Span<float> y)
    {
        int n = f.Length, wd = Vector512<double>.Count, wf = Vector512<float>.Count, i;
        ref double rf = ref MemoryMarshal.GetReference(f);
        ref double rb = ref MemoryMarshal.GetReference(b);
        ref float ry = ref MemoryMarshal.GetReference(y);
        Vector512<double> accFy = Vector512<double>.Zero, accVy = accFy, accFf = accFy, accFb = accFy;
        for (i = 0; i <= n - wf; i += wf)
        {
            var (yLo, yHi) = Vector512.Widen(Vector512.LoadUnsafe(ref ry, (nuint)i));
            var fLo = Vector512.LoadUnsafe(ref rf, (nuint)i);
            var fHi = Vector512.LoadUnsafe(ref rf, (nuint)(i + wd));
            var bLo = Vector512.LoadUnsafe(ref rb, (nuint)i);
            var bHi = Vector512.LoadUnsafe(ref rb, (nuint)(i + wd));
            var fyLo = fLo * yLo;
            var fyHi = fHi * yHi;
            accFy += fyLo + fyHi;
            accVy += (fLo + fLo - bLo) * fyLo + (fHi + fHi - bHi) * fyHi;
            accFf += fLo * fLo + fHi * fHi;
            accFb += fLo * bLo + fHi * bHi;
        }
        double fy = Vector512.Sum(accFy), vy0 = Vector512.Sum(accVy), ff = Vector512.Sum(accFf), fb = Vector512.Sum(accFb);
        for (; i < n; i++)
        {
            double fyi = f[i] * y[i];
            fy += fyi;
            vy0 += (2 * f[i] - b[i]) * fyi;
            ff += f[i] * f[i];
            fb += f[i] * b[i];
        }
        double gamma = ff - fb, head = (3 * ff - 2 * fb) * fy - vy0;
        var vHead = Vector512.Create(head);
        var vGamma = Vector512.Create(gamma);
        var vFy = Vector512.Create(fy);
        bool regularised = !w2.IsEmpty;
        for (i = 0; i <= n - wf; i += wf)
        {
            var (yLo, yHi) = Vector512.Widen(Vector512.LoadUnsafe(ref ry, (nuint)i));
            var fLo = Vector512.LoadUnsafe(ref rf, (nuint)i);
            var fHi = Vector512.LoadUnsafe(ref rf, (nuint)(i + wd));
            var vLo = (fLo + fLo - Vector512.LoadUnsafe(ref rb, (nuint)i)) * fLo;
            var vHi = (fHi + fHi - Vector512.LoadUnsafe(ref rb, (nuint)(i + wd))) * fHi;
            var lo = fLo * (vHead - vGamma * yLo) + vLo * (yLo - vFy);
            var hi = fHi * (vHead - vGamma * yHi) + vHi * (yHi - vFy);
            if (regularised)
            {
                lo += Vector512.Create(w2.Slice(i, wd)) * yLo;
                hi += Vector512.Create(w2.Slice(i + wd, wd)) * yHi;
            }
            Vector512.Narrow(lo, hi).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < n; i++)
        {
            double v = (2 * f[i] - b[i]) * f[i];
            y[i] = (float)(f[i] * (head - gamma * y[i]) + v * (y[i] - fy) + (regularised ? w2[i] * y[i] : 0));
        }
    }
}
