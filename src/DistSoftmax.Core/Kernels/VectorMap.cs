using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// y = f(x) elementwise for an <see cref="IVectorFunction"/>: four doubles at a time where every lane is in the
/// kernel's range, the scalar function lane by lane for a vector with any lane outside it (or NaN, which fails both
/// comparisons), and for the tail. Serves <see cref="VectorExp"/> and <see cref="VectorLog"/>.
/// </summary>
public static class VectorMap
{
    /// <summary>Doubles per 256-bit register.</summary>
    private const int Lanes = 4;

    /// <summary>f(x) into y (same length or longer); y may be x itself, not a partly overlapping span.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Apply<TFunction>(ReadOnlySpan<double> x, Span<double> y) where TFunction : struct, IVectorFunction
    {
        if (y.Length < x.Length) throw new ArgumentException($"output has {y.Length} elements, input {x.Length}", nameof(y));
        int n = x.Length, i = 0;
        ref double xs = ref MemoryMarshal.GetReference(x);
        ref double ys = ref MemoryMarshal.GetReference(y);
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Lanes; i += Lanes)
                Map<TFunction>(Vector256.LoadUnsafe(ref xs, (nuint)i)).StoreUnsafe(ref ys, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref ys, i) = TFunction.Scalar(Unsafe.Add(ref xs, i));
    }

    /// <summary>
    /// f of four arguments (for <see cref="Apply{TFunction}"/> and for callers' fused loops): the kernel where every
    /// lane is in [VectorMin, VectorMax], the scalar function lane by lane otherwise (or for a NaN).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Map<TFunction>(Vector256<double> v) where TFunction : struct, IVectorFunction
    {
        if (Vector256.GreaterThanOrEqualAll(v, Vector256.Create(TFunction.VectorMin)) && Vector256.LessThanOrEqualAll(v, Vector256.Create(TFunction.VectorMax)))
            return TFunction.Vector(v);
        return Vector256.Create(TFunction.Scalar(v[0]), TFunction.Scalar(v[1]), TFunction.Scalar(v[2]), TFunction.Scalar(v[3]));
    }
}
