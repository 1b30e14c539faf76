using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// Newton-CG's curvature: no d×d block is ever formed; each product H·v is one fan-out of v, whose replies bring
/// Aᵀ((D + w²)∘Av) and the dots ⟨q_j, Av⟩, to which the coordinator adds the low-rank part Σ_jk C_jk l_j ⟨q_k, Av⟩.
/// </summary>
public sealed class HessianVectorCurvature : CurvatureSource
{
    public static readonly HessianVectorCurvature Instance = new();

    public override string SolverName => "newton-cg";

    /// <summary>H·v at the iterate (d values), through one shard request.</summary>
    public IEnumerable<ShardRequest> Multiply(SolveRun run, Iterate current, double[] v, Out<double[]> product)
    {
        int d = run.Objective.Dimension;
        int lr = run.Objective.LowRankCount;
        var coefficients = run.Objective.LowRankCoefficients(current.Point.Globals, current.Kind);
        yield return new HessianVectorRequest(current.Point.X, current.Point.Globals, current.Kind, (double[])v.Clone(),
            run.Options.SingleCgProducts, current.SinglePass);
        var reply = run.Reply<HessianVectorReply>();
        var hv = (double[])reply.Product.Clone();
        for (int a = 0; a < lr; a++)
        {
            double c = 0;
            for (int b = 0; b < lr; b++) c += coefficients[a * lr + b] * reply.LowRankDots[b];
            if (c != 0) SpanMath.MultiplyAdd(current.LowRank.AsSpan(a * d, d), c, hv, hv);
        }
        product.Value = hv;
    }
}
