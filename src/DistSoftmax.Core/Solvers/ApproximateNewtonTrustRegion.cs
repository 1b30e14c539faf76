using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The approximate Newton method of each problem class with a trust region, in the same form as the line-search
/// <see cref="ApproximateNewton"/> chooses:
///   • vector problems where the sampled Newton step is the cheaper form (<see cref="VectorSolverCostModel.FormFor"/>):
///     the leverage-sampled Hessian as an explicit model, its subproblem solved in the Moré–Sorensen way
///     (<see cref="TrustRegionNewton"/> on <see cref="SampledGramCurvature"/>);
///   • vector problems at large d: Steihaug–Toint CG on exact Hessian-vector products preconditioned by the
///     leverage-sampled Gram, the region in its M-norm (<see cref="TrustRegionNewtonCg"/>), where the explicit sampled
///     model alone converged only linearly (at n = 100000, d = 1000: 84 iterations and 125 s of solve);
///   • matrix problems: the same preconditioned Steihaug–Toint CG with the Kronecker-factored curvature F ⊗ G.
/// </summary>
public sealed class ApproximateNewtonTrustRegion : Solver
{
    private static readonly TrustRegionNewton Sampled = new(SampledGramCurvature.Instance);
    private static readonly TrustRegionNewtonCg KroneckerPreconditioned = new(CgPreconditioning.Kronecker);
    private static readonly TrustRegionNewtonCg SampledGramPreconditioned = new(CgPreconditioning.SampledGram);

    public override string Name => "approx-newton";

    public override string Globalization => "trust-region";

    internal override IEnumerable<ShardRequest> Steps(SolveRun run) =>
        (!run.Objective.SupportsRowSampling ? KroneckerPreconditioned
            : VectorSolverCostModel.FormFor(run.Objective.Rows, run.Objective.Dimension, run.Objective.StoredEntries, run.Options)
                == ApproximateNewtonForm.PreconditionedCg ? SampledGramPreconditioned
            : (Solver)Sampled).Steps(run);
}
