using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The fused row of an anchored pass (<see cref="AnchoredRows.Pass"/>) against the same quantities from the separate
/// operations it replaces: the softmax at z_a + Δ formed from scratch, the family's gradient pass (loss, gradient row,
/// single-precision terms and sums) at it, and the gradient row at the anchor.
/// </summary>
public class AnchoredRowsTests
{
    /// <summary>Lengths with and without a vector tail, and one shorter than a vector step.</summary>
    [Theory]
    [InlineData(4096, 0.3)]
    [InlineData(1003, 2.0)]
    [InlineData(5, 1.0)]
    public void A_fused_anchored_row_is_the_separate_operations_to_rounding(int n, double changeScale)
    {
        var rng = new Rng((ulong)n);
        var z = new double[n];
        rng.FillNormal(z, 3.0);
        var b = rng.NextDirichlet(n, 0.5);
        var change = new float[n];
        for (int i = 0; i < n; i++) change[i] = (float)(changeScale * rng.NextNormal());
        var softmax = NormalizedSoftmax.Instance;

        // Reference: f_a = softmax(z), f = softmax(z + Δ) from scratch (the anchor's values are the softmax at z).
        var anchor = new double[n];
        softmax.RowValues(z, anchor);
        var moved = new double[n];
        for (int i = 0; i < n; i++) moved[i] = z[i] + change[i];
        var f = new double[n];
        softmax.RowValues(moved, f);
        var g = new double[n];
        var terms = new float[2 * n];
        var sums = new double[2];
        double loss = softmax.GradientPass(f, b, g, terms, sums);
        var anchorGradient = new double[n];
        softmax.Gradient(anchor, b, anchorGradient);

        var values = (double[])anchor.Clone();
        var gradientChange = new float[n];
        var fusedTerms = new float[2 * n];
        var fusedSums = new double[2];
        double fusedLoss = AnchoredRows.Pass(values, change, b, gradientChange, fusedTerms, fusedSums, new double[n]);

        const double Relative = 1e-13;
        Assert.True(Math.Abs(fusedLoss - loss) <= Relative * loss, $"loss {fusedLoss:R} against {loss:R}");
        double scale = SpanMath.Max(f);
        for (int i = 0; i < n; i++)
        {
            Assert.True(Math.Abs(values[i] - f[i]) <= Relative * scale, $"f[{i}] {values[i]:R} against {f[i]:R}");
            double difference = g[i] - anchorGradient[i];
            // One float rounding of the difference, plus the double roundings of the two rows (≤ their size × 1e-13).
            double allowed = Math.Abs(difference) * 6e-8 + Relative * (Math.Abs(g[i]) + Math.Abs(anchorGradient[i]) + scale * scale);
            Assert.True(Math.Abs(gradientChange[i] - difference) <= allowed, $"g − g_a [{i}] {gradientChange[i]:R} against {difference:R}");
            Assert.True(Math.Abs(fusedTerms[i] - terms[i]) <= 6e-8 * Math.Abs(terms[i]) + 1e-30, $"f term [{i}]");
            Assert.True(Math.Abs(fusedTerms[n + i] - terms[n + i]) <= 6e-8 * Math.Abs(terms[n + i]) + Relative * scale * scale, $"v term [{i}]");
        }
        Assert.True(Math.Abs(fusedSums[0] - sums[0]) <= Relative * sums[0], "⟨f,f⟩");
        Assert.True(Math.Abs(fusedSums[1] - sums[1]) <= Relative * Math.Abs(sums[1]), "⟨f,b⟩");
    }

    /// <summary>A change whose exponentials underflow (Δ − max Δ below −708) takes Math.Exp on those lanes: those
    /// entries' values are 0, the rest the softmax over the others.</summary>
    [Fact]
    public void Entries_whose_exponential_underflows_get_no_mass()
    {
        const int n = 16;
        var anchor = new double[n];
        Array.Fill(anchor, 1.0 / n);
        var change = new float[n];
        change[3] = -800f;
        change[12] = -2000f;
        var b = new double[n];
        Array.Fill(b, 1.0 / n);
        var values = (double[])anchor.Clone();
        AnchoredRows.Pass(values, change, b, new float[n], new float[2 * n], new double[2], new double[n]);
        Assert.Equal(0.0, values[12]);
        Assert.True(values[3] < 1e-300);
        for (int i = 0; i < n; i++)
            if (i != 3 && i != 12) Assert.Equal(1.0 / (n - 2), values[i], 15);
    }
}
