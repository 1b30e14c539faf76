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
            var min = Vector256.Create(TFunction.VectorMin);
            var max = Vector256.Create(TFunction.VectorMax);
            for (; i <= n - Lanes; i += Lanes)
            {
                var v = Vector256.LoadUnsafe(ref xs, (nuint)i);
                if (Vector256.GreaterThanOrEqualAll(v, min) && Vector256.LessThanOrEqualAll(v, max))
                    TFunction.Vector(v).StoreUnsafe(ref ys, (nuint)i);
                else
                    for (int j = i; j < i + Lanes; j++) Unsafe.Add(ref ys, j) = TFunction.Scalar(Unsafe.Add(ref xs, j));
            }
        }
        for (; i < n; i++) Unsafe.Add(ref ys, i) = TFunction.Scalar(Unsafe.Add(ref xs, i));
    }
}
