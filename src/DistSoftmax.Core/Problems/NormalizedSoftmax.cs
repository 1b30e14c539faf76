using System.Numerics;
using System.Runtime.CompilerServices;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// Normalized softmax regression ℓ(z) = ½‖f − b‖², f = exp(z)/⟨exp(z),1⟩.
///
/// Phase 1 (shift m_k = max of the shard's z, e_i = exp(z_i − m_k)):
///   sums [Σe (power 1), Σe² (power 2), Σe·b (power 1), Σb² (power 0)]
/// merged into (m, S = Σe), ⟨f,f⟩ = Σe²/S², ⟨f,b⟩ = Σeb/S, ⟨b,b⟩; so |z| up to any size stays finite.
/// Globals: [ℓ, m, S, ⟨f,f⟩, ⟨f,b⟩, ⟨b,b⟩].
///
/// Near a minimiser ⟨f,f⟩ − 2⟨f,b⟩ + ⟨b,b⟩ is a difference of O(1/n) terms and loses all relative accuracy.
/// With a reference normaliser (m_r, S_r) of a nearby point, shards also report, for v_i = exp(z_i − m_r)/S_r,
///   V = Σv, P1 = Σ(v − b)², P2 = Σ b(v − b)        (power 0: already on the global scale)
/// and since f = v/V, c = (v − V b)/V = ((v − b) − δ b)/V with δ = V − 1:
///   ℓ = ½ (P1 − 2δ P2 + δ² ⟨b,b⟩) / V²,
/// a sum of squares up to terms of order δ. If v overflows (a wild trial point) the shifted form is used.
/// Globals with a reference also carry [V, P1, P2] (zeros without one).
///
/// One-pass gradient against the same reference: f∘c = (v∘(v − b) − δ v∘b)/V² and
/// γ = ⟨f,c⟩ = (Σv(v − b) − δ Σvb)/V² = (P1 + P2 − δ(P2 + ⟨b,b⟩))/V², so with the basis
/// β = [v∘(v − b), v∘b, v] the z-gradient g = f∘c − γ f has coefficients [1/V², −δ/V², −γ/V], and the low-rank
/// vectors q below are combinations of the same basis (<see cref="LowRankFromBasis"/>).
///
/// Phase 2 (f_i = exp(z_i − m)/S, c = f − b, γ = ⟨f,c⟩, β = ⟨3f − 2b, f⟩, v = (2f − b)∘f):
///   g = f∘c − γ f
///   exact:        B = β f fᵀ − v fᵀ − f vᵀ + diag(v − γ f)          → D = v − γ f,  q = [f, v],   C = [[β, −1], [−1, 0]]
///   Gauss–Newton: JᵀJ, J = diag(f) − f fᵀ                            → D = f∘f,      q = [f, f∘f], C = [[⟨f,f⟩, −1], [−1, 0]]
///
/// Fused row operators (<see cref="IOwnRowOperators"/>, a complete row with its own normaliser), from the row's
/// values f = softmax(z), b and ⟨f,f⟩, ⟨f,b⟩ alone:
///   loss          ℓ = ½‖f − b‖²
///   gradient      g = f∘(f − b − γ)
///   Gauss–Newton  B y = J(J y):  t = f∘(y − ⟨f,y⟩),  B y = f∘(t − ⟨f,t⟩)
///   exact         B y = f∘(β⟨f,y⟩ − ⟨v,y⟩ − γ y) + v∘(y − ⟨f,y⟩)
/// (the terms above multiplied out), plus w²∘y for a regulariser.
/// </summary>
public sealed class NormalizedSoftmax : IVectorFamily, IOwnRowOperators
{
    public static readonly NormalizedSoftmax Instance = new();
    private static readonly int[] Powers = { 1, 2, 1, 0, 0, 0, 0 };

    public string Name => Families.Normalized;
    public int[] ScalarPowers => Powers;
    public int LowRankCount => 2;

    public ScalarSums LocalScalars(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[]? reference)
    {
        if (z.Length == 0) return ScalarSums.Empty(Powers);
        double m = SpanMath.Max(z);
        double s = 0, s2 = 0, sb = 0, bb = 0, vSum = 0, p1 = 0, p2 = 0;
        // Vectorised over chunks that live on the stack (no per-call heap arrays).
        Span<double> e = stackalloc double[Chunk];
        for (int start = 0; start < z.Length; start += Chunk)
        {
            int len = Math.Min(Chunk, z.Length - start);
            var zc = z.Slice(start, len);
            var bc = b.Slice(start, len);
            var ec = e.Slice(0, len);
            ShiftedExp(zc, m, 1.0, ec);
            s += SpanMath.Sum(ec);
            s2 += SpanMath.SumOfSquares(ec);
            sb += SpanMath.Dot(ec, bc);
            bb += SpanMath.SumOfSquares(bc);
            if (reference is null) continue;
            // v = exp(z − m_r)/S_r and r = v − b, reusing the chunk.
            ShiftedExp(zc, reference[1], reference[2], ec);
            vSum += SpanMath.Sum(ec);
            SpanMath.Subtract(ec, bc, ec);
            p1 += SpanMath.SumOfSquares(ec);
            p2 += SpanMath.Dot(bc, ec);
        }
        return new ScalarSums(m, new[] { s, s2, sb, bb, vSum, p1, p2 }, Powers);
    }

