using System.Runtime.Intrinsics;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// An elementwise function with a four-lane kernel valid on [<see cref="VectorMin"/>, <see cref="VectorMax"/>] and its
/// scalar reference everywhere (<see cref="VectorMap.Apply{TFunction}"/>). Implemented by structs, so the JIT compiles
/// one copy of the map per function with the kernel inlined, as the dense kernels do over <see cref="ILanes{TVector}"/>.
/// </summary>
public interface IVectorFunction
{
    /// <summary>Smallest argument the vector kernel takes.</summary>
    static abstract double VectorMin { get; }
    /// <summary>Largest argument the vector kernel takes.</summary>
    static abstract double VectorMax { get; }
    /// <summary>The function of four arguments in [<see cref="VectorMin"/>, <see cref="VectorMax"/>].</summary>
    static abstract Vector256<double> Vector(Vector256<double> x);
    /// <summary>The function of one argument anywhere (lanes outside the range, NaN, the tail).</summary>
    static abstract double Scalar(double x);
}
