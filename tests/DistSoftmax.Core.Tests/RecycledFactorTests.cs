using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Solvers.Curvature;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// A preconditioner build writes its Cholesky factor into the factor of the one it replaces
/// (<see cref="SampledGramPreconditioner.FromGram"/>'s recycled array): the result is the same preconditioner, and a
/// factorisation that fails leaves the recycled array as it was.
/// </summary>
public class RecycledFactorTests
{
    private static double[] GramPacked(int d, ulong seed, double shift)
    {
        var a = TestProblem.Vector(3 * d * d, seed);
        var full = new double[d * d];
        for (int r = 0; r < 3 * d; r++)
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++) full[i * d + j] += a[r * d + i] * a[r * d + j];
        for (int i = 0; i < d; i++) full[i * d + i] += shift;
        return Packed.FromUpper(full, d);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(96)]   // above OpenBLAS's dpotrf threshold where it is loaded
    public void A_recycled_factor_gives_the_same_preconditioner(int d)
    {
        var lowRank = TestProblem.Vector(2 * d, 5);
        double[] coefficients = [0.3, -0.1, -0.1, 0.2];
        var previous = SampledGramPreconditioner.FromGram(GramPacked(d, 1, 0.5), lowRank, coefficients, d, 100)!;
        var gram = GramPacked(d, 2, 0.1);
        var fresh = SampledGramPreconditioner.FromGram(gram, lowRank, coefficients, d, 100)!;
        var recycled = SampledGramPreconditioner.FromGram(gram, lowRank, coefficients, d, 100, recycledFactor: previous.LeverageTriangle)!;
        Assert.Same(previous.LeverageTriangle, recycled.LeverageTriangle);
        Assert.Equal(fresh.LeverageTriangle, recycled.LeverageTriangle);
        var r = TestProblem.Vector(d, 9);
        Assert.Equal(fresh.Apply(r), recycled.Apply(r));
    }

    [Fact]
    public void A_failed_factorisation_leaves_the_recycled_array_untouched()
    {
        const int d = 10;
        var previous = SampledGramPreconditioner.FromGram(GramPacked(d, 3, 0.5), [], [], d, 100)!;
        var before = (double[])previous.LeverageTriangle.Clone();
        // Indefinite with a trace near d: the largest damping tried (1e-10·tr/d raised ×100 eight times, ≈ 1e6) is
        // far below the −1e9 eigenvalue, so no attempt factors.
        var broken = new double[Packed.Length(d)];
        for (int i = 0; i < d; i++) broken[Packed.DiagonalIndex(i, d)] = 1.0;
        broken[Packed.DiagonalIndex(0, d)] = 1e9;
        broken[Packed.DiagonalIndex(1, d)] = -1e9;
        Assert.Null(SampledGramPreconditioner.FromGram(broken, [], [], d, 100, recycledFactor: previous.LeverageTriangle));
        Assert.Equal(before, previous.LeverageTriangle);
    }

    [Theory]
    [InlineData(double.NaN, 0)]                  // packed entry 0: the diagonal (0, 0)
    [InlineData(double.PositiveInfinity, 7)]     // packed entry 7: (0, 7), off the diagonal
    public void A_non_finite_Gram_does_not_factor(double value, int entry)
    {
        const int d = 10;
        var gram = GramPacked(d, 6, 0.5);
        gram[entry] = value;
        Assert.Null(SampledGramPreconditioner.FromGram(gram, [], [], d, 100));
    }
}
