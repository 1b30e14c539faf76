using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// y = ln(x) elementwise, four doubles at a time (the log-linear start takes n logarithms a row of B).
/// <para>
/// Why not <c>Math.Log</c> a value at a time: one call per entry took about half of the start's pass at n = 4096, d = 64;
/// and not <c>TensorPrimitives.Log</c>: in the installed build its vector loop ran as unoptimised runtime code (see
/// <see cref="VectorExp"/> for the same trap with the exponential).
/// </para>
/// <para>
/// Method: x = 2^e·m with m ∈ [√½, √2) read from the bits (e from the exponent field, m the mantissa with the
/// exponent of 1, halved and e raised by one when above √2); ln m = 2 atanh(s) = 2 Σ_{j ≤ 10} s^(2j+1)/(2j+1) with
/// s = (m − 1)/(m + 1), |s| ≤ 0.1716 (truncation below 1e-17 relative), in Horner form with fused multiply-adds in
/// s²; then ln x = e·ln 2 + ln m with ln 2 split into a high part whose product with e is exact and a low part.
/// Within a few units in the last place of <see cref="Math.Log"/> (tested). Vectors with any lane that is not a
/// positive normal finite number take <see cref="Math.Log"/> lane by lane, as does the tail.
/// </para>
/// </summary>
public static class VectorLog
{
    private const double Sqrt2 = 1.4142135623730951;
    /// <summary>2⁵² as bits: or-ing a small integer into its mantissa and subtracting 2⁵² gives that integer as a double.</summary>
    private const long TwoTo52Bits = 0x4330000000000000;
    private const long MantissaMask = 0x000FFFFFFFFFFFFF, OneBits = 0x3FF0000000000000;

    /// <summary>2⁻¹⁰²², the smallest normal double.</summary>
    private const double SmallestNormal = 2.2250738585072014e-308;

    /// <summary>ln(x) into y (same length or longer); y may be x itself, not a partly overlapping span.</summary>
    public static void Log(ReadOnlySpan<double> x, Span<double> y) => VectorMap.Apply<LogFunction>(x, y);

    /// <summary>The kernel on the positive normal finite numbers, <see cref="Math.Log"/> elsewhere.</summary>
    private readonly struct LogFunction : IVectorFunction
    {
        public static double VectorMin => SmallestNormal;
        public static double VectorMax => double.MaxValue;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<double> Vector(Vector256<double> x) => Core(x);
        public static double Scalar(double x) => Math.Log(x);
    }

    /// <summary>ln of four positive normal finite arguments.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Core(Vector256<double> x)
    {
        var bits = x.AsInt64();
        // The biased exponent as a double (exact: it is below 2⁵²), and the mantissa m ∈ [1, 2).
        var biased = (Vector256.ShiftRightLogical(bits, DoubleFormat.MantissaBits) | Vector256.Create(TwoTo52Bits)).AsDouble()
                     - Vector256.Create(BitConverter.Int64BitsToDouble(TwoTo52Bits));
        var m = ((bits & Vector256.Create(MantissaMask)) | Vector256.Create(OneBits)).AsDouble();
        var above = Vector256.GreaterThan(m, Vector256.Create(Sqrt2));
        m = Vector256.ConditionalSelect(above, m * Vector256.Create(0.5), m);
        var e = biased - Vector256.Create((double)DoubleFormat.ExponentBias) + (above & Vector256.Create(1.0));
        var one = Vector256.Create(1.0);
        var s = (m - one) / (m + one);
        var s2 = s * s;
        // atanh(s)/s = Σ_{j ≤ 10} s^(2j) / (2j + 1), Horner in s² from the top.
        var p = Vector256.Create(1.0 / 21);
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(1.0 / 19));
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(1.0 / 17));
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(1.0 / 15));
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(1.0 / 13));
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(1.0 / 11));
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(1.0 / 9));
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(1.0 / 7));
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(1.0 / 5));
        p = Vector256.FusedMultiplyAdd(p, s2, Vector256.Create(1.0 / 3));
        // ln m = 2s + 2s·s²·p: the leading term kept apart so its rounding is s's alone.
        var twoS = s + s;
        var lnM = Vector256.FusedMultiplyAdd(twoS * s2, p, twoS);
        return Vector256.FusedMultiplyAdd(e, Vector256.Create(DoubleFormat.Ln2High), Vector256.FusedMultiplyAdd(e, Vector256.Create(DoubleFormat.Ln2Low), lnM));
    }
}
