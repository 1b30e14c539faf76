using System.Runtime.Intrinsics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The AVX-512 register-tiled product against the scalar loop it must equal bit for bit: each entry Σ_p a_ip·b_pj by
/// fused multiply-adds from zero in order p = 0 … k−1 (then added to C), for shapes that exercise whole tiles, the row
/// and column remainders, packed and unpacked panels, and leading dimensions wider than the rows.
/// </summary>
public class Avx512GemmTests
{
    private static readonly (int M, int N, int K)[] Shapes =
    {
        (1, 1, 1), (5, 13, 3), (6, 64, 64), (7, 65, 17), (13, 130, 64), (12, 16, 5), (25, 200, 129), (128, 256, 64),
        (19, 64, 700), (13, 130, 1100), (3, 31, 2), (6, 33, 1),
    };

    [Fact]
    public void Double_products_equal_the_ordered_scalar_sums_bit_for_bit()
    {
        if (!Vector512.IsHardwareAccelerated) return;
        var rng = new Random.Rng(11);
        foreach (var (m, n, k) in Shapes)
            foreach (var (lda, ldb, ldc) in new[] { (k, n, n), (k + 3, n + 5, n + 2) })
            {
                var a = new double[m * lda]; var b = new double[k * ldb]; var c = new double[m * ldc];
                rng.FillNormal(a); rng.FillNormal(b); rng.FillNormal(c);
                foreach (bool accumulate in new[] { false, true })
                {
                    var result = (double[])c.Clone();
                    Avx512Gemm.Multiply(m, n, k, a, lda, b, ldb, result, ldc, accumulate);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < ldc; j++)
                        {
                            double expected = c[i * ldc + j];
                            if (j < n)
                            {
                                double s = 0;
                                for (int p = 0; p < k; p++) s = Math.FusedMultiplyAdd(a[i * lda + p], b[p * ldb + j], s);
                                expected = accumulate ? expected + s : s;
                            }
                            Assert.True(expected.Equals(result[i * ldc + j]), $"{m}×{n}×{k} ld {lda},{ldb},{ldc} add {accumulate}: C[{i},{j}] {result[i * ldc + j]:R} ≠ {expected:R}");
                        }
                }
            }
    }

    [Fact]
    public void Single_products_equal_the_ordered_scalar_sums_bit_for_bit()
    {
        if (!Vector512.IsHardwareAccelerated) return;
        var rng = new Random.Rng(12);
        float[] Fill(int count) { var v = new double[count]; rng.FillNormal(v); return v.Select(x => (float)x).ToArray(); }
        foreach (var (m, n, k) in Shapes)
            foreach (var (lda, ldb, ldc) in new[] { (k, n, n), (k + 1, n + 7, n + 3) })
            {
                var a = Fill(m * lda); var b = Fill(k * ldb); var c = Fill(m * ldc);
                foreach (bool accumulate in new[] { false, true })
                {
                    var result = (float[])c.Clone();
                    Avx512Gemm.Multiply(m, n, k, a, lda, b, ldb, result, ldc, accumulate);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < ldc; j++)
                        {
                            float expected = c[i * ldc + j];
                            if (j < n)
                            {
                                float s = 0;
                                for (int p = 0; p < k; p++) s = MathF.FusedMultiplyAdd(a[i * lda + p], b[p * ldb + j], s);
                                expected = accumulate ? expected + s : s;
                            }
                            Assert.True(expected.Equals(result[i * ldc + j]), $"{m}×{n}×{k} ld {lda},{ldb},{ldc} add {accumulate}: C[{i},{j}] {result[i * ldc + j]:R} ≠ {expected:R}");
                        }
                }
            }
    }

    [Fact]
    public void The_matrix_shards_products_run_on_512_bit_vectors_where_the_processor_has_them()
    {
        Assert.Equal(Vector512.IsHardwareAccelerated && Environment.GetEnvironmentVariable(Avx512Gemm.SwitchVariable) != "0", Avx512Gemm.Available);
        if (Vector512.IsHardwareAccelerated) Assert.True(MatrixProducts.SingleAvailable);
    }
}
