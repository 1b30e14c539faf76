using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// Fused operators on one complete row z (n values, its own normaliser: a row of M in a matrix problem), for a
/// family that can apply its z-gradient and z-Hessian without first writing D, q and C
/// (<see cref="IVectorFamily.OwnGlobalsAndRowTerms"/>). A Hessian-vector product needs only B(z)·y, and a gradient
/// only g; forming the terms writes three n-wide rows per row of M and reads them back, which on a 2048×4096 shard
/// was most of the row work and made it bound by memory rather than arithmetic. Each operator here keeps one row's
/// arrays in scratch of a few n values, which stays in the core's cache. Results equal the terms' to rounding.
/// </summary>
public interface IOwnRowOperators
{
    /// <summary>Scratch values <see cref="OwnGradient"/> and <see cref="OwnHessianProduct"/> need per entry of a row.</summary>
    const int ScratchPerEntry = 2;

    /// <summary>g = ∇ℓ(z; b) + w²∘z (w² empty: no regulariser). Scratch: <see cref="ScratchPerEntry"/>·n values.</summary>
    void OwnGradient(ReadOnlySpan<double> z, ReadOnlySpan<double> b, ReadOnlySpan<double> w2, Span<double> g, Span<double> scratch);

    /// <summary>
    /// y ← B(z)·y + w²∘y in place, B the z-Hessian of the <paramref name="kind"/> (exact or Gauss–Newton) that
    /// <see cref="IVectorFamily.OwnGlobalsAndRowTerms"/> with <see cref="IVectorFamily.LowRankCoefficients"/> describes
    /// (w² empty: no regulariser). Scratch: <see cref="ScratchPerEntry"/>·n values.
    /// </summary>
    void OwnHessianProduct(ReadOnlySpan<double> z, ReadOnlySpan<double> b, HessianKind kind, ReadOnlySpan<double> w2,
        Span<double> y, Span<double> scratch);
}
