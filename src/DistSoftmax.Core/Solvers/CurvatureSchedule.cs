using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Which z-Hessian (exact or Gauss–Newton) a Newton-type solver models with at each iteration, for
/// <see cref="HessianMode.Auto"/>: start with the positive-semidefinite Gauss–Newton part JᵀJ, and move to the exact
/// Hessian
///   • once a Gauss–Newton step is taken whole (t = 1 uncapped, or an interior trust-region step accepted at the
///     first trial with ratio ρ ≥ ¼): near a minimiser the exact Hessian converges quadratically even when the
///     residual is not zero;
///   • once Gauss–Newton steps keep being cut back (<see cref="CutBacksBeforeExact"/> of them): on a large-residual
///     problem the ignored term Σ_i c_i ∇²c_i is large, the Gauss–Newton model is wrong, and its steps never lengthen.
///     A line search counts backtracked iterations in a row; a trust region counts rejected or poorly predicted
///     (ρ &lt; ¼) iterations over the whole Gauss–Newton phase, since there a cut-back step is typically followed by a
///     short boundary step that succeeds and says nothing of the model's full step.
/// A line search goes back to Gauss–Newton when the exact model turns indefinite (measured: on the sparse
/// 200000×100 instance staying exact took 135 iterations against 50); a trust region never goes back (its subproblem
/// handles an indefinite model exactly). One instance per solve.
/// </summary>
internal sealed class CurvatureSchedule
{
    /// <summary>Cut-back Gauss–Newton iterations after which the exact Hessian takes over.</summary>
    public const int CutBacksBeforeExact = 2;

    private readonly HessianMode _mode;
    private int _cutBacks;

    public CurvatureSchedule(HessianMode mode)
    {
        _mode = mode;
        Kind = mode == HessianMode.Exact ? HessianKind.Exact : HessianKind.GaussNewton;
    }

    /// <summary>A schedule in the state a checkpoint recorded: the current kind and the cut-backs so far.</summary>
    public CurvatureSchedule(HessianMode mode, HessianKind kind, int cutBacks)
    {
        _mode = mode;
        Kind = kind;
        _cutBacks = cutBacks;
    }

    /// <summary>Gauss–Newton cut-backs counted so far (a checkpoint's state).</summary>
    public int CutBacks => _cutBacks;

    /// <summary>The curvature of the current iteration.</summary>
    public HessianKind Kind { get; private set; }

    /// <summary>After a line-search iteration: accepted step t of first trial t0, whether t0 was capped by the radius.</summary>
    public void AfterLineSearch(double step, double initialStep, bool capped, double negativeCurvature)
    {
        if (_mode != HessianMode.Auto) return;
        if (Kind == HessianKind.GaussNewton)
        {
            if (step == 1.0 && !capped && negativeCurvature == 0) Kind = HessianKind.Exact;
            else if (step < initialStep) GaussNewtonCutBack();
            else _cutBacks = 0;
        }
        else if (negativeCurvature < 0)
        {
            Kind = HessianKind.GaussNewton;
            _cutBacks = 0;
        }
    }

    /// <summary>After a trust-region iteration: whether the accepted step ended inside the region, and whether the model
    /// predicted poorly (a rejected trial, or ρ &lt; ¼).</summary>
    public void AfterTrustRegion(bool interior, bool predictedPoorly)
    {
        if (_mode != HessianMode.Auto || Kind != HessianKind.GaussNewton) return;
        if (interior && !predictedPoorly) Kind = HessianKind.Exact;
        else if (predictedPoorly) GaussNewtonCutBack();
    }

    private void GaussNewtonCutBack()
    {
        if (++_cutBacks >= CutBacksBeforeExact) Kind = HessianKind.Exact;
    }
}
