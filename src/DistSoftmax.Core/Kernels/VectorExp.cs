using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// y = exp(x) elementwise, four doubles at a time.
/// <para>
/// Why not <c>TensorPrimitives.Exp</c>: its vector loop calls the runtime's generic <c>VectorMath.ExpDouble</c>, which
/// no ReadyToRun image holds (an instantiation over a vector type) and which has no loop, so it starts as unoptimised
/// tier-0 code; the command line delays tier-1 recompilation past a solve (DistSoftmax.Cli.csproj), and in a
/// 4096×64 multiple-softmax solve that tier-0 exponential was 17.5 % of all CPU (`perf`). This kernel's loop is
/// compiled fully optimised at its first call (QuickJitForLoops is off) with the polynomial inlined, never at tier 0:
/// 8 % of the same solve's CPU. (crossgen2 leaves it out of the ReadyToRun image, as it does other methods that
/// compute on Vector256 values, so that first call costs one compilation.)
/// </para>
/// <para>
/// Method (docs/MATH.md, "Exponentials"): x = k·ln 2 + r with k = round(x·log₂e) and |r| ≤ ½ln 2 (ln 2 split into a
/// high part whose product with k is exact and a low part); exp(r) by its Taylor polynomial to degree 13 (truncation
/// below 5e-18 relative) in Horner form with fused multiply-adds; then the exact scaling by 2^k built in the exponent
/// bits. Within one unit in the last place of <see cref="Math.Exp"/> on 10⁵ arguments (tested to two). Vectors with any lane outside
/// [<see cref="VectorMin"/>, <see cref="VectorMax"/>] — where 2^k would leave the normal range — or a NaN take
/// <see cref="Math.Exp"/> lane by lane, as does the tail.
/// </para>
/// </summary>
public static class VectorExp
{
    /// <summary>Smallest argument the vector path takes: exp(x) and 2^k stay normal (k ≥ −1021).</summary>
    public const double VectorMin = -708.0;

    /// <summary>Largest argument the vector path takes: 2^k stays finite (k ≤ 1023).</summary>
    public const double VectorMax = 709.0;

    private const double Log2E = 1.4426950408889634;

    /// <summary>1.5·2⁵²: adding it rounds a double of magnitude below 2⁵¹ to an integer, which sits in the low mantissa bits.</summary>
    private const double RoundingShift = 6755399441055744.0;

    /// <summary>exp(x) into y (same length or longer); y may be x itself, not a partly overlapping span.</summary>
    public static void Exp(ReadOnlySpan<double> x, Span<double> y) => VectorMap.Apply<ExpFunction>(x, y);

    /// <summary>exp of four arguments inside a caller's fused loop: the values <see cref="Exp(ReadOnlySpan{double}, Span{double})"/>
    /// gives (<see cref="VectorMap.Map{TFunction}"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Exp(Vector256<double> x) => VectorMap.Map<ExpFunction>(x);

    /// <summary>The kernel on [<see cref="VectorMin"/>, <see cref="VectorMax"/>], <see cref="Math.Exp"/> elsewhere.</summary>
    private readonly struct ExpFunction : IVectorFunction
    {
        public static double VectorMin => VectorExp.VectorMin;
        public static double VectorMax => VectorExp.VectorMax;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<double> Vector(Vector256<double> x) => Core(x);
        public static double Scalar(double x) => Math.Exp(x);
    }

    /// <summary>exp of four arguments in [<see cref="VectorMin"/>, <see cref="VectorMax"/>].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Core(Vector256<double> x)
    {
        // t = x·log₂e + 1.5·2⁵² rounds k into t's low bits; k = t − 1.5·2⁵² as a double.
        var t = Vector256.FusedMultiplyAdd(x, Vector256.Create(Log2E), Vector256.Create(RoundingShift));
        var k = t - Vector256.Create(RoundingShift);
        var r = Vector256.FusedMultiplyAdd(k, Vector256.Create(-DoubleFormat.Ln2High), x);
        r = Vector256.FusedMultiplyAdd(k, Vector256.Create(-DoubleFormat.Ln2Low), r);
        // exp(r) = Σ_{j ≤ 13} r^j / j!, Horner from the top.
        var p = Vector256.Create(1.0 / 6227020800.0);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 479001600.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 39916800.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 3628800.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 362880.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 40320.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 5040.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 720.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 120.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 24.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0 / 6.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.0));
        // 2^k from its exponent bits: k is the difference of t's bits and the shift's (|k| ≤ 1023 here).
        var kBits = t.AsInt64() - Vector256.Create(BitConverter.DoubleToInt64Bits(RoundingShift));
        var scale = Vector256.ShiftLeft(kBits + Vector256.Create(DoubleFormat.ExponentBias), DoubleFormat.MantissaBits).AsDouble();
        return p * scale;
    }
}
