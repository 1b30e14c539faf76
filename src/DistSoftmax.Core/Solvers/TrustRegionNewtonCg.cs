using DistSoftmax.Core;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Solvers.TrustRegion;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Trust-region Newton-CG (Steihaug–Toint): the subproblem is solved by CG on Hessian-vector products
/// (<see cref="HessianVectorCurvature"/>), stopped at ‖r‖ ≤ η‖∇L‖ (with a preconditioner in its M⁻¹-norm,
/// <see cref="NewtonCg.ResidualScale"/>) with η of <see cref="ForcingTerm.For"/>
/// (min(η_max, √(‖∇L‖/‖∇L(x0)‖)), the ratio itself with the Kronecker factors, never tighter than the stopping test needs), at a direction of non-positive curvature
/// (followed to the boundary), or on leaving the region (<see cref="SteihaugPath"/>).
/// With a preconditioner M (<see cref="Preconditioning"/>: the approximate Newton methods, as for <see cref="NewtonCg"/>)
/// CG is preconditioned by M⁻¹ and the region is measured in the M-norm, ‖p‖_M = √(pᵀMp) ≤ Δ — Steihaug's method in the
/// variables Lᵀp, M = LLᵀ (Conn, Gould &amp; Toint, Algorithm 7.5.1), in which the CG iterates grow in the M-norm.
/// M itself is never applied: the M-norm products of CG's iterates follow from its orthogonality
/// (<see cref="PreconditionedRegionNorms"/>).
/// The first radius (<see cref="SolverOptions.TrustRadius"/>, in the units of x) becomes the M-norm of a step of that
/// Euclidean length along the first preconditioned direction M⁻¹∇L; from then on the radius is an M-norm.
/// </summary>
public sealed class TrustRegionNewtonCg : TrustRegionSolver
{
    /// <param name="preconditioning">What preconditions CG (none for the newton-cg solver).</param>
    public TrustRegionNewtonCg(CgPreconditioning preconditioning = CgPreconditioning.None) => Preconditioning = preconditioning;

    /// <summary>What preconditions CG.</summary>
    public CgPreconditioning Preconditioning { get; }

    public override string Name => Preconditioning == CgPreconditioning.None ? "newton-cg" : "approx-newton";

    protected override CurvatureSource Curvature => HessianVectorCurvature.Instance;

    protected override IEnumerable<ShardRequest> BuildModel(SolveRun run, Iterate current, double radius, Out<ITrustRegionModel> model)
    {
        int d = run.Objective.Dimension;
        var (maxCg, eta) = NewtonCg.CgBudget(run, current, Preconditioning);

        var prepared = new Out<(Func<double[], double[]>? Apply, long RowsSampled)>();
        foreach (var request in CgPreconditioners.Prepare(run, current, Preconditioning, prepared)) yield return request;
        var (preconditioner, rowsSampled) = prepared.Value;
        bool euclidean = preconditioner is null;
        double[] Precondition(double[] v) => preconditioner?.Invoke(v) ?? (double[])v.Clone();

        var z = new double[d];                       // CG iterate
        var r = (double[])current.Gradient.Clone();  // model gradient g + Hz
        var y = Precondition(r);                     // M⁻¹r
        var dir = Negated(y);
        double ry = SpanMath.Dot(r, y);
        double tolerance = eta * NewtonCg.ResidualScale(current.GradientNorm, ry, !euclidean);
        var mNorms = euclidean ? null : new PreconditionedRegionNorms(ry);
        if (!euclidean && current.Iteration == 0)
        {
            // The first radius is in the units of x: the M-norm of a step of that length along M⁻¹∇L.
            double yNorm = SpanMath.Norm(y);
            if (yNorm > 0 && ry > 0) radius *= Math.Sqrt(ry) / yNorm;
        }
        var path = new SteihaugPath(radius, rowsSampled);
        model.Value = path;
        double m = 0;                                // m(z)
        var product = new Out<double[]>();
        // As in NewtonCg: each positive-curvature direction's (d, Hd, dᵀHd) corrects later solves' Kronecker
        // preconditioner (CurvaturePairs); added only once this CG has ended (whichever way it ends), as M must not
        // change while it runs.
        var pairs = CgPreconditioners.PairsToCollect(Preconditioning);
        try
        {
            for (int it = 0; it < maxCg; it++)
            {
                foreach (var request in HessianVectorCurvature.Instance.Multiply(run, current, dir, product)) yield return request;
                var hd = product.Value;
                double curvature = SpanMath.Dot(dir, hd);
                double slope = SpanMath.Dot(r, dir);
                var norms = mNorms?.Current ?? SteihaugPath.RegionProducts.Euclidean(z, dir);
                if (!(curvature > 0))
                {
                    path.Add(z, dir, double.PositiveInfinity, m, slope, curvature, norms);
                    yield break;
                }
                double alpha = ry / curvature;
                pairs?.Add(((double[])dir.Clone(), hd, curvature));
                path.Add(z, dir, alpha, m, slope, curvature, norms);
                m += alpha * slope + 0.5 * alpha * alpha * curvature;
                SpanMath.MultiplyAdd(dir, alpha, z, z);
                double zNorm = norms.NormAt(alpha);      // as Solve measures it, so a path that stops here is walked to here
                if (zNorm >= radius) yield break;
                SpanMath.MultiplyAdd(hd, alpha, r, r);
                if (euclidean && SpanMath.Norm(r) <= tolerance)
                {
                    path.EndInside(z, m, zNorm);
                    yield break;
                }
                y = Precondition(r);
                double ryNew = SpanMath.Dot(r, y);
                if (!euclidean && Math.Sqrt(Math.Max(ryNew, 0)) <= tolerance)
                {
                    path.EndInside(z, m, zNorm);
                    yield break;
                }
                double beta = ryNew / ry;
                mNorms?.Advance(alpha, beta, ryNew);
                // d ← −y + β d
                SpanMath.Multiply(dir, beta, dir);
                SpanMath.Subtract(dir, y, dir);
                ry = ryNew;
            }
        }
        finally
        {
            if (pairs is not null) CgPreconditioners.RememberPairs(run, current.Kind, pairs);
        }
    }
}
