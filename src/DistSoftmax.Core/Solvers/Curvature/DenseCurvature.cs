using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>A curvature source that forms the model Hessian as an explicit d×d matrix.</summary>
public abstract class DenseCurvature : CurvatureSource
{
    /// <summary>The model Hessian at the iterate, through whatever shard requests it needs.</summary>
    public abstract IEnumerable<ShardRequest> Build(SolveRun run, Iterate current, Out<DenseModel> model);

    /// <summary>H = Gram + Σ_jk C_jk l_j l_kᵀ as a full symmetric d×d matrix (l_j = Aᵀq_j, the rows of lowRank).</summary>
    public static double[] Assemble(double[] packedGram, int d, double[] lowRank, double[] coefficients) =>
        Assemble(packedGram, d, lowRank, coefficients, GC.AllocateUninitializedArray<double>(d * d));

    /// <summary>The same, written over <paramref name="h"/> (d×d) and returned.</summary>
    private static double[] Assemble(double[] packedGram, int d, double[] lowRank, double[] coefficients, double[] h)
    {
        Kernels.Packed.ToSymmetric(packedGram, d, h);
        AddLowRank(h, d, lowRank, coefficients);
        return h;
    }

    /// <summary>h += Σ_ab C_ab l_a l_bᵀ row by row (row i += C_ab l_a,i · l_b); zero coefficients and zero l_a,i are skipped.</summary>
    private static void AddLowRank(double[] h, int d, double[] lowRank, double[] coefficients)
    {
        int k = lowRank.Length / Math.Max(d, 1);
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
            {
                double c = coefficients[a * k + b];
                if (c == 0) continue;
                var la = lowRank.AsSpan(a * d, d);
                var lb = lowRank.AsSpan(b * d, d);
                for (int i = 0; i < d; i++)
                {
                    double s = c * la[i];
                    if (s == 0) continue;
                    var row = h.AsSpan(i * d, d);
                    SpanMath.MultiplyAdd(lb, s, row, row);
                }
            }
    }

    /// <summary>The model from a merged Gram reply and the iterate's exact low-rank part.</summary>
    protected static DenseModel FromGram(SolveRun run, Iterate current, GramReply gram)
    {
        int d = run.Objective.Dimension;
        var coefficients = run.Objective.LowRankCoefficients(current.Point.Globals, current.Kind);
        // The model lives for one iteration: each one is assembled in the run's kept d×d array.
        return new DenseModel(Assemble(gram.PackedUpper, d, current.LowRank, coefficients, run.ModelHessianBuffer(d)), gram.RowsUsed);
    }
}
