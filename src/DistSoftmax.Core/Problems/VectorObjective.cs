using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Problems;

/// <summary>A vector family ℓ(Ax) + ½‖diag(w)Ax‖² over n rows and d columns.</summary>
public sealed class VectorObjective : IObjective
{
    public IVectorFamily Family { get; }
    public int Dimension { get; }
    public long Rows { get; }

    public long StoredEntries { get; }

    /// <param name="storedEntries">Non-zeros of A (sparse) or n·d (dense); negative means n·d.</param>
    public VectorObjective(IVectorFamily family, int dimension, long rows, long storedEntries = -1)
    {
        Family = family; Dimension = dimension; Rows = rows;
        StoredEntries = storedEntries >= 0 ? storedEntries : rows * dimension;
    }

    public string Name => Family.Name;
    public int LowRankCount => Family.LowRankCount;
    public bool SupportsRowSampling => true;

    public PointEvaluation Evaluate(double[] x, ScalarsReply merged, double[]? reference = null)
    {
        var globals = Family.Globals(merged.Family, reference);
        return new PointEvaluation(x, globals[0] + 0.5 * merged.RegularizerSum, globals);
    }

    public double[] LowRankCoefficients(double[] globals, HessianKind kind) => Family.LowRankCoefficients(globals, kind);

    /// <summary>∇L = Σ_j γ_j Aᵀβ_j + Aᵀ(w²z), the coefficients from the family.</summary>
    public double[]? FusedGradient(PointEvaluation point, ScalarsReply merged, double[] reference)
    {
        int d = Dimension, k = Family.GradientBasisCount;
        if (merged.GradientBasis.Length != (k + 1) * d) return null;
        var coefficients = Family.GradientCoefficients(point.Globals, reference);
        if (coefficients is null) return null;
        var gradient = merged.GradientBasis.AsSpan(k * d, d).ToArray();
        for (int j = 0; j < k; j++)
            SpanMath.MultiplyAdd(merged.GradientBasis.AsSpan(j * d, d), coefficients[j], gradient, gradient);
        return gradient;
    }

    /// <summary>Aᵀq_j = Σ_b M_jb Aᵀβ_b with M from the family.</summary>
    public double[]? FusedLowRank(PointEvaluation point, ScalarsReply merged, double[] reference, HessianKind kind)
    {
        int d = Dimension, k = Family.GradientBasisCount, lr = Family.LowRankCount;
        if (merged.GradientBasis.Length != (k + 1) * d) return null;
        var m = Family.LowRankFromBasis(point.Globals, reference, kind);
        if (m is null || m.Length != lr * k) return null;
        var lowRank = new double[lr * d];
        for (int j = 0; j < lr; j++)
            for (int b = 0; b < k; b++)
                if (m[j * k + b] != 0)
                    SpanMath.MultiplyAdd(merged.GradientBasis.AsSpan(b * d, d), m[j * k + b],
                        lowRank.AsSpan(j * d, d), lowRank.AsSpan(j * d, d));
        return lowRank;
    }

    public bool SupportsFusedPass => true;
}
