using System.Runtime.Intrinsics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The AVX-512 register-tiled product against the scalar loop it must equal bit for bit: each entry Σ_p a_ip·b_pj by
/// fused multiply-adds from zero in order p = 0 … k−1 (then added to C), for shapes that exercise whole tiles, the row
/// and column remainders, packed and unpacked panels (and panels packed beforehand), and leading dimensions wider than
/// the rows.
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
        CheckAgainstOrderedSums<double>(11, extraLd: (3, 5, 2), (m, n, k, a, lda, b, ldb, c, ldc, add) => Avx512Gemm.Multiply(m, n, k, a, lda, b, ldb, c, ldc, add));
    }

    [Fact]
    public void Single_products_equal_the_ordered_scalar_sums_bit_for_bit()
    {
        if (!Vector512.IsHardwareAccelerated) return;
        CheckAgainstOrderedSums<float>(12, extraLd: (1, 7, 3), (m, n, k, a, lda, b, ldb, c, ldc, add) => Avx512Gemm.Multiply(m, n, k, a, lda, b, ldb, c, ldc, add));
    }

    [Fact]
    public void Products_from_prepacked_panels_equal_the_ordered_scalar_sums_bit_for_bit()
    {
        // MultiplyPacked overwrites C (the accumulating cases run Multiply, as the shards do).
        if (!Vector512.IsHardwareAccelerated) return;
        CheckAgainstOrderedSums<double>(13, extraLd: (3, 5, 2), (m, n, k, a, lda, b, ldb, c, ldc, add) =>
        {
            if (add) Avx512Gemm.Multiply(m, n, k, a, lda, b, ldb, c, ldc, true);
            else Avx512Gemm.MultiplyPacked(m, n, k, a, lda, Avx512Gemm.PackPanels<double>(b, k, n, ldb), c, ldc);
        });
        CheckAgainstOrderedSums<float>(14, extraLd: (1, 7, 3), (m, n, k, a, lda, b, ldb, c, ldc, add) =>
        {
            if (add) Avx512Gemm.Multiply(m, n, k, a, lda, b, ldb, c, ldc, true);
            else Avx512Gemm.MultiplyPacked(m, n, k, a, lda, Avx512Gemm.PackPanels<float>(b, k, n, ldb), c, ldc);
        });
    }

    private delegate void Product<T>(int m, int n, int k, T[] a, int lda, T[] b, int ldb, T[] c, int ldc, bool accumulate);

    /// <summary>
    /// Every shape, with tight leading dimensions and with <paramref name="extraLd"/> more, overwriting and accumulating:
    /// each entry of C must equal Σ_p a_ip·b_pj by fused multiply-adds from zero in order p = 0 … k−1 (then added to
    /// C's old value), and the entries past n in each row of C must be untouched.
    /// </summary>
    private static void CheckAgainstOrderedSums<T>(ulong seed, (int A, int B, int C) extraLd, Product<T> multiply)
        where T : System.Numerics.IFloatingPointIeee754<T>
    {
        var rng = new Random.Rng(seed);
        T[] Fill(int count) { var v = new double[count]; rng.FillNormal(v); return v.Select(T.CreateTruncating).ToArray(); }
        foreach (var (m, n, k) in Shapes)
            foreach (var (lda, ldb, ldc) in new[] { (k, n, n), (k + extraLd.A, n + extraLd.B, n + extraLd.C) })
            {
                var a = Fill(m * lda); var b = Fill(k * ldb); var c = Fill(m * ldc);
                foreach (bool accumulate in new[] { false, true })
                {
                    var result = (T[])c.Clone();
                    multiply(m, n, k, a, lda, b, ldb, result, ldc, accumulate);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < ldc; j++)
                        {
                            T expected = c[i * ldc + j];
                            if (j < n)
                            {
                                T s = T.Zero;
                                for (int p = 0; p < k; p++) s = T.FusedMultiplyAdd(a[i * lda + p], b[p * ldb + j], s);
                                expected = accumulate ? expected + s : s;
                            }
                            Assert.True(expected.Equals(result[i * ldc + j]), $"{typeof(T).Name} {m}×{n}×{k} ld {lda},{ldb},{ldc} add {accumulate}: C[{i},{j}] {result[i * ldc + j]:R} ≠ {expected:R}");
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