    /// <summary>Elements per stack chunk of the vectorised phase-1 sums.</summary>
    private const int Chunk = 512;

    /// <summary>out = exp(z − shift)/scale, vectorised.</summary>
    private static void ShiftedExp(ReadOnlySpan<double> z, double shift, double scale, Span<double> output)
    {
        SpanMath.Subtract(z, shift, output);
        VectorExp.Exp(output, output);
        if (scale != 1.0) SpanMath.Divide(output, scale, output);
    }

    /// <remarks>
    /// Of the two forms of ℓ the one with the smaller rounding bound wins: ε·(⟨f,f⟩ + 2|⟨f,b⟩| + ⟨b,b⟩) for the shifted
    /// form, ε·(P1 + 2|δ P2| + δ²⟨b,b⟩)/V² for the reference form. Near the reference (V ≈ 1, small residuals) that
    /// is the reference form; at a wild trial point whose mass sits on rows that were negligible at the reference
    /// (V ≪ 1) the reference form would divide cancelled O(1) terms by V² and could read 0, so the shifted form is
    /// used and [V, P1, P2] are reported as zeros: the one-pass gradient is then not available at that point.
    /// </remarks>
    public double[] Globals(ScalarSums merged, double[]? reference)
    {
        double m = merged.Shift, s = merged.Sums[0];
        double ff = merged.Sums[1] / (s * s), fb = merged.Sums[2] / s, bb = merged.Sums[3];
        double loss = 0.5 * Math.Max(0.0, ff - 2 * fb + bb);
        double v = merged.Sums[4], p1 = merged.Sums[5], p2 = merged.Sums[6];
        bool referenceForm = false;
        if (reference is not null && v > 0 && double.IsFinite(v) && double.IsFinite(p1) && double.IsFinite(p2))
        {
            double delta = v - 1;
            double referenceBound = (p1 + 2 * Math.Abs(delta * p2) + delta * delta * bb) / (v * v);
            double shiftedBound = ff + 2 * Math.Abs(fb) + bb;
            if (referenceBound <= shiftedBound)
            {
                loss = 0.5 * Math.Max(0.0, p1 - 2 * delta * p2 + delta * delta * bb) / (v * v);
                referenceForm = true;
            }
        }
        return referenceForm
            ? new[] { loss, m, s, ff, fb, bb, v, p1, p2 }
            : new[] { loss, m, s, ff, fb, bb, 0.0, 0.0, 0.0 };
    }

    public int GradientBasisCount => 3;

