using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// BLAS-named kernels on row-major dense blocks A (rows×d, contiguous), vectorised with <see cref="Vector{T}"/>
/// and blocked four rows at a time so that each row is read once while its operands stay in registers/L1.
/// All loops are fixed in order, so results are deterministic.
/// </summary>
public static class DenseKernels
{
    private static int W => Vector<double>.Count;

    /// <summary>y[i] = a_iᵀ x for the rows of A (GEMV).</summary>
    public static void Gemv(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> x, Span<double> y)
    {
        int i = 0;
        for (; i + 4 <= rows; i += 4)
        {
            var r0 = a.Slice(i * d, d); var r1 = a.Slice((i + 1) * d, d);
            var r2 = a.Slice((i + 2) * d, d); var r3 = a.Slice((i + 3) * d, d);
            var s0 = Vector<double>.Zero; var s1 = Vector<double>.Zero; var s2 = Vector<double>.Zero; var s3 = Vector<double>.Zero;
            int j = 0;
            for (; j + W <= d; j += W)
            {
                var xv = new Vector<double>(x.Slice(j));
                s0 += new Vector<double>(r0.Slice(j)) * xv;
                s1 += new Vector<double>(r1.Slice(j)) * xv;
                s2 += new Vector<double>(r2.Slice(j)) * xv;
                s3 += new Vector<double>(r3.Slice(j)) * xv;
            }
            double t0 = Vector.Sum(s0), t1 = Vector.Sum(s1), t2 = Vector.Sum(s2), t3 = Vector.Sum(s3);
            for (; j < d; j++)
            {
                double xj = x[j];
                t0 += r0[j] * xj; t1 += r1[j] * xj; t2 += r2[j] * xj; t3 += r3[j] * xj;
            }
            y[i] = t0; y[i + 1] = t1; y[i + 2] = t2; y[i + 3] = t3;
        }
        for (; i < rows; i++) y[i] = Dot(a.Slice(i * d, d), x);
    }

    /// <summary>aᵀx with one vector accumulator and a scalar tail.</summary>
    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> x)
    {
        var s = Vector<double>.Zero;
        int j = 0;
        for (; j + W <= a.Length; j += W) s += new Vector<double>(a.Slice(j)) * new Vector<double>(x.Slice(j));
        double t = Vector.Sum(s);
        for (; j < a.Length; j++) t += a[j] * x[j];
        return t;
    }

    /// <summary>acc += Aᵀ v (GEMV with A transposed): acc_j += Σ_i v_i a_ij.</summary>
    public static void GemvTransposed(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> v, Span<double> acc)
    {
        int i = 0;
        for (; i + 4 <= rows; i += 4)
        {
            double c0 = v[i], c1 = v[i + 1], c2 = v[i + 2], c3 = v[i + 3];
            var r0 = a.Slice(i * d, d); var r1 = a.Slice((i + 1) * d, d);
            var r2 = a.Slice((i + 2) * d, d); var r3 = a.Slice((i + 3) * d, d);
            var v0 = new Vector<double>(c0); var v1 = new Vector<double>(c1);
            var v2 = new Vector<double>(c2); var v3 = new Vector<double>(c3);
            int j = 0;
            for (; j + W <= d; j += W)
            {
                var s = new Vector<double>(acc.Slice(j))
                        + new Vector<double>(r0.Slice(j)) * v0 + new Vector<double>(r1.Slice(j)) * v1
                        + new Vector<double>(r2.Slice(j)) * v2 + new Vector<double>(r3.Slice(j)) * v3;
                s.CopyTo(acc.Slice(j));
            }
            for (; j < d; j++) acc[j] += r0[j] * c0 + r1[j] * c1 + r2[j] * c2 + r3[j] * c3;
        }
        for (; i < rows; i++) Axpy(v[i], a.Slice(i * d, d), acc);
    }

    /// <summary>y += α x.</summary>
    public static void Axpy(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        if (alpha == 0) return;
        var av = new Vector<double>(alpha);
        int j = 0;
        for (; j + W <= x.Length; j += W) (new Vector<double>(y.Slice(j)) + new Vector<double>(x.Slice(j)) * av).CopyTo(y.Slice(j));
        for (; j < x.Length; j++) y[j] += alpha * x[j];
    }

    /// <summary>
    /// C += Aᵀ diag(w) A on the upper triangle of the d×d row-major C (SYRK), four rows per sweep of C so that
    /// C is read and written a quarter as often as with rank-one updates.
    /// </summary>
    public static void SyrkUpper(ReadOnlySpan<double> a, int rows, int d, ReadOnlySpan<double> w, Span<double> c)
    {
        int i = 0;
        for (; i + 4 <= rows; i += 4)
        {
            var r0 = a.Slice(i * d, d); var r1 = a.Slice((i + 1) * d, d);
            var r2 = a.Slice((i + 2) * d, d); var r3 = a.Slice((i + 3) * d, d);
            double w0 = w[i], w1 = w[i + 1], w2 = w[i + 2], w3 = w[i + 3];
            for (int p = 0; p < d; p++)
            {
                double c0 = w0 * r0[p], c1 = w1 * r1[p], c2 = w2 * r2[p], c3 = w3 * r3[p];
                if (c0 == 0 && c1 == 0 && c2 == 0 && c3 == 0) continue;
                var row = c.Slice(p * d, d);
                var v0 = new Vector<double>(c0); var v1 = new Vector<double>(c1);
                var v2 = new Vector<double>(c2); var v3 = new Vector<double>(c3);
                int j = p;
                for (; j + W <= d; j += W)
                {
                    var s = new Vector<double>(row.Slice(j))
                            + new Vector<double>(r0.Slice(j)) * v0 + new Vector<double>(r1.Slice(j)) * v1
                            + new Vector<double>(r2.Slice(j)) * v2 + new Vector<double>(r3.Slice(j)) * v3;
                    s.CopyTo(row.Slice(j));
                }
                for (; j < d; j++) row[j] += r0[j] * c0 + r1[j] * c1 + r2[j] * c2 + r3[j] * c3;
            }
        }
        for (; i < rows; i++)
        {
            var r = a.Slice(i * d, d);
            for (int p = 0; p < d; p++)
            {
                double s = w[i] * r[p];
                if (s != 0) Axpy(s, r.Slice(p), c.Slice(p * d + p, d - p));
            }
        }
    }
}
