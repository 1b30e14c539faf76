using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Analysis;

/// <summary>
/// The model a family fits to its targets, for one whole row z (docs/MATH.md, "Families, in z-space"):
///   normalized   fitted = ⟨exp(z),1⟩⁻¹ exp(z)   (computed as exp(z − m)/Σexp(z − m), m = max z)
///   rescaled     fitted = u(z)                  (the loss compares it with ⟨u,1⟩ b)
///   hyperbolic   fitted = u(z)
/// and the residual c whose ½‖c‖² is the family's loss (<see cref="RowResidual"/>): fitted − b for normalized and
/// hyperbolic, u − ⟨u,1⟩ b for rescaled. A vector problem's row is all of z = Ax (n values); a matrix problem's row
/// j is z_j = row j of A1 X A2ᵀ.
/// </summary>
public static class FittedModel
{
    /// <summary>Whether the family has a fitted model here (the three families of the catalog).</summary>
    public static bool Supports(IVectorFamily family) => family is NormalizedSoftmax or RescaledRegression or HyperbolicRegression;

    /// <summary>fitted(z) into <paramref name="fitted"/> (length of z).</summary>
    public static void Fitted(IVectorFamily family, ReadOnlySpan<double> z, Span<double> fitted)
    {
        switch (family)
        {
            case NormalizedSoftmax:
                if (z.Length == 0) return;
                z.CopyTo(fitted);
                Sensitivity.SensitivityAnalysis.SoftmaxInPlace(fitted.Slice(0, z.Length));
                break;
            case RescaledRegression r:
                UnitCatalog.Apply(r.Unit, z, fitted);
                break;
            case HyperbolicRegression h:
                UnitCatalog.Apply(h.Unit, z, fitted);
                break;
            default:
                throw new NotSupportedException($"no fitted model for the family {family.Name}");
        }
    }

    /// <summary>The residual c(z; b) of the family's loss ½‖c‖² into <paramref name="residual"/>.</summary>
    public static void Residual(IVectorFamily family, ReadOnlySpan<double> z, ReadOnlySpan<double> b, Span<double> residual)
    {
        var function = RowResidual.For(family) ?? throw new NotSupportedException($"no residual for the family {family.Name}");
        function(z, b, residual);
    }
}
