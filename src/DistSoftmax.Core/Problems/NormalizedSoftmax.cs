using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// Normalized softmax regression ℓ(z) = ½‖f − b‖², f = exp(z)/⟨exp(z),1⟩.
///
/// Phase 1 (shift m_k = max of the shard's z, e_i = exp(z_i − m_k)):
///   sums [Σe (power 1), Σe² (power 2), Σe·b (power 1), Σb² (power 0)]
/// merged into (m, S = Σe), ⟨f,f⟩ = Σe²/S², ⟨f,b⟩ = Σeb/S, ⟨b,b⟩; so |z| up to any size stays finite.
/// Globals: [ℓ, m, S, ⟨f,f⟩, ⟨f,b⟩, ⟨b,b⟩].
///
/// Phase 2 (f_i = exp(z_i − m)/S, c = f − b, γ = ⟨f,c⟩, β = ⟨3f − 2b, f⟩, v = (2f − b)∘f):
///   g = f∘c − γ f
///   exact:        B = β f fᵀ − v fᵀ − f vᵀ + diag(v − γ f)          → D = v − γ f,  q = [f, v],   C = [[β, −1], [−1, 0]]
///   Gauss–Newton: JᵀJ, J = diag(f) − f fᵀ                            → D = f∘f,      q = [f, f∘f], C = [[⟨f,f⟩, −1], [−1, 0]]
/// </summary>
public sealed class NormalizedSoftmax : IVectorFamily
{
    public static readonly NormalizedSoftmax Instance = new();
    private static readonly int[] Powers = { 1, 2, 1, 0 };

    public string Name => "normalized";
    public int[] ScalarPowers => Powers;
    public int LowRankCount => 2;

    public ScalarSums LocalScalars(ReadOnlySpan<double> z, ReadOnlySpan<double> b)
    {
        if (z.Length == 0) return ScalarSums.Empty(Powers);
        double m = System.Numerics.Tensors.TensorPrimitives.Max(z);
        double s = 0, s2 = 0, sb = 0, bb = 0;
        for (int i = 0; i < z.Length; i++)
        {
            double e = Math.Exp(z[i] - m);
            s += e; s2 += e * e; sb += e * b[i]; bb += b[i] * b[i];
        }
        return new ScalarSums(m, new[] { s, s2, sb, bb }, Powers);
    }

    public double[] Globals(ScalarSums merged)
    {
        double m = merged.Shift, s = merged.Sums[0];
        double ff = merged.Sums[1] / (s * s), fb = merged.Sums[2] / s, bb = merged.Sums[3];
        double loss = 0.5 * Math.Max(0.0, ff - 2 * fb + bb);
        return new[] { loss, m, s, ff, fb, bb };
    }

    public void RowTerms(ReadOnlySpan<double> z, ReadOnlySpan<double> b, double[] globals, HessianKind kind,
        Span<double> g, Span<double> d, Span<double> q)
    {
        double m = globals[1], s = globals[2], ff = globals[3], fb = globals[4];
        double gamma = ff - fb;
        int n = z.Length;
        var qf = q.Slice(0, n);
        var q2 = q.Slice(n, n);
        for (int i = 0; i < n; i++)
        {
            double f = Math.Exp(z[i] - m) / s;
            double c = f - b[i];
            g[i] = f * c - gamma * f;
            qf[i] = f;
            if (kind == HessianKind.Exact)
            {
                double v = (2 * f - b[i]) * f;
                q2[i] = v;
                d[i] = v - gamma * f;
            }
            else
            {
                q2[i] = f * f;
                d[i] = f * f;
            }
        }
    }

    public double[] LowRankCoefficients(double[] globals, HessianKind kind)
    {
        double ff = globals[3], fb = globals[4];
        double beta = kind == HessianKind.Exact ? 3 * ff - 2 * fb : ff;
        return new[] { beta, -1.0, -1.0, 0.0 };
    }
}
