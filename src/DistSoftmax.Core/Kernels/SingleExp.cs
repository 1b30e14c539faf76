using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// exp(x) on sixteen floats at a time, for the single-precision softmax of a matrix shard's rows (whose arguments are
/// z − max z ≤ 0): the method of <see cref="VectorExp"/> in single precision. x = k·ln 2 + r with k = round(x·log₂e)
/// and |r| ≤ ½ln 2 (ln 2 split so that k·high is exact), exp(r) by its Taylor polynomial to degree 7 (truncation below
/// 6e-9 relative) in Horner form with fused multiply-adds, then the exact scaling by 2^k built in the exponent bits.
/// Within 3e-7 relative of <see cref="Math.Exp"/> on [<see cref="Min"/>, <see cref="Max"/>] (tested); below
/// <see cref="Min"/> — where exp(x) is under float's smallest normal, 1.2e-38 — the result is 0, above <see cref="Max"/> ∞;
/// NaN gives NaN.
/// Needs 512-bit vectors (<see cref="Available"/>).
/// </summary>
public static class SingleExp
{
    /// <summary>Smallest argument with a normal result: exp(x) and 2^k stay ≥ 2⁻¹²⁶.</summary>
    public const float Min = -87.0f;

    /// <summary>Largest argument with a finite result.</summary>
    public const float Max = 88.0f;

    /// <summary>Whether the kernel runs here.</summary>
    public static bool Available => Vector512.IsHardwareAccelerated;

    private const float Log2E = 1.44269504f;
    /// <summary>ln 2 = high + low; high has 12 trailing zero bits, so k·high is exact for |k| ≤ 2¹².</summary>
    private const float Ln2High = 0.693145752f, Ln2Low = 1.42860677e-6f;
    /// <summary>1.5·2²³: adding it rounds a float of magnitude below 2²² to an integer, in the low mantissa bits.</summary>
    private const float RoundingShift = 12582912.0f;
    private const int ExponentBias = 127, MantissaBits = 23;

    /// <summary>exp of sixteen arguments (see the class summary for the range).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var clamped = Vector512.Min(Vector512.Max(x, Vector512.Create(Min)), Vector512.Create(Max));
        var t = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(Log2E), Vector512.Create(RoundingShift));
        var k = t - Vector512.Create(RoundingShift);
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2High), clamped);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Low), r);
        // exp(r) = Σ_{j ≤ 7} r^j / j!, Horner from the top.
        var p = Vector512.Create(1.0f / 5040.0f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0f / 720.0f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0f / 120.0f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0f / 24.0f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0f / 6.0f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0f));
        // 2^k from its exponent bits: k is the difference of t's bits and the shift's (−126 ≤ k ≤ 127 here).
        var kBits = t.AsInt32() - Vector512.Create(BitConverter.SingleToInt32Bits(RoundingShift));
        var scale = Vector512.ShiftLeft(kBits + Vector512.Create(ExponentBias), MantissaBits).AsSingle();
        var e = p * scale;
        e = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(Min)), Vector512<float>.Zero, e);
        e = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(Max)), Vector512.Create(float.PositiveInfinity), e);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), e, x);   // NaN stays NaN
    }

    /// <summary>
    /// y = exp(x − <paramref name="shift"/>) elementwise (a softmax row's numerators, shift = max x) and Σ y, summed in
    /// double; the loop holds the kernel inlined (a call per vector cost as much as the polynomial).
    /// </summary>
    public static double ExpShiftedSum(ReadOnlySpan<float> x, float shift, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException("Destination is too short.", nameof(y));
        int n = x.Length, w = Vector512<float>.Count, i;
        ref float rx = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref float ry = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        var vShift = Vector512.Create(shift);
        var total = Vector512<double>.Zero;
        for (i = 0; i <= n - w; i += w)
        {
            var e = Exp(Vector512.LoadUnsafe(ref rx, (nuint)i) - vShift);
            e.StoreUnsafe(ref ry, (nuint)i);
            var (lo, hi) = Vector512.Widen(e);
            total += lo + hi;
        }
        double sum = Vector512.Sum(total);
        if (i < n)
        {
            Span<float> tail = stackalloc float[w];
            tail.Fill(float.NegativeInfinity);   // exp(−∞) = 0: the padding adds nothing to the sum
            x[i..].CopyTo(tail);
            var e = Exp(Vector512.Create<float>(tail) - vShift);
            e.CopyTo(tail);
            tail[..(n - i)].CopyTo(y[i..]);
            for (int k = 0; k < n - i; k++) sum += tail[k];
        }
        return sum;
    }
}
