using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// Rescaled regression ℓ(z) = ½‖u − ⟨u,1⟩ b‖², u = u(z) for any unit u of <see cref="UnitCatalog"/>.
///
/// Phase 1 sums (no shift: the loss is not shift-invariant), with ρ the reference's U (0 without a reference):
///   [U = Σu, P1 = Σ(u − ρb)², P2 = Σ b(u − ρb), Σb²].   With δ = U − ρ, c = (u − ρb) − δb, so
///   ℓ = ½(P1 − 2δ P2 + δ² Σb²),  ⟨b,c⟩ = P2 − δ Σb²;
/// near a minimiser (with ρ the current iterate's U) that is a sum of small squares, not a difference of large ones.
/// Globals: [ℓ, U, ⟨b,c⟩, ‖b‖²].
/// One-pass gradient against a reference ρ: p = (u − ρb) − δb − ⟨b,c⟩1, so with the basis
/// β = [u'∘(u − ρb), u'∘b, u'] the z-gradient g = u'∘p has coefficients [1, −δ, −⟨b,c⟩].
/// Phase 2 (c = u − U b, p = c − ⟨b,c⟩ 1):
///   g = u'∘p
///   exact:        B = diag(u'∘u' + u''∘p) − (u'∘b) u'ᵀ − u' (u'∘b)ᵀ + ‖b‖² u' u'ᵀ
///   Gauss–Newton: the same without u''∘p (J = diag(u') − b u'ᵀ, B = JᵀJ)
///   q = [u', u'∘b],  C = [[‖b‖², −1], [−1, 0]].
/// </summary>
public sealed class RescaledRegression : IVectorFamily
{
    private static readonly int[] Powers = { 0, 0, 0, 0 };
    public Unit Unit { get; }

    public RescaledRegression(Unit unit) { Unit = unit; }

    public string Name => "rescaled-" + Unit.Name();
    public int[] ScalarPowers => Powers;
    public int LowRankCount => 2;

    public ScalarSums LocalScalars(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[]? reference)
    {
        double rho = reference?[1] ?? 0.0;
        double s = 0, p1 = 0, p2 = 0, bb = 0;
        for (int i = 0; i < z.Length; i++)
        {
            double u = UnitCatalog.Evaluate(Unit, z[i]).U, r = u - rho * b[i];
            s += u; p1 += r * r; p2 += b[i] * r; bb += b[i] * b[i];
        }
        return new ScalarSums(0.0, new[] { s, p1, p2, bb }, Powers);
    }

    public double[] Globals(ScalarSums merged, double[]? reference)
    {
        double rho = reference?[1] ?? 0.0;
        double u = merged.Sums[0], p1 = merged.Sums[1], p2 = merged.Sums[2], bb = merged.Sums[3];
        double delta = u - rho;
        double loss = 0.5 * Math.Max(0.0, p1 - 2 * delta * p2 + delta * delta * bb);
        double bc = p2 - delta * bb;
        return new[] { loss, u, bc, bb };
    }

    public void RowTerms(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] globals, HessianKind kind,
        Span<double> g, Span<double> d, Span<double> q)
    {
        double sumU = globals[1], bc = globals[2];
        int n = z.Length;
        var q1 = q.Slice(0, n);
        var q2 = q.Slice(n, n);
        for (int i = 0; i < n; i++)
        {
            var (u, u1, u2) = UnitCatalog.Evaluate(Unit, z[i]);
            double p = u - sumU * b[i] - bc;
            g[i] = u1 * p;
            d[i] = kind == HessianKind.Exact ? u1 * u1 + u2 * p : u1 * u1;
            q1[i] = u1;
            q2[i] = u1 * b[i];
        }
    }

    public double[] LowRankCoefficients(double[] globals, HessianKind kind) => new[] { globals[3], -1.0, -1.0, 0.0 };

    public int GradientBasisCount => 3;

    public void GradientBasis(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] reference, Span<double> basis)
    {
        int n = z.Length;
        double rho = reference[1];
        for (int i = 0; i < n; i++)
        {
            var (u, u1, _) = UnitCatalog.Evaluate(Unit, z[i]);
            basis[i] = u1 * (u - rho * b[i]);
            basis[n + i] = u1 * b[i];
            basis[2 * n + i] = u1;
        }
    }

    /// <summary>q = [u', u'∘b] = [β₂, β₁] for both curvature models.</summary>
    public double[]? LowRankFromBasis(double[] globals, double[] reference, HessianKind kind) =>
        new[] { 0.0, 0.0, 1.0, 0.0, 1.0, 0.0 };

    public double[]? GradientCoefficients(double[] globals, double[] reference) =>
        new[] { 1.0, -(globals[1] - reference[1]), -globals[2] };
}
