using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The quasi-Newton correction of a CG preconditioner (CurvaturePairs): on pairs that CG made H-conjugate it is H⁻¹ on
/// their span (M⁻¹ elsewhere), it stays symmetric positive definite, and it keeps only recent pairs of one Hessian kind
/// with positive curvature, within its memory limit.
/// </summary>
public class CurvaturePairsTests
{
    private const int N = 12;

    /// <summary>A symmetric positive definite n×n matrix with eigenvalues spread over [1, 1000].</summary>
    private static double[] Spd(int n, int seed)
    {
        var rng = new System.Random(seed);
        var q = new double[n * n];
        for (int i = 0; i < q.Length; i++) q[i] = rng.NextDouble() - 0.5;
        var h = new double[n * n];
        for (int k = 0; k < n; k++)
        {
            double lambda = Math.Pow(1000, (double)k / (n - 1));
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) h[i * n + j] += lambda * q[k * n + i] * q[k * n + j];
        }
        for (int i = 0; i < n; i++) h[i * n + i] += 1e-3;
        return h;
    }

    private static double[] Times(double[] h, double[] v)
    {
        var r = new double[N];
        for (int i = 0; i < N; i++) r[i] = SpanMath.Dot(h.AsSpan(i * N, N), v);
        return r;
    }

    private static double[] Vector(int seed)
    {
        var rng = new System.Random(seed);
        return Enumerable.Range(0, N).Select(_ => rng.NextDouble() - 0.5).ToArray();
    }

    /// <summary>k H-conjugate directions (Gram–Schmidt in H's inner product), each with y = H s and sᵀy.</summary>
    private static List<(double[] S, double[] Y, double Sy)> ConjugatePairs(double[] h, int k, int seed)
    {
        var pairs = new List<(double[] S, double[] Y, double Sy)>();
        for (int i = 0; i < k; i++)
        {
            var s = Vector(seed + i);
            foreach (var (sp, yp, syp) in pairs) SpanMath.MultiplyAdd(sp, -SpanMath.Dot(yp, s) / syp, s, s);
            var y = Times(h, s);
            pairs.Add((s, y, SpanMath.Dot(s, y)));
        }
        return pairs;
    }

    private static double[] Identity(double[] v) => (double[])v.Clone();

    [Fact]
    public void On_conjugate_pairs_it_maps_every_y_to_its_s()
    {
        var h = Spd(N, 1);
        var pairs = new CurvaturePairs(N);
        foreach (var (s, y, sy) in ConjugatePairs(h, 5, 10)) pairs.Add(s, y, sy, HessianKind.Exact);
        Assert.Equal(5, pairs.Count);
        for (int i = 0; i < pairs.Count; i++)
        {
            var (s, y) = pairs[i];
            double err = Assertions.RelativeError(pairs.Apply(Identity, y), s);
            Assert.True(err < 1e-10, $"pair {i}: M⁻¹y differs from s by {err:E2}");
        }
    }

    [Fact]
    public void It_is_symmetric_positive_definite_and_without_pairs_the_base_preconditioner()
    {
        var h = Spd(N, 2);
        var pairs = new CurvaturePairs(N);
        Func<double[], double[]> baseInverse = v => v.Select((x, i) => x / (1 + i)).ToArray();   // diagonal, SPD
        var r = Vector(30);
        Assert.Equal(baseInverse(r), pairs.Apply(baseInverse, r));
        foreach (var (s, y, sy) in ConjugatePairs(h, 4, 20)) pairs.Add(s, y, sy, HessianKind.Exact);
        for (int t = 0; t < 5; t++)
        {
            var u = Vector(40 + t);
            var v = Vector(50 + t);
            double uMv = SpanMath.Dot(u, pairs.Apply(baseInverse, v)), vMu = SpanMath.Dot(v, pairs.Apply(baseInverse, u));
            Assert.True(Math.Abs(uMv - vMu) <= 1e-10 * (Math.Abs(uMv) + 1e-300), $"uᵀMv = {uMv}, vᵀMu = {vMu}");
            Assert.True(SpanMath.Dot(u, pairs.Apply(baseInverse, u)) > 0);
        }
    }

    [Fact]
    public void It_keeps_the_most_recent_pairs_of_one_kind_with_positive_curvature()
    {
        var pairs = new CurvaturePairs(N);
        Assert.Equal(CurvaturePairs.MaxPairs, pairs.Limit);
        for (int i = 0; i < CurvaturePairs.MaxPairs + 3; i++)
        {
            var s = Vector(i);
            pairs.Add(s, (double[])s.Clone(), SpanMath.Dot(s, s), HessianKind.GaussNewton);
        }
        Assert.Equal(CurvaturePairs.MaxPairs, pairs.Count);
        Assert.Equal(Vector(3), pairs[0].S);                                   // the three oldest dropped
        var t = Vector(100);
        pairs.Add(t, t.Select(x => -x).ToArray(), -SpanMath.Dot(t, t), HessianKind.GaussNewton);   // negative curvature: ignored
        pairs.Add(t, (double[])t.Clone(), 0, HessianKind.GaussNewton);                    // zero: ignored
        Assert.Equal(CurvaturePairs.MaxPairs, pairs.Count);
        pairs.Add(t, (double[])t.Clone(), SpanMath.Dot(t, t), HessianKind.Exact);         // another kind: the rest go
        Assert.Equal(1, pairs.Count);
        Assert.Equal(HessianKind.Exact, pairs.Kind);
    }

    [Fact]
    public void Large_problems_keep_fewer_pairs_within_the_memory_limit()
    {
        Assert.Equal(CurvaturePairs.MaxPairs, CurvaturePairs.LimitFor(128 * 128));
        Assert.Equal(4, CurvaturePairs.LimitFor(1000 * 1000));                             // 64 MiB / (16 B · 10⁶)
        Assert.Equal(0, CurvaturePairs.LimitFor(5_000_000));
        var none = new CurvaturePairs(5_000_000);
        var s = new double[] { 1 };
        none.Add(s, s, 1, HessianKind.Exact);
        Assert.Equal(0, none.Count);
    }
}
