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
        double total = SpanMath.Dot(g, g);
        var y = DenseAlgebra.UpperTriangularSolve(r, d, g, k);
        var yT = new double[k * d];
        for (int i = 0; i < d; i++)
            for (int c = 0; c < k; c++) yT[c * d + i] = y[i * k + c];
        return (yT, total);
    }

    /// <summary>
    /// As <see cref="FromSketch"/>, from R itself: the packed upper triangle (d(d+1)/2, see <see cref="Packed"/>) that
    /// shards return for <see cref="Statistics.SketchForm.Triangle"/> (the TSQR of their per-shard sketches). Y = R⁻¹G
    /// by back substitution, row i of R (contiguous in the packed triangle, in L1 while it is used) against the k
    /// columns of Y in turn: y_ci = (g_ic − R_i,{i+1…}·y_c,{i+1…}) / R_ii, one dot product of length d − i per entry.
    /// (Row by row with k-long updates, 500 000 vector calls of k = 12 at d = 1000, it took 20–30 ms.)
    /// </summary>
    public static (double[] ProjectionT, double TotalEstimate) FromTriangle(ReadOnlySpan<double> packedR, int d, int k, Rng rng)
    {
        if (packedR.Length != Packed.Length(d))
            throw new ArgumentException($"a triangle of {packedR.Length} entries is not the R of {d} columns");
        double max = 0;
        for (int i = 0; i < d; i++) max = Math.Max(max, Math.Abs(packedR[Packed.DiagonalIndex(i, d)]));
        double floor = Math.Max(max * 1e-10, 1e-300);
        var g = new double[d * k];                                     // G, d×k row-major
        rng.FillNormal(g, 1.0 / Math.Sqrt(k));
        double total = SpanMath.Dot(g, g);
        // Yᵀ (k×d row-major): column c of Y at c·d, filled from the bottom row up.
        var yT = new double[k * d];
        for (int i = d - 1; i >= 0; i--)
        {
            int diagonal = Packed.DiagonalIndex(i, d);
            var rowTail = packedR.Slice(diagonal + 1, d - i - 1);
            double pivot = packedR[diagonal];
            if (Math.Abs(pivot) < floor) pivot = floor;               // a direction no sketched row reaches
            for (int c = 0; c < k; c++)
            {
                var column = yT.AsSpan(c * d, d);
                column[i] = (g[i * k + c] - SpanMath.Dot(rowTail, column[(i + 1)..])) / pivot;
            }
        }
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
