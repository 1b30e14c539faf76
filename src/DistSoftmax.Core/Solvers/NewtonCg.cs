using System.Numerics.Tensors;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Newton-CG (Hessian-free) with a line search: the Newton system H p = −∇L solved by conjugate gradients on
/// Hessian-vector products (<see cref="HessianVectorCurvature"/>: one fan-out per CG iteration, no d×d block ever
/// formed), stopped at ‖r‖ ≤ η‖∇L‖ with η = min(½, √(‖∇L‖/‖∇L(x0)‖)), or at negative curvature: then the last CG
/// iterate, or, on the first CG iteration, −∇L scaled by ‖∇L‖²/|∇Lᵀ H ∇L| (the Newton length of the 1-D model with
/// the curvature's magnitude).
/// </summary>
public sealed class NewtonCg : LineSearchSolver
{
    /// <summary>Largest forcing term η of the inexact Newton solve.</summary>
    public const double MaxForcingTerm = 0.5;
    /// <summary>A direction whose curvature dᵀHd is at most this fraction of ‖d‖²‖∇L‖ counts as negative curvature.</summary>
    public const double CurvatureFloor = 1e-14;
    /// <summary>CG iterations when <see cref="SolverOptions.MaxCgIterations"/> is 0: max(d, this).</summary>
    public const int MinDefaultCgIterations = 10;

    public override string Name => "newton-cg";

    protected override CurvatureSource Curvature => HessianVectorCurvature.Instance;

    protected override IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction)
    {
        var opts = run.Options;
        int d = run.Objective.Dimension;
        int maxCg = opts.MaxCgIterations > 0 ? opts.MaxCgIterations : Math.Max(d, MinDefaultCgIterations);
        double g0 = run.Trace[0].GradientNorm;
        double eta = Math.Min(MaxForcingTerm, Math.Sqrt(current.GradientNorm / Math.Max(g0, TinyNorm)));
        double tol = eta * current.GradientNorm;

        var p = new double[d];
        var r = Negated(current.Gradient);
        var dir = (double[])r.Clone();
        double rr = TensorPrimitives.Dot<double>(r, r);
        var product = new Out<double[]>();
        for (int it = 0; it < maxCg; it++)
        {
            foreach (var request in HessianVectorCurvature.Instance.Multiply(run, current, dir, product)) yield return request;
            var hd = product.Value;
            double curvature = TensorPrimitives.Dot<double>(dir, hd);
            if (!(curvature > CurvatureFloor * TensorPrimitives.Dot<double>(dir, dir) * Math.Max(current.GradientNorm, TinyNorm)))
            {
                if (it == 0)
                {
                    p = Negated(current.Gradient);
                    double scale = rr / Math.Max(Math.Abs(curvature), TinyNorm);
                    TensorPrimitives.Multiply(p, scale, p);
                    direction.Value = new Direction(p, 1.0, 0, Math.Min(curvature / Math.Max(rr, TinyNorm), 0.0));
                    yield break;
                }
                break;
            }
            double alpha = rr / curvature;
            TensorPrimitives.MultiplyAdd(dir, alpha, p, p);
            TensorPrimitives.MultiplyAdd(hd, -alpha, r, r);
            double rrNew = TensorPrimitives.Dot<double>(r, r);
            if (Math.Sqrt(rrNew) <= tol) break;
            TensorPrimitives.MultiplyAdd(dir, rrNew / rr, r, dir);
            rr = rrNew;
        }
        direction.Value = new Direction(p, 1.0);
    }
}
