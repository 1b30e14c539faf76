using DistSoftmax.Core.Kernels;
using Xunit;

namespace DistSoftmax.Core.Tests;

public class SymmetricEigenTests
{
    /// <summary>A symmetric n×n matrix with eigenvalues of both signs (B + Bᵀ for a Gaussian B, shifted).</summary>
    private static double[] Indefinite(int n, int seed)
    {
        var rng = new System.Random(seed);
        var b = new double[n * n];
        for (int i = 0; i < b.Length; i++) b[i] = rng.NextDouble() * 2 - 1;
        var h = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) h[i * n + j] = b[i * n + j] + b[j * n + i] + (i == j ? 0.5 : 0);
        return h;
    }

    private static double MaxAbs(ReadOnlySpan<double> v)
    {
        double m = 0;
        foreach (var x in v) m = Math.Max(m, Math.Abs(x));
        return m;
    }

    [Theory]
    [InlineData(7, false)]
    [InlineData(7, true)]
    [InlineData(130, false)]
    [InlineData(130, true)]
    public void Each_row_is_a_unit_eigenvector_and_the_values_ascend(int n, bool managed)
    {
        var h = Indefinite(n, n);
        var eigen = SymmetricEigen.Of(h, n, managed);
        double scale = MaxAbs(eigen.Values);
        Assert.True(eigen.Values[0] < 0 && eigen.Values[^1] > 0, "the test matrix is indefinite");
        for (int e = 0; e < n; e++)
        {
            if (e > 0) Assert.True(eigen.Values[e] >= eigen.Values[e - 1]);
            var v = eigen.Vector(e);
            var hv = DenseAlgebra.Multiply(h, n, v.ToArray());
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(hv[i] - eigen.Values[e] * v[i]) < 1e-11 * scale, $"H v_{e} ≠ λ v_{e} at {i}");
            for (int f = e; f < n; f++)
                Assert.Equal(e == f ? 1.0 : 0.0, System.Numerics.Tensors.TensorPrimitives.Dot(v, eigen.Vector(f)), 12);
        }
    }

    [Fact]
    public void Native_and_managed_decompositions_agree()
    {
        const int n = 90;
        var h = Indefinite(n, 3);
        var native = SymmetricEigen.Of(h, n);
        var managed = SymmetricEigen.Of(h, n, managed: true);
        double scale = MaxAbs(managed.Values);
        for (int e = 0; e < n; e++) Assert.True(Math.Abs(native.Values[e] - managed.Values[e]) < 1e-12 * scale);
        // The same solve through either basis (the eigenvectors' signs may differ; V Λ⁻¹ Vᵀ r does not).
        var r = Enumerable.Range(0, n).Select(i => Math.Sin(i + 1.0)).ToArray();
        double[] Solve(SymmetricEigen eigen)
        {
            var c = eigen.Coordinates(r);
            for (int e = 0; e < n; e++) c[e] /= eigen.Values[e];
            return eigen.Combine(c);
        }
        var a = Solve(native);
        var b = Solve(managed);
        double size = MaxAbs(b);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(a[i] - b[i]) < 1e-9 * size, $"entry {i}: {a[i]} against {b[i]}");
        var back = DenseAlgebra.Multiply(h, n, a);
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(back[i] - r[i]) < 1e-9, $"H y ≠ r at {i}");
    }

    [Fact]
    public void The_native_decomposition_is_used_where_OpenBLAS_is_loaded()
    {
        var h = Indefinite(5, 1);
        Assert.Equal(NativeBlas.Available, NativeBlas.SymmetricEigenDecomposition(h, 5) is not null);
    }

    [Fact]
    public void Non_finite_entries_are_refused()
    {
        var h = Indefinite(4, 2);
        h[5] = double.NaN;
        var e = Assert.Throws<ArgumentException>(() => SymmetricEigen.Of(h, 4));
        Assert.Contains("non-finite", e.Message);
    }

    [Fact]
    public void Coordinates_and_combination_are_inverse()
    {
        const int n = 20;
        var eigen = SymmetricEigen.Of(Indefinite(n, 9), n);
        var v = Enumerable.Range(0, n).Select(i => i * 0.25 - 2).ToArray();
        var back = eigen.Combine(eigen.Coordinates(v));
        for (int i = 0; i < n; i++) Assert.Equal(v[i], back[i], 12);
    }
}
