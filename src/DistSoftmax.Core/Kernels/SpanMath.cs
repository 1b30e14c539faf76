using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// The element-wise operations and reductions on double spans that the solvers, shards and analyses use, with the
/// signatures and meaning of <c>System.Numerics.Tensors.TensorPrimitives</c>' double overloads, in <see cref="Vector128"/>
/// code that the ReadyToRun image holds. TensorPrimitives' generic code tests <c>Vector512.IsHardwareAccelerated</c>, so
/// no image can hold it: every operation was compiled at its first call, 4–6 ms each (14 ms for the first), ≈ 15 of them
/// on a solve's first iteration. These two-lane loops run precompiled from their first call (on 10⁵ values, memory-bound,
/// as fast or faster: subtract 0.03 against 0.10 ms, dot 0.02 against 0.03 ms); spans of <see cref="WideFrom"/> values
/// or more go to <see cref="WideSpanMath"/> (the widest accelerated vector, small methods compiled at first use), where
/// two lanes would be half TensorPrimitives' speed on data in cache. Element-wise operations may write in place
/// (destination = an input) and give the same values either way; reductions keep several partial sums, so their
/// rounding differs from a left-to-right sum only in the last bits. Lengths are checked as TensorPrimitives checks them.
/// The element-wise two-lane loops are shared through <see cref="ISpanOp"/> (generic over the operation only: the image
/// holds those instantiations), not through <see cref="ILanes{TVector}"/> as WideSpanMath's are: instantiations with
/// Vector128 as a type argument were refused by the image and compiled at first call, like those over Vector256 and
/// Vector512 (checked with DOTNET_JitDisasmSummary=1).
/// </summary>
public static class SpanMath
{
    /// <summary>Doubles in one <see cref="Vector128{T}"/>.</summary>
    private const int Lanes = 2;

    /// <summary>Values per step of the reductions: four accumulators of <see cref="Lanes"/> each.</summary>
    private const int ReductionStep = 4 * Lanes;

    /// <summary>Spans at least this long go to <see cref="WideSpanMath"/> (eight 512-bit vectors).</summary>
    public const int WideFrom = 64;

    // ------------------------------------------------------------------ reductions

