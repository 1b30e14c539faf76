using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The approximate Newton method of each problem class, with a line search:
///   • vector problems: Newton steps on a leverage-score-sampled Hessian (<see cref="SampledGramCurvature"/>,
///     seed 001) — <see cref="DenseNewtonLineSearch"/>;
///   • matrix problems (multiple softmax regression), whose rows each carry their own normaliser and cannot be row
///     sampled: Newton-CG preconditioned by the Kronecker-factored curvature F ⊗ G
///     (<see cref="KroneckerPreconditioner"/>), i.e. the Kronecker-factored Newton step with a CG correction.
/// The class is chosen per solve from the objective (<see cref="IObjective.SupportsRowSampling"/>).
/// </summary>
public sealed class ApproximateNewton : Solver
{
    private static readonly DenseNewtonLineSearch Sampled = new(SampledGramCurvature.Instance);
    private static readonly NewtonCg KroneckerPreconditioned = new(kroneckerPreconditioned: true);

    public override string Name => "approx-newton";

    public override string Globalization => "line-search";

    internal override IEnumerable<ShardRequest> Steps(SolveRun run) =>
        (run.Objective.SupportsRowSampling ? (Solver)Sampled : KroneckerPreconditioned).Steps(run);
}
