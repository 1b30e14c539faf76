using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Solvers.TrustRegion;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Trust-region Newton on an explicit model Hessian — exact (<see cref="ExactGramCurvature"/>, solver "newton") or
/// leverage-sampled (<see cref="SampledGramCurvature"/>, "approx-newton") — with the subproblem solved nearly
/// exactly by <see cref="MoreSorensenModel"/>, so an indefinite model needs no modification.
/// </summary>
public sealed class TrustRegionNewton : TrustRegionSolver
{
    private readonly DenseCurvature _curvature;

    public TrustRegionNewton(DenseCurvature curvature) => _curvature = curvature;

    public override string Name => _curvature.SolverName;

    protected override CurvatureSource Curvature => _curvature;

    protected override IEnumerable<ShardRequest> BuildModel(SolveRun run, Iterate current, double radius, Out<ITrustRegionModel> model)
    {
        var dense = new Out<DenseModel>();
        foreach (var r in _curvature.Build(run, current, dense)) yield return r;
        model.Value = new MoreSorensenModel(dense.Value.Hessian, current.Gradient, dense.Value.RowsSampled);
    }
}
