using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Tests;

/// <summary>The whole-row residual against each family's own phase-1 loss.</summary>
public class RowResidualTests
{
    public static IEnumerable<object[]> Families() => TestProblem.AllFamilies().Select(f => new object[] { f.Name });

    [Theory]
    [MemberData(nameof(Families))]
    public void Half_squared_residual_equals_the_family_loss(string name)
    {
        var family = TestProblem.FamilyNamed(name);
        var residual = RowResidual.For(family);
        Assert.NotNull(residual);
        foreach (ulong seed in new ulong[] { 1, 2, 3 })
        {
            const int n = 23;
            var z = TestProblem.Vector(n, seed, 1.5);
            var b = name.StartsWith("hyperbolic") ? TestProblem.Vector(n, seed + 10, 0.5) : TestProblem.Distribution(n, seed + 10);
            double expected = family.Globals(family.LocalScalars(z, b, null), null)[0];
            double actual = RowResidual.HalfSquaredNorm(residual!, z, b, new double[n]);
            Assert.True(Math.Abs(actual - expected) <= 1e-12 * expected, $"{actual} vs {expected}");
        }
    }

    [Theory]
    [InlineData("normalized")]
    [InlineData("rescaled-exp")]
    public void Residual_loss_of_an_exact_fit_has_no_rounding_floor(string name)
    {
        // b = softmax(z) exactly fits both families; ½‖c‖² is then at the level of the rounding of c itself,
        // (1e-16)²·scale with scale = ½Σ(terms of c)², while the phase-1 sum formula's floor is about 1e-16·scale.
        const int n = 40;
        var family = TestProblem.FamilyNamed(name);
        var z = TestProblem.Vector(n, 5, 2.0);
        double m = z.Max();
        var e = z.Select(v => Math.Exp(v - m)).ToArray();
        var b = e.Select(v => v / e.Sum()).ToArray();
        double loss = RowResidual.HalfSquaredNorm(RowResidual.For(family)!, z, b, new double[n]);
        double scale = name == "normalized"
            ? 0.5 * b.Sum(v => v * v)
            : 0.5 * z.Sum(v => Math.Exp(2 * v));
        Assert.True(loss <= 1e-24 * scale, $"residual loss {loss:E3}, scale {scale:E3}");
    }
}
