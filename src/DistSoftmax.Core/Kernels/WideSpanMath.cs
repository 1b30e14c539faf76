using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// <see cref="SpanMath"/>'s operations on long spans, at the widest vector the hardware accelerates (<see cref="Lanes512"/>
/// where AVX-512 is, else <see cref="Lanes256"/>). Code that asks whether AVX-512 is accelerated cannot be precompiled, so
/// these methods are compiled at their first call — small ones, ≈ 0.7 ms each, against 4–6 ms for a TensorPrimitives
/// operation — and never inlined into SpanMath, whose own two-lane loops stay in the ReadyToRun image. On rows of 4096
/// values (the multiple-softmax shards' rows, in L1) the two-lane loops took about twice TensorPrimitives' time
/// (dot 0.78 against 0.40 µs, subtract 1.58 against 0.77 µs); four lanes took 0.52 and 0.94 µs.
/// Element-wise results equal the two-lane loops' (each value is the same one or two roundings); sums differ only in
/// their order.
/// </summary>
internal static class WideSpanMath
{
    // ------------------------------------------------------------------ reductions

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y) =>
        Vector512.IsHardwareAccelerated ? Dot<Lanes512, Vector512<double>>(x, y) : Dot<Lanes256, Vector256<double>>(x, y);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static double Sum(ReadOnlySpan<double> x) =>
        Vector512.IsHardwareAccelerated ? Sum<Lanes512, Vector512<double>>(x) : Sum<Lanes256, Vector256<double>>(x);

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static double Max(ReadOnlySpan<double> x) =>
        Vector512.IsHardwareAccelerated ? Max<Lanes512, Vector512<double>>(x) : Max<Lanes256, Vector256<double>>(x);

    /// <summary>The largest of at least one vector's worth of values, with Math.Max's NaN and signed-zero rules.</summary>
    private static double Max<TL, TV>(ReadOnlySpan<double> x) where TL : struct, ILanes<TV> where TV : struct
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        int n = x.Length, c = TL.Count, i = c;
        TV m = TL.Load(ref xr, 0);
        for (; i <= n - c; i += c) m = TL.Max(m, TL.Load(ref xr, (nuint)i));
        Span<double> lanes = stackalloc double[c];
        TL.Store(m, ref MemoryMarshal.GetReference(lanes), 0);
        double max = lanes[0];
        for (int k = 1; k < c; k++) max = Extremes.Max(max, lanes[k]);
        for (; i < n; i++) max = Extremes.Max(max, x[i]);
        return max;
    }

    private static double Dot<TL, TV>(ReadOnlySpan<double> x, ReadOnlySpan<double> y) where TL : struct, ILanes<TV> where TV : struct
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        int n = x.Length, c = TL.Count, i = 0;
        TV a0 = TL.Zero, a1 = TL.Zero, a2 = TL.Zero, a3 = TL.Zero;
        for (; i <= n - 4 * c; i += 4 * c)
        {
            a0 = TL.MultiplyAdd(TL.Load(ref xr, (nuint)i), TL.Load(ref yr, (nuint)i), a0);
            a1 = TL.MultiplyAdd(TL.Load(ref xr, (nuint)(i + c)), TL.Load(ref yr, (nuint)(i + c)), a1);
            a2 = TL.MultiplyAdd(TL.Load(ref xr, (nuint)(i + 2 * c)), TL.Load(ref yr, (nuint)(i + 2 * c)), a2);
            a3 = TL.MultiplyAdd(TL.Load(ref xr, (nuint)(i + 3 * c)), TL.Load(ref yr, (nuint)(i + 3 * c)), a3);
        }
        for (; i <= n - c; i += c) a0 = TL.MultiplyAdd(TL.Load(ref xr, (nuint)i), TL.Load(ref yr, (nuint)i), a0);
        double sum = TL.Sum(TL.Add(TL.Add(a0, a1), TL.Add(a2, a3)));
        for (; i < n; i++) sum += x[i] * y[i];
        return sum;
    }

    private static double Sum<TL, TV>(ReadOnlySpan<double> x) where TL : struct, ILanes<TV> where TV : struct
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        int n = x.Length, c = TL.Count, i = 0;
        TV a0 = TL.Zero, a1 = TL.Zero, a2 = TL.Zero, a3 = TL.Zero;
        for (; i <= n - 4 * c; i += 4 * c)
        {
            a0 = TL.Add(a0, TL.Load(ref xr, (nuint)i));
            a1 = TL.Add(a1, TL.Load(ref xr, (nuint)(i + c)));
            a2 = TL.Add(a2, TL.Load(ref xr, (nuint)(i + 2 * c)));
            a3 = TL.Add(a3, TL.Load(ref xr, (nuint)(i + 3 * c)));
        }
        for (; i <= n - c; i += c) a0 = TL.Add(a0, TL.Load(ref xr, (nuint)i));
        double sum = TL.Sum(TL.Add(TL.Add(a0, a1), TL.Add(a2, a3)));
        for (; i < n; i++) sum += x[i];
        return sum;
    }

    // ------------------------------------------------------------------ element-wise

    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Negate(ReadOnlySpan<double> x, Span<double> destination)
    {
        if (Vector512.IsHardwareAccelerated) Negate<Lanes512, Vector512<double>>(x, destination);
        else Negate<Lanes256, Vector256<double>>(x, destination);
    }

    /// <summary>destinationᵢ = xᵢ·yᵢ + addendᵢ, two roundings.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void MultiplyAdd(ReadOnlySpan<double> x, ReadOnlySpan<double> y, ReadOnlySpan<double> addend, Span<double> destination)
    {
        if (Vector512.IsHardwareAccelerated) MultiplyAdd<Lanes512, Vector512<double>>(x, y, addend, destination);
        else MultiplyAdd<Lanes256, Vector256<double>>(x, y, addend, destination);
    }

    /// <summary>destinationᵢ = xᵢ·y + addendᵢ, two roundings.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void MultiplyAdd(ReadOnlySpan<double> x, double y, ReadOnlySpan<double> addend, Span<double> destination)
    {
        if (Vector512.IsHardwareAccelerated) ScaleAdd<Lanes512, Vector512<double>>(x, y, addend, destination);
        else ScaleAdd<Lanes256, Vector256<double>>(x, y, addend, destination);
    }

    /// <summary>destinationᵢ = op(xᵢ, yᵢ).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Binary<TOp>(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Span<double> destination) where TOp : struct, ISpanOp
    {
        if (Vector512.IsHardwareAccelerated) Binary<TOp, Lanes512, Vector512<double>>(x, y, destination);
        else Binary<TOp, Lanes256, Vector256<double>>(x, y, destination);
    }

    /// <summary>destinationᵢ = op(xᵢ, y).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void WithScalar<TOp>(ReadOnlySpan<double> x, double y, Span<double> destination) where TOp : struct, ISpanOp
    {
        if (Vector512.IsHardwareAccelerated) WithScalar<TOp, Lanes512, Vector512<double>>(x, y, destination);
        else WithScalar<TOp, Lanes256, Vector256<double>>(x, y, destination);
    }

    private static void Binary<TOp, TL, TV>(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Span<double> destination)
        where TOp : struct, ISpanOp where TL : struct, ILanes<TV> where TV : struct
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, c = TL.Count, i = 0;
        for (; i <= n - c; i += c) TL.Store(TOp.Apply<TL, TV>(TL.Load(ref xr, (nuint)i), TL.Load(ref yr, (nuint)i)), ref dr, (nuint)i);
        for (; i < n; i++) destination[i] = TOp.Apply(x[i], y[i]);
    }

    private static void WithScalar<TOp, TL, TV>(ReadOnlySpan<double> x, double y, Span<double> destination)
        where TOp : struct, ISpanOp where TL : struct, ILanes<TV> where TV : struct
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        TV yv = TL.Broadcast(y);
        int n = x.Length, c = TL.Count, i = 0;
        for (; i <= n - c; i += c) TL.Store(TOp.Apply<TL, TV>(TL.Load(ref xr, (nuint)i), yv), ref dr, (nuint)i);
        for (; i < n; i++) destination[i] = TOp.Apply(x[i], y);
    }

    private static void Negate<TL, TV>(ReadOnlySpan<double> x, Span<double> destination) where TL : struct, ILanes<TV> where TV : struct
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, c = TL.Count, i = 0;
        for (; i <= n - c; i += c) TL.Store(TL.Negate(TL.Load(ref xr, (nuint)i)), ref dr, (nuint)i);
        for (; i < n; i++) destination[i] = -x[i];
    }

    private static void MultiplyAdd<TL, TV>(ReadOnlySpan<double> x, ReadOnlySpan<double> y, ReadOnlySpan<double> addend, Span<double> destination)
        where TL : struct, ILanes<TV> where TV : struct
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        ref double ar = ref MemoryMarshal.GetReference(addend);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        int n = x.Length, c = TL.Count, i = 0;
        for (; i <= n - c; i += c)
            TL.Store(TL.Add(TL.Multiply(TL.Load(ref xr, (nuint)i), TL.Load(ref yr, (nuint)i)), TL.Load(ref ar, (nuint)i)), ref dr, (nuint)i);
        for (; i < n; i++) destination[i] = x[i] * y[i] + addend[i];
    }

    private static void ScaleAdd<TL, TV>(ReadOnlySpan<double> x, double y, ReadOnlySpan<double> addend, Span<double> destination)
        where TL : struct, ILanes<TV> where TV : struct
    {
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double ar = ref MemoryMarshal.GetReference(addend);
        ref double dr = ref MemoryMarshal.GetReference(destination);
        TV yv = TL.Broadcast(y);
        int n = x.Length, c = TL.Count, i = 0;
        for (; i <= n - c; i += c) TL.Store(TL.Add(TL.Multiply(TL.Load(ref xr, (nuint)i), yv), TL.Load(ref ar, (nuint)i)), ref dr, (nuint)i);
        for (; i < n; i++) destination[i] = x[i] * y + addend[i];
    }
}