    /// <summary>Σ xᵢyᵢ.</summary>
    public static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        SameLength(x, y);
        if (x.Length >= WideFrom) return WideSpanMath.Dot(x, y);
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        var a0 = Vector128<double>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int n = x.Length, i = 0;
        for (; i <= n - ReductionStep; i += ReductionStep)
        {
            a0 += Load(ref xr, i) * Load(ref yr, i);
            a1 += Load(ref xr, i + 2) * Load(ref yr, i + 2);
            a2 += Load(ref xr, i + 4) * Load(ref yr, i + 4);
            a3 += Load(ref xr, i + 6) * Load(ref yr, i + 6);
        }
        double sum = Vector128.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += x[i] * y[i];
        return sum;
    }

    /// <summary>Σ xᵢ.</summary>
    public static double Sum(ReadOnlySpan<double> x)
    {
        if (x.Length >= WideFrom) return WideSpanMath.Sum(x);
        ref double xr = ref MemoryMarshal.GetReference(x);
        var a0 = Vector128<double>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int n = x.Length, i = 0;
        for (; i <= n - ReductionStep; i += ReductionStep)
        {
            a0 += Load(ref xr, i);
            a1 += Load(ref xr, i + 2);
            a2 += Load(ref xr, i + 4);
            a3 += Load(ref xr, i + 6);
        }
        double sum = Vector128.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    /// <summary>Σ xᵢ².</summary>
    public static double SumOfSquares(ReadOnlySpan<double> x) => Dot(x, x);

    /// <summary>‖x‖₂ = √(Σ xᵢ²) (no rescaling: as TensorPrimitives.Norm, it overflows where Σ xᵢ² does).</summary>
    public static double Norm(ReadOnlySpan<double> x) => Math.Sqrt(SumOfSquares(x));

    /// <summary>Σ |xᵢ|.</summary>
    public static double SumOfMagnitudes(ReadOnlySpan<double> x)
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        var a0 = Vector128<double>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int n = x.Length, i = 0;
        for (; i <= n - ReductionStep; i += ReductionStep)
        {
            a0 += Vector128.Abs(Load(ref xr, i));
            a1 += Vector128.Abs(Load(ref xr, i + 2));
            a2 += Vector128.Abs(Load(ref xr, i + 4));
            a3 += Vector128.Abs(Load(ref xr, i + 6));
        }
        double sum = Vector128.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += Math.Abs(x[i]);
        return sum;
    }

    /// <summary>The largest value; NaN if any value is NaN, and +0 above −0 (as TensorPrimitives.Max). Empty: an error.</summary>
    public static double Max(ReadOnlySpan<double> x)
    {
        if (x.IsEmpty) throw new ArgumentException("the span is empty: it has no largest value", nameof(x));
        if (x.Length >= WideFrom) return WideSpanMath.Max(x);
        double max = x[0];
        for (int i = 1; i < x.Length; i++)
        {
            double v = x[i];
            if (double.IsNaN(v)) return v;
            if (v > max || (v == max && double.IsNegative(max))) max = v;
        }
        return max;
    }

    // ------------------------------------------------------------------ element-wise (destination may be an input)

    /// <summary>destinationᵢ = xᵢ + yᵢ.</summary>
    public static void Add(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Span<double> destination) => Binary<AddOp>(x, y, destination);

    /// <summary>destinationᵢ = xᵢ + y.</summary>
    public static void Add(ReadOnlySpan<double> x, double y, Span<double> destination) => WithScalar<AddOp>(x, y, destination);

    /// <summary>destinationᵢ = xᵢ − yᵢ.</summary>
    public static void Subtract(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Span<double> destination) => Binary<SubtractOp>(x, y, destination);

    /// <summary>destinationᵢ = xᵢ − y (= xᵢ + (−y), exactly).</summary>
    public static void Subtract(ReadOnlySpan<double> x, double y, Span<double> destination) => WithScalar<AddOp>(x, -y, destination);

    /// <summary>destinationᵢ = xᵢ·yᵢ.</summary>
    public static void Multiply(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Span<double> destination) => Binary<MultiplyOp>(x, y, destination);

    /// <summary>destinationᵢ = xᵢ·y.</summary>
    public static void Multiply(ReadOnlySpan<double> x, double y, Span<double> destination) => WithScalar<MultiplyOp>(x, y, destination);

    /// <summary>destinationᵢ = xᵢ / yᵢ.</summary>
    public static void Divide(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Span<double> destination) => Binary<DivideOp>(x, y, destination);

    /// <summary>destinationᵢ = xᵢ / y (a true division, not a multiplication by 1/y).</summary>
    public static void Divide(ReadOnlySpan<double> x, double y, Span<double> destination) => WithScalar<DivideOp>(x, y, destination);

    /// <summary>destinationᵢ = xᵢ·yᵢ + addendᵢ (multiplied, then added: two roundings, as TensorPrimitives.MultiplyAdd).</summary>
    public static void MultiplyAdd(ReadOnlySpan<double> x, ReadOnlySpan<double> y, ReadOnlySpan<double> addend, Span<double> destination)
    {
        SameLength(x, y); SameLength(x, addend); Fits(x, destination);
        if (x.Length >= WideFrom) { WideSpanMath.MultiplyAdd(x, y, addend, destination); return; }
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        ref double ar = ref MemoryMarshal.GetReference(addend);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, i = 0;
        for (; i <= n - Lanes; i += Lanes) Store(Load(ref xr, i) * Load(ref yr, i) + Load(ref ar, i), ref dr, i);
        for (; i < n; i++) destination[i] = x[i] * y[i] + addend[i];
    }

    /// <summary>destinationᵢ = xᵢ·y + addendᵢ (the axpy of BLAS, two roundings).</summary>
    public static void MultiplyAdd(ReadOnlySpan<double> x, double y, ReadOnlySpan<double> addend, Span<double> destination)
    {
        SameLength(x, addend); Fits(x, destination);
        if (x.Length >= WideFrom) { WideSpanMath.MultiplyAdd(x, y, addend, destination); return; }
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double ar = ref MemoryMarshal.GetReference(addend);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        var yv = Vector128.Create(y);
        int n = x.Length, i = 0;
        for (; i <= n - Lanes; i += Lanes) Store(Load(ref xr, i) * yv + Load(ref ar, i), ref dr, i);
        for (; i < n; i++) destination[i] = x[i] * y + addend[i];
    }

    /// <summary>destinationᵢ = xᵢ·yᵢ + addend (two roundings).</summary>
    public static void MultiplyAdd(ReadOnlySpan<double> x, ReadOnlySpan<double> y, double addend, Span<double> destination)
    {
        SameLength(x, y); Fits(x, destination);
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        var av = Vector128.Create(addend);
        int n = x.Length, i = 0;
        for (; i <= n - Lanes; i += Lanes) Store(Load(ref xr, i) * Load(ref yr, i) + av, ref dr, i);
        for (; i < n; i++) destination[i] = x[i] * y[i] + addend;
    }

    /// <summary>destinationᵢ = −xᵢ.</summary>
    public static void Negate(ReadOnlySpan<double> x, Span<double> destination)
    {
        Fits(x, destination);
        if (x.Length >= WideFrom) { WideSpanMath.Negate(x, destination); return; }
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, i = 0;
        for (; i <= n - Lanes; i += Lanes) Store(-Load(ref xr, i), ref dr, i);
        for (; i < n; i++) destination[i] = -x[i];
    }

    // ------------------------------------------------------------------ conversions

    /// <summary>destinationᵢ = xᵢ widened to double (exact), four at a time.</summary>
    public static void Widen(ReadOnlySpan<float> x, Span<double> destination)
    {
        if (destination.Length < x.Length) throw new ArgumentException("Destination is too short.", nameof(destination));
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, i = 0;
        for (; i <= n - 2 * Lanes; i += 2 * Lanes)
        {
            var v = Vector128.LoadUnsafe(ref xr, (nuint)i);
            Store(Vector128.WidenLower(v), ref dr, i);
            Store(Vector128.WidenUpper(v), ref dr, i + Lanes);
        }
        for (; i < n; i++) destination[i] = x[i];
    }

    /// <summary>destinationᵢ = xᵢ rounded to the nearest float (as a cast rounds), four at a time.</summary>
    public static void Narrow(ReadOnlySpan<double> x, Span<float> destination)
    {
        if (destination.Length < x.Length) throw new ArgumentException("Destination is too short.", nameof(destination));
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref float dr = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, i = 0;
        for (; i <= n - 2 * Lanes; i += 2 * Lanes)
            Vector128.Narrow(Load(ref xr, i), Load(ref xr, i + Lanes)).StoreUnsafe(ref dr, (nuint)i);
        for (; i < n; i++) destination[i] = (float)x[i];
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>destinationᵢ = op(xᵢ, yᵢ): two lanes here, <see cref="WideSpanMath"/> from <see cref="WideFrom"/> values.</summary>
    private static void Binary<TOp>(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Span<double> destination) where TOp : struct, ISpanOp
    {
        SameLength(x, y); Fits(x, destination);
        if (x.Length >= WideFrom) { WideSpanMath.Binary<TOp>(x, y, destination); return; }
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, i = 0;
        for (; i <= n - Lanes; i += Lanes) Store(TOp.Apply(Load(ref xr, i), Load(ref yr, i)), ref dr, i);
        for (; i < n; i++) destination[i] = TOp.Apply(x[i], y[i]);
    }

    /// <summary>destinationᵢ = op(xᵢ, y): two lanes here, <see cref="WideSpanMath"/> from <see cref="WideFrom"/> values.</summary>
    private static void WithScalar<TOp>(ReadOnlySpan<double> x, double y, Span<double> destination) where TOp : struct, ISpanOp
    {
        Fits(x, destination);
        if (x.Length >= WideFrom) { WideSpanMath.WithScalar<TOp>(x, y, destination); return; }
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        var yv = Vector128.Create(y);
        int n = x.Length, i = 0;
        for (; i <= n - Lanes; i += Lanes) Store(TOp.Apply(Load(ref xr, i), yv), ref dr, i);
        for (; i < n; i++) destination[i] = TOp.Apply(x[i], y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> Load(ref double first, int index) => Vector128.LoadUnsafe(ref first, (nuint)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector128<double> value, ref double first, int index) => Vector128.StoreUnsafe(value, ref first, (nuint)index);

    private static void SameLength(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        if (x.Length != y.Length) throw new ArgumentException($"the spans have different lengths ({x.Length} and {y.Length})");
    }

    private static void Fits(ReadOnlySpan<double> x, Span<double> destination)
    {
        if (destination.Length < x.Length)
            throw new ArgumentException($"the destination is too short ({destination.Length} for {x.Length} values)", nameof(destination));
    }
}
