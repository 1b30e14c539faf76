using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The approximate Newton method of each problem class, with a line search or a trust region:
///   • vector problems, in the form with the least predicted cost per iteration (<see cref="VectorSolverCostModel.FormFor"/>):
///     Newton steps on a leverage-score-sampled Hessian (<see cref="SampledGramCurvature"/>, seed 001;
///     <see cref="DenseNewtonLineSearch"/>, or <see cref="TrustRegionNewton"/> with its subproblem solved in the
///     Moré–Sorensen way) where its sample s = c·ε⁻²·d·ln(d/δ) is small against n (or on the exact Gram where sampling
///     costs more than it saves), else Newton-CG preconditioned by a smaller leverage-sampled Gram
///     (<see cref="SampledGramPreconditioner"/>), the sampled Newton step with a CG correction (<see cref="NewtonCg"/>, or
///     <see cref="TrustRegionNewtonCg"/>: Steihaug–Toint in the preconditioner's norm);
///   • matrix problems (multiple softmax regression), whose rows each carry their own normaliser and cannot be row
///     sampled: the same preconditioned CG with the Kronecker-factored curvature F ⊗ G
///     (<see cref="KroneckerPreconditioner"/>), i.e. the Kronecker-factored Newton step with a CG correction.
/// The form is chosen per solve from the objective (<see cref="IObjective.SupportsRowSampling"/>). With the trust region
/// the large-d form used to be the explicit sampled model alone, which converged only linearly: at n = 100000,
/// d = 1000, 84 iterations and 125 s of solve, against 24 iterations and 9.5 s preconditioned (README, "Globalisation").
/// </summary>
public sealed class ApproximateNewton : Solver
{
    private readonly Solver _kroneckerPreconditioned, _sampledGramPreconditioned, _sampled;

    /// <param name="globalization">The line search or the trust region (<see cref="GlobalizationMode.Auto"/>: the line search).</param>
    public ApproximateNewton(GlobalizationMode globalization = GlobalizationMode.LineSearch)
    {
        bool trustRegion = globalization == GlobalizationMode.TrustRegion;
        Globalization = trustRegion ? TrustRegionSolver.TrustRegionGlobalization : LineSearchSolver.LineSearchGlobalization;
        if (trustRegion)
        {
            _kroneckerPreconditioned = new TrustRegionNewtonCg(CgPreconditioning.Kronecker);
            _sampledGramPreconditioned = new TrustRegionNewtonCg(CgPreconditioning.SampledGram);
            _sampled = new TrustRegionNewton(SampledGramCurvature.Instance);
        }
        else
        {
            _kroneckerPreconditioned = new NewtonCg(CgPreconditioning.Kronecker);
            _sampledGramPreconditioned = new NewtonCg(CgPreconditioning.SampledGram);
            _sampled = new DenseNewtonLineSearch(SampledGramCurvature.Instance);
        }
    }

    public override string Name => "approx-newton";

    public override string Globalization { get; }

    internal override IEnumerable<ShardRequest> Steps(SolveRun run) =>
        (!run.Objective.SupportsRowSampling ? _kroneckerPreconditioned
            : VectorSolverCostModel.FormFor(run.Objective.Rows, run.Objective.Dimension, run.Objective.StoredEntries, run.Options)
                == ApproximateNewtonForm.PreconditionedCg ? _sampledGramPreconditioned
            : _sampled).Steps(run);
}