    public void GradientBasis(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] reference, Span<double> basis)
    {
        int n = z.Length;
        var v = basis.Slice(2 * n, n);
        ShiftedExp(z, reference[1], reference[2], v);          // β₂ = v
        SpanMath.Multiply(v, b, basis.Slice(n, n));     // β₁ = v∘b
        var b0 = basis.Slice(0, n);
        SpanMath.Subtract(v, b, b0);
        SpanMath.Multiply(b0, v, b0);                   // β₀ = v∘(v − b)
    }

    public double[]? GradientCoefficients(double[] globals, double[] reference)
    {
        double bb = globals[5], v = globals[6], p1 = globals[7], p2 = globals[8];
        if (v == 0) return null; // the reference form was not reliable at this point (see Globals)
        double delta = v - 1, v2 = v * v;
        double gamma = (p1 + p2 - delta * (p2 + bb)) / v2;
        return new[] { 1 / v2, -delta / v2, -gamma / v };
    }

    /// <summary>
    /// f = v/V, so q₁ = f = β₂/V and, with v² = β₀ + β₁: exact q₂ = (2f − b)∘f = 2(β₀ + β₁)/V² − β₁/V,
    /// Gauss–Newton q₂ = f∘f = (β₀ + β₁)/V².
    /// </summary>
    public double[]? LowRankFromBasis(double[] globals, double[] reference, HessianKind kind)
    {
        double v = globals[6], v2 = v * v;
        if (v == 0) return null;
        return kind == HessianKind.Exact
            ? new[] { 0.0, 0.0, 1 / v, 2 / v2, 2 / v2 - 1 / v, 0.0 }
            : new[] { 0.0, 0.0, 1 / v, 1 / v2, 1 / v2, 0.0 };
    }

    public void RowTerms(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] globals, HessianKind kind,
        Span<double> g, Span<double> d, Span<double> q)
    {
        double m = globals[1], s = globals[2];
        var f = q.Slice(0, z.Length);
        ShiftedExp(z, m, s, f);                                 // f = exp(z − m)/S
        TermsFromF(f, b, globals, kind, g, d, q.Slice(z.Length, z.Length));
    }

    /// <summary>
    /// One exponential per entry instead of two: u = exp(z − max z) goes into q's first row, the phase-1 sums
    /// [Σu, Σu², Σu·b, Σb²] are taken from it in one fused pass (the sums <see cref="LocalScalars"/> reports, in another
    /// summation order, so S may differ from theirs in the last bits), then f = u/S in place, as <see cref="RowTerms"/>
    /// forms f from the same S.
    /// </summary>
    public double[] OwnGlobalsAndRowTerms(ReadOnlySpan<double> z, ReadOnlySpan<double> b, HessianKind kind,
        Span<double> g, Span<double> d, Span<double> q)
    {
        if (z.Length == 0) return Globals(ScalarSums.Empty(Powers), null);
        double m = SpanMath.Max(z);
        var u = q.Slice(0, z.Length);
        ShiftedExp(z, m, 1.0, u);
        var (su, suu, sub, sbb) = FourSums(u, b);
        var globals = Globals(new ScalarSums(m, new[] { su, suu, sub, sbb, 0.0, 0.0, 0.0 }, Powers), null);
        SpanMath.Divide(u, globals[2], u);
        TermsFromF(u, b, globals, kind, g, d, q.Slice(z.Length, z.Length));
        return globals;
    }

    /// <summary>(Σu, Σu², Σu·b, Σb²) in one pass over u and b.</summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double U, double UU, double UB, double BB) FourSums(ReadOnlySpan<double> u, ReadOnlySpan<double> b)
    {
        int n = u.Length, i = 0, w = Vector<double>.Count;
        Vector<double> vu = Vector<double>.Zero, vuu = vu, vub = vu, vbb = vu;
        for (; i <= n - w; i += w)
        {
            var x = new Vector<double>(u.Slice(i, w));
            var y = new Vector<double>(b.Slice(i, w));
            vu += x; vuu += x * x; vub += x * y; vbb += y * y;
        }
        double su = Vector.Sum(vu), suu = Vector.Sum(vuu), sub = Vector.Sum(vub), sbb = Vector.Sum(vbb);
        for (; i < n; i++) { su += u[i]; suu += u[i] * u[i]; sub += u[i] * b[i]; sbb += b[i] * b[i]; }
        return (su, suu, sub, sbb);
    }

    /// <summary>
    /// From f (q's first row), one fused pass: g = f∘(c − γ), c = f − b, γ = ⟨f,c⟩ = ⟨f,f⟩ − ⟨f,b⟩; exact:
    /// q₂ = v = (2f − b)∘f, D = v − γ f; Gauss–Newton: q₂ = D = f∘f.
    /// </summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TermsFromF(ReadOnlySpan<double> f, ReadOnlySpan<double> b, double[] globals, HessianKind kind,
        Span<double> g, Span<double> d, Span<double> q2)
    {
        double gamma = globals[3] - globals[4];
        bool exact = kind == HessianKind.Exact;
        int n = f.Length, i = 0, w = Vector<double>.Count;
        var vGamma = new Vector<double>(gamma);
        for (; i <= n - w; i += w)
        {
            var vf = new Vector<double>(f.Slice(i, w));
            var vb = new Vector<double>(b.Slice(i, w));
            (vf * (vf - vb - vGamma)).CopyTo(g.Slice(i, w));
            if (exact)
            {
                var v = (vf + vf - vb) * vf;
                v.CopyTo(q2.Slice(i, w));
                (v - vGamma * vf).CopyTo(d.Slice(i, w));
            }
            else
            {
                var ff = vf * vf;
                ff.CopyTo(q2.Slice(i, w));
                ff.CopyTo(d.Slice(i, w));
            }
        }
        for (; i < n; i++)
        {
            double fi = f[i];
            g[i] = fi * (fi - b[i] - gamma);
            double v = exact ? (2 * fi - b[i]) * fi : fi * fi;
            q2[i] = v;
            d[i] = exact ? v - gamma * fi : v;
        }
    }

    /// <summary>f = exp(z − max z)/Σ exp(z − max z), elementwise passes, so <paramref name="values"/> may be z's storage.</summary>
    public void RowValues(ReadOnlySpan<double> z, Span<double> values)
    {
        if (z.Length == 0) return;
        double m = SpanMath.Max(z);
        ShiftedExp(z, m, 1.0, values);
        SpanMath.Divide(values, SpanMath.Sum(values), values);
    }

    /// <summary>
    /// A row's loss along the ray t ↦ t·m (m a row of M = A1 X A2ᵀ): φ(t) = ½‖f − b‖² with f = softmax(t·m), and its
    /// derivatives in t. With μ = ⟨f, m⟩, ũ = m − μ·1 and ḟ = f∘ũ (so f̈ = f∘(ũ² − ⟨f, ũ²⟩·1)):
    ///   φ′ = ⟨f − b, ḟ⟩,   φ″ = ‖ḟ‖² + ⟨f − b, f∘ũ²⟩ − ⟨f, ũ²⟩·⟨f − b, f⟩,   and its Gauss–Newton part ‖ḟ‖²,
    /// each expanded in the raw sums Σe^p m^q and Σe b m^q of e = exp(t·m − max) (f = e/Σe), which one pass after the
    /// exponentials accumulates. <paramref name="scratch"/>: n values.
    /// </summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public (double Loss, double Slope, double Curvature, double GaussNewton) AlongRay(ReadOnlySpan<double> m, ReadOnlySpan<double> b,
        double t, Span<double> scratch)
    {
        int n = m.Length;
        if (n == 0) return (0, 0, 0, 0);
        var e = scratch.Slice(0, n);
        SpanMath.Multiply(m, t, e);
        ShiftedExp(e, SpanMath.Max(e), 1.0, e);
        // Σe, Σem, Σem², Σe², Σe²m, Σe²m², Σeb, Σebm, Σebm², Σb².
        Vector<double> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default,
            s6 = default, s7 = default, s8 = default, s9 = default;
        int i = 0, w = Vector<double>.Count;
        for (; i <= n - w; i += w)
        {
            var ev = new Vector<double>(e.Slice(i, w));
            var mv = new Vector<double>(m.Slice(i, w));
            var bv = new Vector<double>(b.Slice(i, w));
            var em = ev * mv;
            s0 += ev; s1 += em; s2 += em * mv;
            var ee = ev * ev;
            var eem = ee * mv;
            s3 += ee; s4 += eem; s5 += eem * mv;
            var eb = ev * bv;
            var ebm = eb * mv;
            s6 += eb; s7 += ebm; s8 += ebm * mv;
            s9 += bv * bv;
        }
        double z = Vector.Sum(s0), em1 = Vector.Sum(s1), em2 = Vector.Sum(s2), ee0 = Vector.Sum(s3), ee1 = Vector.Sum(s4),
            ee2 = Vector.Sum(s5), eb0 = Vector.Sum(s6), eb1 = Vector.Sum(s7), eb2 = Vector.Sum(s8), bb = Vector.Sum(s9);
        for (; i < n; i++)
        {
            double ev = e[i], mv = m[i], bv = b[i];
            z += ev; em1 += ev * mv; em2 += ev * mv * mv;
            ee0 += ev * ev; ee1 += ev * ev * mv; ee2 += ev * ev * mv * mv;
            eb0 += ev * bv; eb1 += ev * bv * mv; eb2 += ev * bv * mv * mv;
            bb += bv * bv;
        }
        // The same sums of f = e/z: Σf m^q = Σe m^q / z, Σf² m^q = Σe² m^q / z², Σf b m^q = Σe b m^q / z.
        double z2 = z * z;
        double mu = em1 / z, ff = ee0 / z2, ffm = ee1 / z2, ffmm = ee2 / z2, fb = eb0 / z, fbm = eb1 / z, fbmm = eb2 / z;
        double loss = 0.5 * (ff - 2 * fb + bb);
        double slope = (ffm - mu * ff) - (fbm - mu * fb);               // ⟨ḟ, f⟩ − ⟨ḟ, b⟩
        double rateSquared = ffmm - 2 * mu * ffm + mu * mu * ff;        // ‖ḟ‖² = Σf²ũ² = ⟨f∘ũ², f⟩
        double spreadOnB = fbmm - 2 * mu * fbm + mu * mu * fb;          // ⟨f∘ũ², b⟩
        double spread = em2 / z - mu * mu;                              // ⟨f, ũ²⟩
        double residualOnF = ff - fb;                                   // ⟨f − b, f⟩
        return (loss, slope, 2 * rateSquared - spreadOnB - spread * residualOnF, rateSquared);
    }

    /// <summary>f = softmax(z) with the exponentials in single precision where 512-bit vectors run
    /// (<see cref="SingleTermProducts.ValuesFromSingleM"/>), else <see cref="RowValues"/>.</summary>
    public void RowValuesFromSingleM(ReadOnlySpan<double> z, Span<double> values, Span<float> scratch)
    {
        if (z.Length == 0) return;
        if (SingleExp.Available) SingleTermProducts.ValuesFromSingleM(z, values, scratch);
        else RowValues(z, values);
    }

    /// <summary><see cref="RowValuesFromSingleM"/> from the float row itself.</summary>
    public void RowValuesFromSingleLogits(ReadOnlySpan<float> z, Span<double> values, Span<float> scratch)
    {
        if (z.Length == 0) return;
        if (SingleExp.Available) SingleTermProducts.ValuesFromSingleLogits(z, values, scratch);
        else
        {
            SpanMath.Widen(z, values);
            RowValues(values, values);
        }
    }

    /// <summary>½‖f − b‖², one pass.</summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double HalfSquaredResidual(ReadOnlySpan<double> values, ReadOnlySpan<double> b)
    {
        // The same sum as GradientPass's, so a row's loss does not depend on whether its gradient was asked for.
        if (SingleTermProducts.Available) return 0.5 * SingleTermProducts.Sums(values, b).Cc;
        int n = values.Length, i = 0, w = Vector<double>.Count;
        var acc = Vector<double>.Zero;
        for (; i <= n - w; i += w)
        {
            var c = new Vector<double>(values.Slice(i, w)) - new Vector<double>(b.Slice(i, w));
            acc += c * c;
        }
        double sum = Vector.Sum(acc);
        for (; i < n; i++) { double c = values[i] - b[i]; sum += c * c; }
        return 0.5 * sum;
    }

    public void Gradient(ReadOnlySpan<double> values, ReadOnlySpan<double> b, Span<double> g)
    {
        if (SingleTermProducts.Available)
        {
            // γ from the same sums as GradientPass's, so a row's gradient does not depend on the request.
            SingleTermProducts.GradientPass(values, b, g, default, default);
            return;
        }
        var (_, ff, fb, _) = FourSums(values, b);
        GradientFromF(values, b, ff - fb, g);
    }

    /// <summary>
    /// ½‖f − b‖², g and (where <paramref name="terms"/> is not empty) the single-precision terms in two passes over the
    /// row (<see cref="SingleTermProducts.GradientPass"/>) where 512-bit vectors run, else by the separate operators.
    /// </summary>
    public double GradientPass(ReadOnlySpan<double> values, ReadOnlySpan<double> b, Span<double> g, Span<float> terms, Span<double> sums)
    {
        if (SingleTermProducts.Available) return SingleTermProducts.GradientPass(values, b, g, terms, sums);
        if (!terms.IsEmpty) SingleRowTerms(values, b, terms, sums);
        Gradient(values, b, g);
        return HalfSquaredResidual(values, b);
    }

    public void HessianProduct(ReadOnlySpan<double> values, ReadOnlySpan<double> b, HessianKind kind, ReadOnlySpan<double> w2,
        Span<double> y, Span<double> scratch)
    {
        if (values.Length == 0) return;
        if (kind == HessianKind.Exact)
        {
            var (_, ff, fb, _) = FourSums(values, b);
            ExactProduct(values, b, ff - fb, 3 * ff - 2 * fb, w2, y);
        }
        else GaussNewtonProduct(values, w2, y, scratch.Slice(0, values.Length));
    }

    /// <summary>q = [f, q₂], D and C from f: <see cref="TermsFromF"/>'s and <see cref="LowRankCoefficients"/>'s (g into <paramref name="d"/>, then overwritten).</summary>
    public void TermsFromValues(ReadOnlySpan<double> values, ReadOnlySpan<double> b, HessianKind kind, Span<double> d, Span<double> q, Span<double> c)
    {
        int n = values.Length;
        var (_, ff, fb, _) = FourSums(values, b);
        values.CopyTo(q.Slice(0, n));
        double[] globals = [0, 0, 1, ff, fb];
        TermsFromF(values, b, globals, kind, d, d, q.Slice(n, n));
        LowRankCoefficients(globals, kind).AsSpan(0, 4).CopyTo(c);
    }

    /// <summary>
    /// The factor terms of <see cref="TermsFromValues"/> in one pass over f (two for the exact kind, whose q₂ and D need
    /// γ = ⟨f,f⟩ − ⟨f,b⟩ first): q = [f, q₂] narrowed, D = q₂ (Gauss–Newton: f∘f) or v − γ f (exact: v = (2f − b)∘f)
    /// added to the diagonal sums, ⟨D, ‖a2‖²⟩ returned, C from <see cref="LowRankCoefficients"/>.
    /// </summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double FactorTermsSingle(ReadOnlySpan<double> values, ReadOnlySpan<double> b, HessianKind kind, Span<float> q,
        Span<double> c, Span<double> diagonal, double weight, ReadOnlySpan<double> columnNorms)
    {
        int n = values.Length, i = 0, w = Vector<double>.Count;
        bool exact = kind == HessianKind.Exact;
        double ff, fb = 0;
        if (exact) (_, ff, fb, _) = FourSums(values, b);
        else ff = SpanMath.Dot(values, values);
        double gamma = ff - fb;
        var q1 = q.Slice(0, n);
        var q2 = q.Slice(n, n);
        Vector<double> vGamma = new(gamma), vWeight = new(weight), trace = Vector<double>.Zero;
        for (; i <= n - 2 * w; i += 2 * w)
        {
            var f0 = new Vector<double>(values.Slice(i, w));
            var f1 = new Vector<double>(values.Slice(i + w, w));
            Vector<double> v0, v1, d0, d1;
            if (exact)
            {
                v0 = (f0 + f0 - new Vector<double>(b.Slice(i, w))) * f0;
                v1 = (f1 + f1 - new Vector<double>(b.Slice(i + w, w))) * f1;
                d0 = v0 - vGamma * f0;
                d1 = v1 - vGamma * f1;
            }
            else
            {
                v0 = d0 = f0 * f0;
                v1 = d1 = f1 * f1;
            }
            Vector.Narrow(f0, f1).CopyTo(q1.Slice(i, 2 * w));
            Vector.Narrow(v0, v1).CopyTo(q2.Slice(i, 2 * w));
            var diag0 = diagonal.Slice(i, w);
            var diag1 = diagonal.Slice(i + w, w);
            (new Vector<double>(diag0) + vWeight * d0).CopyTo(diag0);
            (new Vector<double>(diag1) + vWeight * d1).CopyTo(diag1);
            trace += d0 * new Vector<double>(columnNorms.Slice(i, w)) + d1 * new Vector<double>(columnNorms.Slice(i + w, w));
        }
        double t = Vector.Sum(trace);
        for (; i < n; i++)
        {
            double f = values[i];
            double v = exact ? (2 * f - b[i]) * f : f * f;
            double dv = exact ? v - gamma * f : v;
            q1[i] = (float)f;
            q2[i] = (float)v;
            diagonal[i] += weight * dv;
            t += dv * columnNorms[i];
        }
        LowRankCoefficients([0, 0, 1, ff, fb], kind).AsSpan(0, 4).CopyTo(c);
        return t;
    }

    /// <summary>g = f∘(f − b − γ), one pass.</summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradientFromF(ReadOnlySpan<double> f, ReadOnlySpan<double> b, double gamma, Span<double> g)
    {
        int n = f.Length, i = 0, w = Vector<double>.Count;
        var vGamma = new Vector<double>(gamma);
        for (; i <= n - w; i += w)
        {
            var vf = new Vector<double>(f.Slice(i, w));
            (vf * (vf - new Vector<double>(b.Slice(i, w)) - vGamma)).CopyTo(g.Slice(i, w));
        }
        for (; i < n; i++) g[i] = f[i] * (f[i] - b[i] - gamma);
    }

    /// <summary>y ← J(J y) + w²∘y, J = diag(f) − f fᵀ: t = f∘(y − ⟨f,y⟩) (into <paramref name="t"/>), then f∘(t − ⟨f,t⟩).</summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GaussNewtonProduct(ReadOnlySpan<double> f, ReadOnlySpan<double> w2, Span<double> y, Span<double> t)
    {
        int n = f.Length, w = Vector<double>.Count, i;
        double fy = SpanMath.Dot(f, y);
        var vFy = new Vector<double>(fy);
        var acc = Vector<double>.Zero;
        for (i = 0; i <= n - w; i += w)
        {
            var vf = new Vector<double>(f.Slice(i, w));
            var vt = vf * (new Vector<double>(y.Slice(i, w)) - vFy);
            vt.CopyTo(t.Slice(i, w));
            acc += vf * vt;
        }
        double ft = Vector.Sum(acc);
        for (; i < n; i++) { t[i] = f[i] * (y[i] - fy); ft += f[i] * t[i]; }
        var vFt = new Vector<double>(ft);
        bool regularised = !w2.IsEmpty;
        for (i = 0; i <= n - w; i += w)
        {
            var result = new Vector<double>(f.Slice(i, w)) * (new Vector<double>(t.Slice(i, w)) - vFt);
            if (regularised) result += new Vector<double>(w2.Slice(i, w)) * new Vector<double>(y.Slice(i, w));
            result.CopyTo(y.Slice(i, w));
        }
        for (; i < n; i++) y[i] = f[i] * (t[i] - ft) + (regularised ? w2[i] * y[i] : 0);
    }

    public void HessianProductSingle(ReadOnlySpan<double> values, ReadOnlySpan<double> b, HessianKind kind, ReadOnlySpan<double> w2,
        Span<float> y, Span<double> scratch)
    {
        if (values.Length == 0) return;
        if (WideRowProducts.Available)
        {
            if (kind == HessianKind.Exact) WideRowProducts.Exact(values, b, w2, y);
            else WideRowProducts.GaussNewton(values, w2, y, scratch);
        }
        else if (kind == HessianKind.Exact) ExactProductSingle(values, b, w2, y);
        else GaussNewtonProductSingle(values, w2, y, scratch);
    }

    public bool SingleRowTermsAvailable => SingleTermProducts.Available;

    /// <summary>f and v = (2f − b)∘f rounded to single precision, ⟨f,f⟩ and ⟨f,b⟩ in double (<see cref="SingleTermProducts.Write"/>).</summary>
    public void SingleRowTerms(ReadOnlySpan<double> values, ReadOnlySpan<double> b, Span<float> terms, Span<double> sums) =>
        SingleTermProducts.Write(values, b, terms, sums);

    /// <summary>f = softmax(z) in single precision, then as <see cref="SingleRowTerms"/> (<see cref="SingleTermProducts.WriteFromLogits"/>).</summary>
    public void SingleRowTermsFromLogits(ReadOnlySpan<float> z, ReadOnlySpan<double> b, Span<float> terms, Span<double> sums) =>
        SingleTermProducts.WriteFromLogits(z, b, terms, sums);

    /// <summary>Exact: <see cref="SingleTermProducts.ExactFromValues"/>; Gauss–Newton needs f alone
    /// (<see cref="SingleTermProducts.GaussNewton"/>).</summary>
    public void HessianProductFromSingleValues(ReadOnlySpan<float> values, ReadOnlySpan<double> b, HessianKind kind, Span<float> y)
    {
        if (y.Length == 0) return;
        if (kind == HessianKind.Exact) SingleTermProducts.ExactFromValues(values, b, y);
        else SingleTermProducts.GaussNewton(values, y);
    }

    public void HessianProductFromSingleTerms(ReadOnlySpan<float> terms, ReadOnlySpan<double> sums, HessianKind kind, Span<float> y)
    {
        if (y.Length == 0) return;
        if (kind == HessianKind.Exact) SingleTermProducts.Exact(terms, sums, y);
        else SingleTermProducts.GaussNewton(terms, y);
    }

    /// <summary>
    /// <see cref="GaussNewtonProduct"/> on a float y: each Vector&lt;float&gt; of y widened to two Vector&lt;double&gt;,
    /// the sums and t in double, the result narrowed back.
    /// </summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void GaussNewtonProductSingle(ReadOnlySpan<double> f, ReadOnlySpan<double> w2, Span<float> y, Span<double> scratch)
    {
        int n = f.Length, wd = Vector<double>.Count, wf = Vector<float>.Count, i;
        var t = scratch.Slice(0, n);
        var acc = Vector<double>.Zero;
        for (i = 0; i <= n - wf; i += wf)
        {
            Vector.Widen(new Vector<float>(y.Slice(i, wf)), out var lo, out var hi);
            acc += new Vector<double>(f.Slice(i, wd)) * lo + new Vector<double>(f.Slice(i + wd, wd)) * hi;
        }
        double fy = Vector.Sum(acc);
        for (; i < n; i++) fy += f[i] * y[i];
        var vFy = new Vector<double>(fy);
        acc = Vector<double>.Zero;
        for (i = 0; i <= n - wf; i += wf)
        {
            Vector.Widen(new Vector<float>(y.Slice(i, wf)), out var lo, out var hi);
            var fLo = new Vector<double>(f.Slice(i, wd));
            var fHi = new Vector<double>(f.Slice(i + wd, wd));
            var tLo = fLo * (lo - vFy);
            var tHi = fHi * (hi - vFy);
            tLo.CopyTo(t.Slice(i, wd));
            tHi.CopyTo(t.Slice(i + wd, wd));
            acc += fLo * tLo + fHi * tHi;
        }
        double ft = Vector.Sum(acc);
        for (; i < n; i++) { t[i] = f[i] * (y[i] - fy); ft += f[i] * t[i]; }
        var vFt = new Vector<double>(ft);
        bool regularised = !w2.IsEmpty;
        for (i = 0; i <= n - wf; i += wf)
        {
            var lo = new Vector<double>(f.Slice(i, wd)) * (new Vector<double>(t.Slice(i, wd)) - vFt);
            var hi = new Vector<double>(f.Slice(i + wd, wd)) * (new Vector<double>(t.Slice(i + wd, wd)) - vFt);
            if (regularised)
            {
                Vector.Widen(new Vector<float>(y.Slice(i, wf)), out var yLo, out var yHi);
                lo += new Vector<double>(w2.Slice(i, wd)) * yLo;
                hi += new Vector<double>(w2.Slice(i + wd, wd)) * yHi;
            }
            Vector.Narrow(lo, hi).CopyTo(y.Slice(i, wf));
        }
        for (; i < n; i++) y[i] = (float)(f[i] * (t[i] - ft) + (regularised ? w2[i] * y[i] : 0));
    }

    /// <summary>
    /// <see cref="ExactProduct"/> on a float y, two passes instead of three: the first gathers ⟨f,y⟩, ⟨v,y⟩ and the
    /// row's own ⟨f,f⟩, ⟨f,b⟩ (so γ = ⟨f,f⟩ − ⟨f,b⟩ and β = 3⟨f,f⟩ − 2⟨f,b⟩) with each Vector&lt;float&gt; of y widened
    /// to two Vector&lt;double&gt;; the second writes y ← f∘(β⟨f,y⟩ − ⟨v,y⟩ − γ y) + v∘(y − ⟨f,y⟩) + w²∘y narrowed back.
    /// </summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ExactProductSingle(ReadOnlySpan<double> f, ReadOnlySpan<double> b, ReadOnlySpan<double> w2, Span<float> y)
    {
        int n = f.Length, wd = Vector<double>.Count, wf = Vector<float>.Count, i;
        Vector<double> accFy = Vector<double>.Zero, accVy = accFy, accFf = accFy, accFb = accFy;
        for (i = 0; i <= n - wf; i += wf)
        {
            Vector.Widen(new Vector<float>(y.Slice(i, wf)), out var yLo, out var yHi);
            var fLo = new Vector<double>(f.Slice(i, wd));
            var fHi = new Vector<double>(f.Slice(i + wd, wd));
            var bLo = new Vector<double>(b.Slice(i, wd));
            var bHi = new Vector<double>(b.Slice(i + wd, wd));
            var fyLo = fLo * yLo;
            var fyHi = fHi * yHi;
            accFy += fyLo + fyHi;
            accVy += (fLo + fLo - bLo) * fyLo + (fHi + fHi - bHi) * fyHi;
            accFf += fLo * fLo + fHi * fHi;
            accFb += fLo * bLo + fHi * bHi;
        }
        double fy = Vector.Sum(accFy), vy0 = Vector.Sum(accVy), ff = Vector.Sum(accFf), fb = Vector.Sum(accFb);
        for (; i < n; i++)
        {
            double fyi = f[i] * y[i];
            fy += fyi;
            vy0 += (2 * f[i] - b[i]) * fyi;
            ff += f[i] * f[i];
            fb += f[i] * b[i];
        }
        double gamma = ff - fb, head = (3 * ff - 2 * fb) * fy - vy0;
        var vHead = new Vector<double>(head);
        var vGamma = new Vector<double>(gamma);
        var vFy = new Vector<double>(fy);
        bool regularised = !w2.IsEmpty;
        for (i = 0; i <= n - wf; i += wf)
        {
            Vector.Widen(new Vector<float>(y.Slice(i, wf)), out var yLo, out var yHi);
            var fLo = new Vector<double>(f.Slice(i, wd));
            var fHi = new Vector<double>(f.Slice(i + wd, wd));
            var vLo = (fLo + fLo - new Vector<double>(b.Slice(i, wd))) * fLo;
            var vHi = (fHi + fHi - new Vector<double>(b.Slice(i + wd, wd))) * fHi;
            var lo = fLo * (vHead - vGamma * yLo) + vLo * (yLo - vFy);
            var hi = fHi * (vHead - vGamma * yHi) + vHi * (yHi - vFy);
            if (regularised)
            {
                lo += new Vector<double>(w2.Slice(i, wd)) * yLo;
                hi += new Vector<double>(w2.Slice(i + wd, wd)) * yHi;
            }
            Vector.Narrow(lo, hi).CopyTo(y.Slice(i, wf));
        }
        for (; i < n; i++)
        {
            double v = (2 * f[i] - b[i]) * f[i];
            y[i] = (float)(f[i] * (head - gamma * y[i]) + v * (y[i] - fy) + (regularised ? w2[i] * y[i] : 0));
        }
    }

    /// <summary>
    /// y ← f∘(β⟨f,y⟩ − ⟨v,y⟩ − γ y) + v∘(y − ⟨f,y⟩) + w²∘y with v = (2f − b)∘f formed on the fly: two passes.
    /// </summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ExactProduct(ReadOnlySpan<double> f, ReadOnlySpan<double> b, double gamma, double beta,
        ReadOnlySpan<double> w2, Span<double> y)
    {
        int n = f.Length, w = Vector<double>.Count, i;
        Vector<double> accF = Vector<double>.Zero, accV = accF;
        for (i = 0; i <= n - w; i += w)
        {
            var vf = new Vector<double>(f.Slice(i, w));
            var vy = new Vector<double>(y.Slice(i, w));
            accF += vf * vy;
            accV += (vf + vf - new Vector<double>(b.Slice(i, w))) * vf * vy;
        }
        double fy = Vector.Sum(accF), vy0 = Vector.Sum(accV);
        for (; i < n; i++) { fy += f[i] * y[i]; vy0 += (2 * f[i] - b[i]) * f[i] * y[i]; }
        double head = beta * fy - vy0;
        var vHead = new Vector<double>(head);
        var vGamma = new Vector<double>(gamma);
        var vFy = new Vector<double>(fy);
        bool regularised = !w2.IsEmpty;
        for (i = 0; i <= n - w; i += w)
        {
            var vf = new Vector<double>(f.Slice(i, w));
            var vy = new Vector<double>(y.Slice(i, w));
            var v = (vf + vf - new Vector<double>(b.Slice(i, w))) * vf;
            var result = vf * (vHead - vGamma * vy) + v * (vy - vFy);
            if (regularised) result += new Vector<double>(w2.Slice(i, w)) * vy;
            result.CopyTo(y.Slice(i, w));
        }
        for (; i < n; i++)
        {
            double v = (2 * f[i] - b[i]) * f[i];
            y[i] = f[i] * (head - gamma * y[i]) + v * (y[i] - fy) + (regularised ? w2[i] * y[i] : 0);
        }
    }

    public double[] LowRankCoefficients(double[] globals, HessianKind kind)
    {
        double ff = globals[3], fb = globals[4];
        double beta = kind == HessianKind.Exact ? 3 * ff - 2 * fb : ff;
        return new[] { beta, -1.0, -1.0, 0.0 };
    }
}
