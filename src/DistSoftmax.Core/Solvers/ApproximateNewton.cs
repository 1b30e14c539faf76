using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The approximate Newton method of each problem class, with a line search:
///   • vector problems, in the form with the least predicted cost per iteration (<see cref="VectorSolverCostModel.FormFor"/>):
///     Newton steps on a leverage-score-sampled Hessian (<see cref="SampledGramCurvature"/>, seed 001;
///     <see cref="DenseNewtonLineSearch"/>) where its sample s = c·ε⁻²·d·ln(d/δ) is small against n (or on the exact Gram
///     where sampling costs more than it saves), else Newton-CG preconditioned by a smaller leverage-sampled Gram
///     (<see cref="SampledGramPreconditioner"/>), the sampled Newton step with a CG correction;
///   • matrix problems (multiple softmax regression), whose rows each carry their own normaliser and cannot be row
///     sampled: Newton-CG preconditioned by the Kronecker-factored curvature F ⊗ G
///     (<see cref="KroneckerPreconditioner"/>), i.e. the Kronecker-factored Newton step with a CG correction.
/// The class is chosen per solve from the objective (<see cref="IObjective.SupportsRowSampling"/>).
/// </summary>
public sealed class ApproximateNewton : Solver
{
    private static readonly DenseNewtonLineSearch Sampled = new(SampledGramCurvature.Instance);
    private static readonly NewtonCg KroneckerPreconditioned = new(CgPreconditioning.Kronecker);
    private static readonly NewtonCg SampledGramPreconditioned = new(CgPreconditioning.SampledGram);

    public override string Name => "approx-newton";

    public override string Globalization => "line-search";

    internal override IEnumerable<ShardRequest> Steps(SolveRun run) =>
        (!run.Objective.SupportsRowSampling ? KroneckerPreconditioned
            : VectorSolverCostModel.FormFor(run.Objective.Rows, run.Objective.Dimension, run.Objective.StoredEntries, run.Options)
                == ApproximateNewtonForm.PreconditionedCg ? SampledGramPreconditioned
            : (Solver)Sampled).Steps(run);
}
