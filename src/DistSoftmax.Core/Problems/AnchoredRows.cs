using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// One row of a multiple normalized shard's anchored pass (docs/MATH.md, "Anchored passes"), fused into four passes
/// over the row instead of the thirteen of its separate operations (the anchor's gradient row, the widening, the
/// shifted exponentials, the products and sums, the new gradient row and terms, the difference and its rounding).
/// From the anchor's values f_a and the row's change Δ = ΔM_j = (A1 (x − x_a) A2ᵀ)_j, both length n:
///   f = f_a∘e / ⟨f_a, e⟩,  e = exp(Δ − max Δ)          (softmax ignores a row's shift)
///   g − g_a = f∘(f − b − γ) − f_a∘(f_a − b − γ_a),      γ = ⟨f,f⟩ − ⟨f,b⟩, γ_a = ⟨f_a,f_a⟩ − ⟨f_a,b⟩
/// with the row's single-precision terms at f (f and v = (2f − b)∘f, ⟨f,f⟩ and ⟨f,b⟩) as
/// <see cref="SingleTermProducts"/> lays them out. The exponentials are <see cref="VectorExp"/>'s values; the sums are
/// four-lane sums in double, so f and the sums differ from the separate operations' only in the order of their
/// additions (≈ 1e-16 relative), far inside the pass's own rounding of the change (≈ 2e-7 of it).
/// </summary>
internal static class AnchoredRows
{
    /// <summary>Doubles per 256-bit vector; the loops take two (eight floats of Δ) a step.</summary>
    private const int Lanes = 4;

