using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// Normalized softmax's fused loss-and-gradient row (<see cref="NormalizedSoftmax.GradientPass"/>) gives what its
/// separate operators give: the loss and gradient against a plain double loop, the single-precision terms bit for bit
/// those of <see cref="NormalizedSoftmax.SingleRowTerms"/>, and the gradient bit for bit <see cref="NormalizedSoftmax.Gradient"/>'s.
/// </summary>
public class GradientPassTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(1000)]
    [InlineData(4099)]
    public void The_fused_row_gives_the_loss_the_gradient_and_the_terms_of_the_separate_operators(int n)
    {
        var family = NormalizedSoftmax.Instance;
        var rng = new Random.Rng((ulong)(n + 11));
        var z = new double[n];
        var b = new double[n];
        for (int i = 0; i < n; i++) { z[i] = 3 * rng.NextDouble() - 1.5; b[i] = rng.NextDouble(); }
        double bSum = b.Sum();
        for (int i = 0; i < n; i++) b[i] /= bSum;
        var f = new double[n];
        family.RowValues(z, f);

        // The reference in plain double loops: ℓ = ½‖f − b‖², g = f∘(f − b − γ), γ = ⟨f,f⟩ − ⟨f,b⟩.
        double ff = 0, fb = 0, cc = 0;
        for (int i = 0; i < n; i++) { ff += f[i] * f[i]; fb += f[i] * b[i]; cc += (f[i] - b[i]) * (f[i] - b[i]); }
        var expected = new double[n];
        for (int i = 0; i < n; i++) expected[i] = f[i] * (f[i] - b[i] - (ff - fb));

        var g = new double[n];
        var terms = new float[IOwnRowOperators.SingleTermsPerEntry * n];
        var sums = new double[IOwnRowOperators.SingleTermSumsPerRow];
        double loss = family.GradientPass(f, b, g, terms, sums);
        Assert.True(Math.Abs(loss - 0.5 * cc) <= 1e-14 * Math.Max(cc, 1e-300), $"loss {loss} against {0.5 * cc}");
        Assert.True(Math.Abs(loss - family.HalfSquaredResidual(f, b)) <= 1e-15 * loss, "the loss differs from HalfSquaredResidual's");
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < n; i++)
            Assert.True(Math.Abs(g[i] - expected[i]) <= 1e-14 * scale, $"g[{i}] = {g[i]}, expected {expected[i]}");

        // The terms and the gradient exactly as the separate operators write them.
        var separateTerms = new float[terms.Length];
        var separateSums = new double[sums.Length];
        family.SingleRowTerms(f, b, separateTerms, separateSums);
        Assert.Equal(separateTerms, terms);
        Assert.Equal(separateSums, sums);
        var separateG = new double[n];
        family.Gradient(f, b, separateG);
        Assert.Equal(separateG, g);

        // Without terms: the same loss and gradient, and the terms' storage is not needed.
        var g2 = new double[n];
        Assert.Equal(loss, family.GradientPass(f, b, g2, default, default));
        Assert.Equal(g, g2);
    }
}
