using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Problems;

/// <summary>c = c(z; b) for one whole row: the residual whose ½‖c‖² is a family's loss.</summary>
public delegate void RowResidualFunction(ReadOnlySpan<double> z, ReadOnlySpan<double> b, Span<double> c);

/// <summary>
/// The residual c of ℓ(z) = ½‖c‖² for a row held whole (a matrix-problem row j, all n entries in one shard):
///   normalized   c = exp(z − m)/Σexp(z − m) − b,  m = max z
///   rescaled     c = u(z) − ⟨u(z),1⟩ b
///   hyperbolic   c = u(z) − b
/// These restate each family's definition (its doc comment), not its derivatives. They exist because a family's
/// phase-1 loss, ½(Σf² − 2Σf·b + Σb²) or ½(Σu² − 2UΣu·b + U²Σb²), is built from sums for distributed rows and
/// cancels: its absolute rounding floor is about 1e-16·(Σf² + Σb²) (normalized) or 1e-16·Σu² (rescaled) per row,
/// far above the loss near a zero-residual fit, where line searches then see no decrease. ½‖c‖² has no floor.
/// </summary>
public static class RowResidual
{
    /// <summary>The residual of a known family, or null (callers then use the family's phase-1 loss).</summary>
    public static RowResidualFunction? For(IVectorFamily family) => family switch
    {
        NormalizedSoftmax => Normalized,
        RescaledRegression r => (z, b, c) => Rescaled(r.Unit, z, b, c),
        HyperbolicRegression h => (z, b, c) => Hyperbolic(h.Unit, z, b, c),
        _ => null,
    };

    /// <summary>½‖c‖² with c from <paramref name="residual"/>; <paramref name="scratch"/> holds c (length of z).</summary>
    public static double HalfSquaredNorm(RowResidualFunction residual, ReadOnlySpan<double> z, ReadOnlySpan<double> b, Span<double> scratch)
    {
        var c = scratch.Slice(0, z.Length);
        residual(z, b, c);
        return 0.5 * SpanMath.SumOfSquares(c);
    }

    private static void Normalized(ReadOnlySpan<double> z, ReadOnlySpan<double> b, Span<double> c)
    {
        NormalizedSoftmax.Instance.RowValues(z, c);   // f = exp(z − m)/Σexp(z − m)
        SpanMath.Subtract(c, b, c);
    }

    private static void Rescaled(Unit unit, ReadOnlySpan<double> z, ReadOnlySpan<double> b, Span<double> c)
    {
        UnitCatalog.Apply(unit, z, c);
        double sum = SpanMath.Sum(c);
        SpanMath.MultiplyAdd(b, -sum, c, c);
    }

    private static void Hyperbolic(Unit unit, ReadOnlySpan<double> z, ReadOnlySpan<double> b, Span<double> c)
    {
        UnitCatalog.Apply(unit, z, c);
        SpanMath.Subtract(c, b, c);
    }
}
