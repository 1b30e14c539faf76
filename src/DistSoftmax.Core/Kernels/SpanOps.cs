using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// An element-wise operation of <see cref="SpanMath"/>, at every width it runs at: two lanes (SpanMath's precompiled
/// loops), the lanes of <see cref="ILanes{TVector}"/> (<see cref="WideSpanMath"/>), and one double (the tails) — the same
/// correctly rounded operation, so a span's values do not depend on which path computed them.
/// </summary>
internal interface ISpanOp
{
    static abstract Vector128<double> Apply(Vector128<double> a, Vector128<double> b);
    static abstract TV Apply<TL, TV>(TV a, TV b) where TL : struct, ILanes<TV> where TV : struct;
    static abstract double Apply(double a, double b);
}

internal readonly struct AddOp : ISpanOp
{
    public static Vector128<double> Apply(Vector128<double> a, Vector128<double> b) => a + b;
    public static TV Apply<TL, TV>(TV a, TV b) where TL : struct, ILanes<TV> where TV : struct => TL.Add(a, b);
    public static double Apply(double a, double b) => a + b;
}

internal readonly struct SubtractOp : ISpanOp
{
    public static Vector128<double> Apply(Vector128<double> a, Vector128<double> b) => a - b;
    public static TV Apply<TL, TV>(TV a, TV b) where TL : struct, ILanes<TV> where TV : struct => TL.Subtract(a, b);
    public static double Apply(double a, double b) => a - b;
}

internal readonly struct MultiplyOp : ISpanOp
{
    public static Vector128<double> Apply(Vector128<double> a, Vector128<double> b) => a * b;
    public static TV Apply<TL, TV>(TV a, TV b) where TL : struct, ILanes<TV> where TV : struct => TL.Multiply(a, b);
    public static double Apply(double a, double b) => a * b;
}

internal readonly struct DivideOp : ISpanOp
{
    public static Vector128<double> Apply(Vector128<double> a, Vector128<double> b) => a / b;
    public static TV Apply<TL, TV>(TV a, TV b) where TL : struct, ILanes<TV> where TV : struct => TL.Divide(a, b);
    public static double Apply(double a, double b) => a / b;
}
