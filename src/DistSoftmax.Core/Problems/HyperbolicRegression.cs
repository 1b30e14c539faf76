using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// Hyperbolic regression ℓ(z) = ½‖u(z) − b‖², u any unit of <see cref="UnitCatalog"/>: purely diagonal in z.
///   phase 1 sums: [Σ c²] with c = u − b;  globals: [ℓ]
///   g = u'∘c;  exact D = u'∘u' + u''∘c;  Gauss–Newton D = u'∘u';  no low-rank part.
/// </summary>
public sealed class HyperbolicRegression : IVectorFamily
{
    private static readonly int[] Powers = { 0 };
    public Unit Unit { get; }

    public HyperbolicRegression(Unit unit) { Unit = unit; }

    public string Name => "hyperbolic-" + Unit.Name();
    public int[] ScalarPowers => Powers;
    public int LowRankCount => 0;

    public ScalarSums LocalScalars(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[]? reference)
    {
        double s = 0;
        for (int i = 0; i < z.Length; i++)
        {
            double c = UnitCatalog.Evaluate(Unit, z[i]).U - b[i];
            s += c * c;
        }
        return new ScalarSums(0.0, new[] { s }, Powers);
    }

    public double[] Globals(ScalarSums merged, double[]? reference) => new[] { 0.5 * merged.Sums[0] };

    public void RowTerms(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] globals, HessianKind kind,
        Span<double> g, Span<double> d, Span<double> q)
    {
        for (int i = 0; i < z.Length; i++)
        {
            var (u, u1, u2) = UnitCatalog.Evaluate(Unit, z[i]);
            double c = u - b[i];
            g[i] = u1 * c;
            d[i] = kind == HessianKind.Exact ? u1 * u1 + u2 * c : u1 * u1;
        }
    }

    public double[] LowRankCoefficients(double[] globals, HessianKind kind) => Array.Empty<double>();

    /// <summary>g = u'∘c is already local: one basis vector with coefficient 1.</summary>
    public int GradientBasisCount => 1;

    public void GradientBasis(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] reference, Span<double> basis)
    {
        for (int i = 0; i < z.Length; i++)
        {
            var (u, u1, _) = UnitCatalog.Evaluate(Unit, z[i]);
            basis[i] = u1 * (u - b[i]);
        }
    }

    public double[]? GradientCoefficients(double[] globals, double[] reference) => new[] { 1.0 };

    /// <summary>No low-rank part.</summary>
    public double[]? LowRankFromBasis(double[] globals, double[] reference, HessianKind kind) => Array.Empty<double>();
}
