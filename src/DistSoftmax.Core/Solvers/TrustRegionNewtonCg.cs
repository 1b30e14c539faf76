using DistSoftmax.Core;
using System.Numerics.Tensors;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Solvers.TrustRegion;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Trust-region Newton-CG (Steihaug–Toint): the subproblem is solved by CG on Hessian-vector products
/// (<see cref="HessianVectorCurvature"/>), stopped at ‖r‖ ≤ η‖∇L‖ with η of <see cref="ForcingTerm.For"/>
/// (min(½, √(‖∇L‖/‖∇L(x0)‖)), never tighter than the stopping test needs), at a direction of non-positive curvature
/// (followed to the boundary), or on leaving the region (<see cref="SteihaugPath"/>).
/// </summary>
public sealed class TrustRegionNewtonCg : TrustRegionSolver
{
    public override string Name => "newton-cg";

    protected override CurvatureSource Curvature => HessianVectorCurvature.Instance;

    protected override IEnumerable<ShardRequest> BuildModel(SolveRun run, Iterate current, double radius, Out<ITrustRegionModel> model)
    {
        int d = run.Objective.Dimension;
        var opts = run.Options;
        int maxCg = opts.MaxCgIterations > 0 ? opts.MaxCgIterations : Math.Max(d, NewtonCg.MinDefaultCgIterations);
        double g0 = run.Trace[0].GradientNorm;
        double eta = ForcingTerm.For(current.GradientNorm, g0, opts.StoppingTarget(g0), NewtonCg.MaxForcingTerm);
        double tolerance = eta * current.GradientNorm;

        var path = new SteihaugPath(radius);
        model.Value = path;
        var z = new double[d];                       // CG iterate
        var r = (double[])current.Gradient.Clone();  // model gradient g + Hz
        var dir = Negated(r);
        double rr = TensorPrimitives.Dot<double>(r, r);
        double m = 0;                                // m(z)
        var product = new Out<double[]>();
        for (int it = 0; it < maxCg; it++)
        {
            foreach (var request in HessianVectorCurvature.Instance.Multiply(run, current, dir, product)) yield return request;
            var hd = product.Value;
            double curvature = TensorPrimitives.Dot<double>(dir, hd);
            double slope = TensorPrimitives.Dot<double>(r, dir);
            if (!(curvature > 0))
            {
                path.Add(z, dir, double.PositiveInfinity, m, slope, curvature);
                yield break;
            }
            double alpha = rr / curvature;
            path.Add(z, dir, alpha, m, slope, curvature);
            m += alpha * slope + 0.5 * alpha * alpha * curvature;
            TensorPrimitives.MultiplyAdd(dir, alpha, z, z);
            if (TensorPrimitives.Norm<double>(z) >= radius) yield break;
            TensorPrimitives.MultiplyAdd(hd, alpha, r, r);
            double rrNew = TensorPrimitives.Dot<double>(r, r);
            if (Math.Sqrt(rrNew) <= tolerance)
            {
                path.EndInside(z, m);
                yield break;
            }
            // d ← −r + β d
            TensorPrimitives.Multiply(dir, rrNew / rr, dir);
            TensorPrimitives.Subtract(dir, r, dir);
            rr = rrNew;
        }
    }
}
