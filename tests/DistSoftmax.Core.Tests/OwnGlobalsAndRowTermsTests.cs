using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The one-call form of both phases on a complete row (what a matrix shard computes for every row of M) against the
/// two phases called one after the other, for every family and both curvature models; NormalizedSoftmax fuses the
/// phases (one exponential per entry), the others use the interface's default.
/// </summary>
public class OwnGlobalsAndRowTermsTests
{
    public static IEnumerable<object[]> Cases() =>
        from f in TestProblem.AllFamilies()
        from kind in new[] { HessianKind.Exact, HessianKind.GaussNewton }
        from n in new[] { 1, 7, 1000 }
        select new object[] { f.Name, kind, n };

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_fused_row_equals_the_two_phases(string family, HessianKind kind, int n)
    {
        var f = TestProblem.FamilyNamed(family);
        var z = TestProblem.Vector(n, 21, 3.0);
        var b = family.StartsWith("hyperbolic") ? TestProblem.Vector(n, 22, 0.5).Select(v => v + 1.2).ToArray() : TestProblem.Distribution(n, 22);
        int lr = f.LowRankCount;
        var globals = f.Globals(f.LocalScalars(z, b, null), null);
        double[] g = new double[n], d = new double[n], q = new double[lr * n];
        f.RowTerms(z, b, globals, kind, g, d, q);

        double[] g2 = new double[n], d2 = new double[n], q2 = new double[lr * n];
        var globals2 = f.OwnGlobalsAndRowTerms(z, b, kind, g2, d2, q2);

        Assert.Equal(globals.Length, globals2.Length);
        for (int i = 0; i < globals.Length; i++) Assert.Equal(globals[i], globals2[i], 1e-13 * (1 + Math.Abs(globals[i])));
        static void Same(double[] expected, double[] actual, string what)
        {
            double scale = 1e-300;
            foreach (var v in expected) scale = Math.Max(scale, Math.Abs(v));
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-13 * scale, $"{what}[{i}] = {actual[i]}, expected {expected[i]}");
        }
        Same(g, g2, "g"); Same(d, d2, "D"); Same(q, q2, "q");
    }

    [Fact]
    public void Normalized_row_terms_are_the_formulas_of_the_family()
    {
        // f = softmax(z), c = f − b, γ = ⟨f,c⟩: g = f∘c − γf; exact v = (2f − b)∘f, D = v − γf; Gauss–Newton D = f∘f.
        int n = 50;
        var z = TestProblem.Vector(n, 31, 2.0);
        var b = TestProblem.Distribution(n, 32);
        double max = z.Max();
        var e = z.Select(v => Math.Exp(v - max)).ToArray();
        double s = e.Sum();
        var fv = e.Select(v => v / s).ToArray();
        double gamma = 0;
        for (int i = 0; i < n; i++) gamma += fv[i] * (fv[i] - b[i]);
        foreach (var kind in new[] { HessianKind.Exact, HessianKind.GaussNewton })
        {
            double[] g = new double[n], d = new double[n], q = new double[2 * n];
            NormalizedSoftmax.Instance.OwnGlobalsAndRowTerms(z, b, kind, g, d, q);
            for (int i = 0; i < n; i++)
            {
                double f = fv[i], v = (2 * f - b[i]) * f;
                Assert.Equal(f * (f - b[i]) - gamma * f, g[i], 1e-15);
                Assert.Equal(f, q[i], 1e-15);
                Assert.Equal(kind == HessianKind.Exact ? v : f * f, q[n + i], 1e-15);
                Assert.Equal(kind == HessianKind.Exact ? v - gamma * f : f * f, d[i], 1e-15);
            }
        }
    }
}
