namespace DistSoftmax.Core.Solvers.TrustRegion;

/// <summary>
/// A quadratic model m(p) = ∇Lᵀp + ½pᵀHp at one iterate, built once (its shard requests already answered) and
/// then solved for any radius up to the one it was built for, without further requests: a rejected step is re-solved
/// with a smaller radius from the same model.
/// </summary>
public interface ITrustRegionModel
{
    /// <summary>The (approximate) minimiser of m in the ball ‖p‖ ≤ radius.</summary>
    TrustRegionStep Solve(double radius);

    /// <summary>
    /// The radius the model was built for, in its region's norm: +∞ for a model that takes any radius (the solver's
    /// stands), the radius asked for, or, where the model measures the region in another norm, the solver's first
    /// radius translated into it (the preconditioned Steihaug path); the solver's trials start from it.
    /// </summary>
    double Radius { get; }

    /// <summary>Rows sampled to build H (0 when none).</summary>
    long RowsSampled { get; }

    /// <summary>Hessian-vector products spent building the model (CG iterations; 0 for an explicit H).</summary>
    int CgIterations => 0;
}
