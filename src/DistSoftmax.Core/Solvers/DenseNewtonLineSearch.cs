using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Line-search Newton on an explicit model Hessian: p solves H p = −∇L, with an indefinite H replaced by |H|
/// (eigenvalues' absolute values, saddle-free Newton); then backtracking from t = 1 inside the trust radius.
/// </summary>
public class DenseNewtonLineSearch : LineSearchSolver
{
    private readonly DenseCurvature _curvature;

    public DenseNewtonLineSearch(DenseCurvature curvature) => _curvature = curvature;

    public override string Name => _curvature.SolverName;

    protected override CurvatureSource Curvature => _curvature;

    protected override IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction)
    {
        var model = new Out<DenseModel>();
        foreach (var r in _curvature.Build(run, current, model)) yield return r;
        int d = run.Objective.Dimension;
        var (p, negativeCurvature) = DenseAlgebra.SolveModified(model.Value.Hessian, d, Negated(current.Gradient));
        direction.Value = new Direction(p, 1.0, model.Value.RowsSampled, negativeCurvature);
    }
}
