using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Tests;

/// <summary>The register-blocked GEMM against a naive triple loop, with leading dimensions wider than the rows.</summary>
public class MatrixProductsTests
{
    [Fact]
    public void Matrix_products_match_a_naive_triple_loop_for_ragged_shapes()
    {
        var rng = new Random.Rng(7);
        // The last two are above MatrixProducts.NativeMinimumWork: they go to OpenBLAS where it is installed.
        foreach (var (m, n, k) in new[] { (1, 1, 1), (5, 13, 3), (4, 8, 17), (9, 7, 64), (3, 33, 2), (0, 4, 4), (4, 4, 0), (67, 65, 64), (33, 130, 70) })
        {
            int lda = k + 2, ldb = n + 1, ldc = n + 3;
            var a = new double[Math.Max(1, m * lda)];
            var b = new double[Math.Max(1, k * ldb)];
            var c = new double[Math.Max(1, m * ldc)];
            rng.FillNormal(a); rng.FillNormal(b); rng.FillNormal(c);
            var c0 = (double[])c.Clone();
            foreach (var accumulate in new[] { false, true })
            {
                var result = (double[])c0.Clone();
                MatrixProducts.Gemm(m, n, k, a, lda, b, ldb, result, ldc, accumulate);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < ldc; j++)
                    {
                        if (j >= n) { Assert.Equal(c0[i * ldc + j], result[i * ldc + j]); continue; }
                        double s = accumulate ? c0[i * ldc + j] : 0;
                        for (int q = 0; q < k; q++) s += a[i * lda + q] * b[q * ldb + j];
                        Assert.Equal(s, result[i * ldc + j], 1e-12);
                    }
            }
        }
    }

    [Fact]
    public void OpenBLAS_is_used_wherever_Debian_installs_it()
    {
        bool installed = File.Exists("/usr/lib/x86_64-linux-gnu/libopenblas.so.0");
        if (Environment.GetEnvironmentVariable("DISTSOFTMAX_NATIVE_BLAS") != "0") Assert.Equal(installed, NativeBlas.Available);
    }

    [Fact]
    public void The_eigenvalues_of_a_symmetric_matrix_agree_between_OpenBLAS_and_MathNet()
    {
        int n = 60;
        var g = new double[n * n];
        new Random.Rng(17).FillNormal(g, 1.0);
        var h = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) h[i * n + j] = g[i * n + j] + g[j * n + i];
        var managed = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(n, n, (i, j) => h[i * n + j])
            .Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric).EigenValues.Select(e => e.Real).OrderBy(v => v).ToArray();
        var chosen = DenseAlgebra.SymmetricEigenvalues(h, n);
        for (int i = 0; i < n; i++) Assert.Equal(managed[i], chosen[i], 1e-10);
        var native = NativeBlas.SymmetricEigenvalues(h, n);
        Assert.Equal(NativeBlas.Available, native is not null);           // Debian's libopenblas carries LAPACKE
        if (native is not null)
            for (int i = 0; i < n; i++) Assert.Equal(managed[i], native[i], 1e-10);
    }

    [Fact]
    public void Transpose_swaps_rows_and_columns()
    {
        var s = Enumerable.Range(0, 35 * 40).Select(i => (double)i).ToArray();
        var t = MatrixProducts.Transpose(s, 35, 40);
        for (int i = 0; i < 35; i++)
            for (int j = 0; j < 40; j++) Assert.Equal(s[i * 40 + j], t[j * 35 + i]);
    }

    [Fact]
    public void Overlapping_output_is_rejected()
    {
        var a = new double[16];
        Assert.Throws<ArgumentException>(() => MatrixProducts.Gemm(4, 4, 4, a, 4, new double[16], 4, a, 4, false));
    }
}
