using DistSoftmax.Core;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Core.Sketching;

/// <summary>
/// The coordinator side of approximate leverage scores (docs/MATH.md, "Sampled Hessian"): from a CountSketch S·diag(√|D|)·A
/// (m×d, m ≥ d) take R of a thin QR, draw a d×k Gaussian G with N(0, 1/k) entries and form Y = R⁻¹G; then
/// τ_i ≈ |D_i|·‖a_iᵀ Y‖² approximates the leverage score of row i of diag(√|D|)A to a constant factor with
/// high probability (Johnson–Lindenstrauss on the rows of A R⁻¹, which has nearly orthonormal columns).
/// </summary>
public static class LeverageProjection
{
    /// <summary>
    /// Yᵀ (k×d row-major) for a SampledGramRequest, and the estimate ‖G‖²_F of Σ τ_i: if the sketch embedded
    /// diag(√|D|)A exactly, A R⁻¹ would have orthonormal columns and Σ_i ‖a_iᵀR⁻¹G‖² = ‖G‖²_F; a subspace
    /// embedding with distortion ε changes it by a factor within (1 ± ε)², which only scales the sample size.
    /// </summary>
    public static (double[] ProjectionT, double TotalEstimate) FromSketch(ReadOnlySpan<double> sketch, int d, int k, Rng rng)
    {
        int m = sketch.Length / d;
        if (m < d) throw new ArgumentException($"a sketch of {m} rows cannot give R for {d} columns");
        var r = DenseAlgebra.QrR(sketch, m, d);
        LiftSmallPivots(r, d);
        var g = new double[d * k];
        rng.FillNormal(g, 1.0 / Math.Sqrt(k));
        double total = System.Numerics.Tensors.TensorPrimitives.Dot<double>(g, g);
        var y = DenseAlgebra.UpperTriangularSolve(r, d, g, k);
        var yT = new double[k * d];
        for (int i = 0; i < d; i++)
            for (int c = 0; c < k; c++) yT[c * d + i] = y[i * k + c];
        return (yT, total);
    }

    /// <summary>
    /// As <see cref="FromSketch"/>, from R itself: the packed upper triangle (d(d+1)/2, see <see cref="Packed"/>) that
    /// shards return for <see cref="Statistics.SketchForm.Triangle"/> (the TSQR of their per-shard sketches). Y = R⁻¹G
    /// by back substitution on the rows of R, k right-hand sides at a time.
    /// </summary>
    public static (double[] ProjectionT, double TotalEstimate) FromTriangle(ReadOnlySpan<double> packedR, int d, int k, Rng rng)
    {
        if (packedR.Length != Packed.Length(d))
            throw new ArgumentException($"a triangle of {packedR.Length} entries is not the R of {d} columns");
        var r = packedR.ToArray();
        double max = 0;
        for (int i = 0; i < d; i++) max = Math.Max(max, Math.Abs(r[Packed.DiagonalIndex(i, d)]));
        double floor = Math.Max(max * 1e-10, 1e-300);
        var g = new double[d * k];
        rng.FillNormal(g, 1.0 / Math.Sqrt(k));
        double total = System.Numerics.Tensors.TensorPrimitives.Dot<double>(g, g);
        // Rows of Y (d×k row-major), bottom up: y_i = (g_i − Σ_{j>i} R_ij y_j) / R_ii.
        var y = g;
        int rowStart = Packed.Length(d);
        for (int i = d - 1; i >= 0; i--)
        {
            rowStart -= d - i;
            var yi = y.AsSpan(i * k, k);
            for (int j = i + 1; j < d; j++)
            {
                double rij = r[rowStart + (j - i)];
                if (rij != 0) System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(y.AsSpan(j * k, k), -rij, yi, yi);
            }
            double pivot = r[rowStart];
            if (Math.Abs(pivot) < floor) pivot = floor;               // a direction no sketched row reaches
            System.Numerics.Tensors.TensorPrimitives.Divide(yi, pivot, yi);
        }
        var yT = new double[k * d];
        for (int i = 0; i < d; i++)
            for (int c = 0; c < k; c++) yT[c * d + i] = y[i * k + c];
        return (yT, total);
    }

    /// <summary>A zero column of the sketch (a direction no sketched row reaches) leaves R singular: lift such pivots.</summary>
    private static void LiftSmallPivots(double[] r, int d)
    {
        double max = 0;
        for (int i = 0; i < d; i++) max = Math.Max(max, Math.Abs(r[i * d + i]));
        double floor = Math.Max(max * 1e-10, NumericLimits.Tiny);
        for (int i = 0; i < d; i++)
            if (Math.Abs(r[i * d + i]) < floor) r[i * d + i] = floor;
    }
}
