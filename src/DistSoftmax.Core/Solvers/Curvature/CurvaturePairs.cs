using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// A limited-memory quasi-Newton correction of a CG preconditioner from the curvature pairs earlier CG solves paid for
/// (Morales &amp; Nocedal, "Automatic preconditioning by limited memory quasi-Newton updating", SIAM J. Optim. 2000).
/// Each CG iteration multiplies its search direction s by the Hessian, y = H s, and sᵀy &gt; 0 on the way to a step; the
/// most recent <see cref="Limit"/> pairs update the base preconditioner M⁻¹ (the Kronecker factors' inverse) by the
/// L-BFGS two-loop recursion with M⁻¹ as its initial matrix:
///   q = r;  for i = k … 1: α_i = s_iᵀq / s_iᵀy_i,  q −= α_i y_i;   z = M⁻¹ q;   for i = 1 … k: β = y_iᵀz / s_iᵀy_i,  z += (α_i − β) s_i,
/// which is symmetric positive definite whenever M⁻¹ is and every s_iᵀy_i &gt; 0, maps y_k to s_k (the secant
/// condition), and agrees with H⁻¹ on the span of pairs that one CG solve made H-conjugate. The next Newton system's
/// CG then no longer spends iterations on the directions the Kronecker factors model worst. Pairs of a different
/// Hessian kind (Gauss–Newton before the exact Hessian takes over) are dropped when the kind changes. Cost per
/// application: 4k dot products of d² values; memory 2k·d² values, k ≤ <see cref="MaxPairs"/> and within
/// <see cref="MaxBytes"/>.
/// </summary>
public sealed class CurvaturePairs
{
    /// <summary>Most pairs kept: the measured instances gained nothing from more (README, #12, twenty-third session).</summary>
    public const int MaxPairs = 32;
    /// <summary>Most memory the pairs may take (2·k·d² doubles), so large d keeps fewer.</summary>
    public const long MaxBytes = 64L << 20;

    private readonly List<(double[] S, double[] Y, double Sy)> _pairs = new();

    /// <param name="dimension">The number of unknowns d².</param>
    public CurvaturePairs(int dimension) => Limit = LimitFor(dimension);

    /// <summary>Pairs kept for this many unknowns.</summary>
    public int Limit { get; }

    /// <summary>The Hessian kind the pairs were multiplied by.</summary>
    public HessianKind Kind { get; private set; }

    /// <summary>Pairs held, oldest first.</summary>
    public int Count => _pairs.Count;

    /// <summary>The i-th pair (oldest first).</summary>
    public (double[] S, double[] Y) this[int i] => (_pairs[i].S, _pairs[i].Y);

    /// <summary>min(<see cref="MaxPairs"/>, <see cref="MaxBytes"/> / (16·unknowns)).</summary>
    public static int LimitFor(int dimension) =>
        (int)Math.Min(MaxPairs, MaxBytes / (2L * sizeof(double) * Math.Max(dimension, 1)));

    /// <summary>
    /// Adds a CG iteration's pair (s, y = H s of the <paramref name="kind"/>, curvature sᵀy as CG computed it), dropping
    /// the oldest beyond <see cref="Limit"/> and every pair of another kind; a pair without positive curvature is ignored.
    /// </summary>
    public void Add(double[] s, double[] y, double sy, HessianKind kind)
    {
        if (Limit == 0 || !(sy > 0) || !double.IsFinite(sy)) return;
        if (kind != Kind) { _pairs.Clear(); Kind = kind; }
        if (_pairs.Count == Limit) _pairs.RemoveAt(0);
        _pairs.Add((s, y, sy));
    }

    /// <summary>The corrected preconditioner applied to <paramref name="r"/>, with <paramref name="baseInverse"/> = M⁻¹.</summary>
    public double[] Apply(Func<double[], double[]> baseInverse, double[] r)
    {
        if (_pairs.Count == 0) return baseInverse(r);
        var q = (double[])r.Clone();
        var alpha = new double[_pairs.Count];
        for (int i = _pairs.Count - 1; i >= 0; i--)
        {
            var (s, y, sy) = _pairs[i];
            alpha[i] = SpanMath.Dot(s, q) / sy;
            SpanMath.MultiplyAdd(y, -alpha[i], q, q);
        }
        var z = baseInverse(q);
        for (int i = 0; i < _pairs.Count; i++)
        {
            var (s, y, sy) = _pairs[i];
            double beta = SpanMath.Dot(y, z) / sy;
            SpanMath.MultiplyAdd(s, alpha[i] - beta, z, z);
        }
        return z;
    }

    /// <summary>Pairs read back from a checkpoint (each sᵀy recomputed as <see cref="SpanMath.Dot"/> gave it).</summary>
    public static CurvaturePairs Restore(int dimension, HessianKind kind, IReadOnlyList<double[]> s, IReadOnlyList<double[]> y)
    {
        var pairs = new CurvaturePairs(dimension) { Kind = kind };
        for (int i = 0; i < s.Count; i++) pairs.Add(s[i], y[i], SpanMath.Dot(s[i], y[i]), kind);
        return pairs;
    }
}
