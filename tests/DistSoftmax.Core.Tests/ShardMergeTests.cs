using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>Merged shard statistics equal a naive whole-matrix computation for any split of the rows.</summary>
public class ShardMergeTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var f in TestProblem.AllFamilies())
            foreach (var shards in new[] { 1, 2, 4, 7 })
                foreach (var sparse in new[] { false, true })
                    yield return new object[] { f.Name, shards, sparse };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Merged_shards_equal_the_naive_whole_matrix_computation(string family, int shards, bool sparse)
    {
        int n = 61, d = 5;
        var a = TestProblem.Gaussian(n, d, 21);
        if (sparse)
            for (int i = 0; i < n; i++) a[i, (i * 3) % d] = 0;
        var b = family.StartsWith("hyperbolic") ? TestProblem.Vector(n, 22, 0.3) : TestProblem.Distribution(n, 22);
        var w = TestProblem.Vector(n, 23, 0.5);
        var p = new TestProblem(TestProblem.FamilyNamed(family), sparse ? a.ToCsr() : a, b, Regularizer.PerRow(w));
        var x = TestProblem.Vector(d, 24, 0.8);

        var merged = Evaluation.At(p.Driver(shards), p.Objective, x);
        var (loss, grad, hess) = NaiveReference.Evaluate(p.Family, a, b, w.Select(v => v * v).ToArray(), x);

        Assert.True(Math.Abs(merged.Loss - loss) <= 1e-12 * Math.Abs(loss), $"loss {merged.Loss} vs {loss}");
        Assert.True(Assertions.RelativeError(merged.Gradient, grad) < 1e-12, $"gradient rel err {Assertions.RelativeError(merged.Gradient, grad):E2}");
        Assert.True(Assertions.RelativeError(merged.Hessian, hess) < 1e-12, $"Hessian rel err {Assertions.RelativeError(merged.Hessian, hess):E2}");
    }

    [Fact]
    public void Scalar_sums_merge_the_same_in_any_order()
    {
        var powers = new[] { 1, 2, 0 };
        var a = new ScalarSums(3.0, new[] { 1.5, 0.7, 2.0 }, powers);
        var b = new ScalarSums(-2.0, new[] { 4.0, 3.0, 1.0 }, powers);
        var c = new ScalarSums(10.0, new[] { 0.25, 0.1, 5.0 }, powers);
        var left = a.Merge(b).Merge(c);
        var right = a.Merge(b.Merge(c));
        var swapped = c.Merge(a).Merge(b);
        foreach (var other in new[] { right, swapped })
        {
            Assert.Equal(left.Shift, other.Shift);
            for (int j = 0; j < 3; j++) Assert.Equal(left.Sums[j], other.Sums[j], 1e-15 * Math.Abs(left.Sums[j]));
        }
        Assert.Equal(10.0, left.Shift);
        Assert.Equal(1.5 * Math.Exp(-7) + 4.0 * Math.Exp(-12) + 0.25, left.Sums[0], 1e-15);
        Assert.Equal(0.7 * Math.Exp(-14) + 3.0 * Math.Exp(-24) + 0.1, left.Sums[1], 1e-15);
        Assert.Equal(8.0, left.Sums[2]);
    }

    [Fact]
    public void An_empty_shard_merges_as_the_identity()
    {
        var powers = new[] { 1, 0 };
        var a = new ScalarSums(2.0, new[] { 3.0, 4.0 }, powers);
        var merged = ScalarSums.Empty(powers).Merge(a);
        Assert.Equal(a.Shift, merged.Shift);
        Assert.Equal(a.Sums, merged.Sums);
    }

    [Fact]
    public void Entries_of_Ax_near_plus_or_minus_1000_give_finite_correct_normalized_statistics()
    {
        int n = 40, d = 3;
        var a = new DenseMatrix(n, d);
        var rng = new Random.Rng(5);
        for (int i = 0; i < n; i++) { a[i, 0] = i % 2 == 0 ? 1000 : -1000; a[i, 1] = rng.NextNormal(); a[i, 2] = rng.NextNormal(); }
        var b = TestProblem.Distribution(n, 6);
        var x = new[] { 1.0, 0.3, -0.2 };
        foreach (int shards in new[] { 1, 4, 7 })
        {
            var p = new TestProblem(NormalizedSoftmax.Instance, a, b, Regularizer.None);
            var e = Evaluation.At(p.Driver(shards), p.Objective, x);
            Assert.True(double.IsFinite(e.Loss));
            Assert.All(e.Gradient, v => Assert.True(double.IsFinite(v)));
            Assert.All(e.Hessian, v => Assert.True(double.IsFinite(v)));
            var (loss, grad, hess) = NaiveReference.Evaluate(NormalizedSoftmax.Instance, a, b, new double[n], x);
            Assert.True(Math.Abs(e.Loss - loss) <= 1e-12 * loss);
            Assert.True(Assertions.RelativeError(e.Gradient, grad) < 1e-10, $"grad {string.Join(",", e.Gradient)} vs {string.Join(",", grad)}");
            // Hessian entries along column 0 cancel terms of size |a_i0|² = 1e6, so either computation carries
            // rounding of about 1e6·ε ≈ 2e-10 in absolute terms there.
            Assert.True(Assertions.RelativeError(e.Hessian, hess) < 1e-9, $"H err {Assertions.RelativeError(e.Hessian, hess):E3} H00 {e.Hessian[0]} vs {hess[0]}, H11 {e.Hessian[4]} vs {hess[4]}");
        }
    }
}