    /// <summary>
    /// The row at x from the anchor: f over f_a in <paramref name="values"/>; g − g_a rounded into
    /// <paramref name="gradientChange"/>; f and v rounded into <paramref name="terms"/> (2n) and ⟨f,f⟩, ⟨f,b⟩ into
    /// <paramref name="sums"/>. Returns ½‖f − b‖². <paramref name="scratch"/>: n values.
    /// </summary>
    public static double Pass(Span<double> values, ReadOnlySpan<float> change, ReadOnlySpan<double> b, Span<float> gradientChange,
        Span<float> terms, Span<double> sums, Span<double> scratch)
    {
        int n = values.Length;
        if (change.Length != n || b.Length != n || gradientChange.Length < n || terms.Length < 2 * n || sums.Length < 2 || scratch.Length < n)
            throw new ArgumentException($"an anchored row of {n} values needs Δ and b of {n}, {n} gradient floats, {2 * n} terms, 2 sums and {n} of scratch");
        if (n == 0) return 0;
        ref double rf = ref MemoryMarshal.GetReference(values);
        ref float rd = ref MemoryMarshal.GetReference(change);
        ref double rb = ref MemoryMarshal.GetReference(b);
        ref double ru = ref MemoryMarshal.GetReference(scratch);
        int step = 2 * Lanes, vectorEnd = n - n % step, i;

        // 1. max Δ (exact in floats; a NaN reaches f through the exponentials).
        float max = SingleTermProducts.Max(change);
        var shift = Vector256.Create((double)max);

        // 2. u = f_a∘exp(Δ − max) into the scratch, ⟨f_a, e⟩, and the anchor's ⟨f_a,f_a⟩ and ⟨f_a,b⟩ for γ_a.
        Vector256<double> s = Vector256<double>.Zero, faFa = s, faB = s;
        for (i = 0; i < vectorEnd; i += step)
        {
            var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref rd, (nuint)i));
            var faLo = Vector256.LoadUnsafe(ref rf, (nuint)i);
            var faHi = Vector256.LoadUnsafe(ref rf, (nuint)(i + Lanes));
            var bLo = Vector256.LoadUnsafe(ref rb, (nuint)i);
            var bHi = Vector256.LoadUnsafe(ref rb, (nuint)(i + Lanes));
            var uLo = VectorExp.Exp(lo - shift) * faLo;
            var uHi = VectorExp.Exp(hi - shift) * faHi;
            uLo.StoreUnsafe(ref ru, (nuint)i);
            uHi.StoreUnsafe(ref ru, (nuint)(i + Lanes));
            s += uLo + uHi;
            faFa += faLo * faLo + faHi * faHi;
            faB += faLo * bLo + faHi * bHi;
        }
        double total = Vector256.Sum(s), anchorFf = Vector256.Sum(faFa), anchorFb = Vector256.Sum(faB);
        for (; i < n; i++)
        {
            double fa = values[i];
            scratch[i] = Math.Exp((double)change[i] - max) * fa;
            total += scratch[i];
            anchorFf += fa * fa;
            anchorFb += fa * b[i];
        }
        double anchorGamma = anchorFf - anchorFb;

        // 3. f = u / ⟨f_a, e⟩ in place (a true division, as the full pass's), with ⟨f,f⟩, ⟨f,b⟩ and ‖f − b‖².
        var divisor = Vector256.Create(total);
        Vector256<double> ff = Vector256<double>.Zero, fb = ff, cc = ff;
        for (i = 0; i < vectorEnd; i += Lanes)
        {
            var f = Vector256.LoadUnsafe(ref ru, (nuint)i) / divisor;
            var bv = Vector256.LoadUnsafe(ref rb, (nuint)i);
            f.StoreUnsafe(ref ru, (nuint)i);
            ff += f * f;
            fb += f * bv;
            var c = f - bv;
            cc += c * c;
        }
        double sumFf = Vector256.Sum(ff), sumFb = Vector256.Sum(fb), sumCc = Vector256.Sum(cc);
        for (; i < n; i++)
        {
            double f = scratch[i] / total;
            scratch[i] = f;
            sumFf += f * f;
            sumFb += f * b[i];
            sumCc += (f - b[i]) * (f - b[i]);
        }
        double gamma = sumFf - sumFb;

        // 4. g − g_a rounded, the terms at f, and f over f_a.
        ref float rg = ref MemoryMarshal.GetReference(gradientChange);
        ref float rft = ref MemoryMarshal.GetReference(terms);
        ref float rvt = ref MemoryMarshal.GetReference(terms.Slice(n));
        var vGamma = Vector256.Create(gamma);
        var vAnchorGamma = Vector256.Create(anchorGamma);
        for (i = 0; i < vectorEnd; i += step)
        {
            var fLo = Vector256.LoadUnsafe(ref ru, (nuint)i);
            var fHi = Vector256.LoadUnsafe(ref ru, (nuint)(i + Lanes));
            var faLo = Vector256.LoadUnsafe(ref rf, (nuint)i);
            var faHi = Vector256.LoadUnsafe(ref rf, (nuint)(i + Lanes));
            var bLo = Vector256.LoadUnsafe(ref rb, (nuint)i);
            var bHi = Vector256.LoadUnsafe(ref rb, (nuint)(i + Lanes));
            var dLo = fLo * (fLo - bLo - vGamma) - faLo * (faLo - bLo - vAnchorGamma);
            var dHi = fHi * (fHi - bHi - vGamma) - faHi * (faHi - bHi - vAnchorGamma);
            Vector256.Narrow(dLo, dHi).StoreUnsafe(ref rg, (nuint)i);
            Vector256.Narrow(fLo, fHi).StoreUnsafe(ref rft, (nuint)i);
            Vector256.Narrow((fLo + fLo - bLo) * fLo, (fHi + fHi - bHi) * fHi).StoreUnsafe(ref rvt, (nuint)i);
            fLo.StoreUnsafe(ref rf, (nuint)i);
            fHi.StoreUnsafe(ref rf, (nuint)(i + Lanes));
        }
        for (; i < n; i++)
        {
            double f = scratch[i], fa = values[i];
            gradientChange[i] = (float)(f * (f - b[i] - gamma) - fa * (fa - b[i] - anchorGamma));
            terms[i] = (float)f;
            terms[n + i] = (float)((f + f - b[i]) * f);
            values[i] = f;
        }
        sums[0] = sumFf;
        sums[1] = sumFb;
        return 0.5 * sumCc;
    }
}
