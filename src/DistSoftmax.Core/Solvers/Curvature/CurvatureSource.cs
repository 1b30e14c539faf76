using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// How a Newton-type solver learns the curvature H = Aᵀ diag(D + w²) A + Σ_jk C_jk (Aᵀq_j)(Aᵀq_k)ᵀ at an iterate:
/// an explicit d×d matrix (<see cref="DenseCurvature"/>: exact Gram, or leverage-sampled Gram) or Hessian-vector
/// products (<see cref="HessianVectorCurvature"/>). The same source serves both globalisations (line search and
/// trust region); what it needs folded into the gradient pass and the trial passes (the CountSketch of the
/// sampled Hessian) it adds through the hooks below. Sources hold no per-solve state (see <see cref="StateOf{T}"/>).
/// </summary>
public abstract class CurvatureSource
{
    /// <summary>The solver name this curvature gives ("newton", "approx-newton", "newton-cg").</summary>
    public abstract string SolverName { get; }

    /// <summary>The gradient request at an iterate whose gradient did not come with the accepted trial.</summary>
    public virtual GradientRequest GradientRequest(SolveRun run, PointEvaluation point, int iteration, HessianKind kind) =>
        new(point.X, point.Globals, kind, WithLowRank: true);

    /// <summary>A trial request with what the next iterate's curvature needs added (default: nothing).</summary>
    public virtual ScalarsRequest TrialRequest(SolveRun run, ScalarsRequest trial, int iteration, HessianKind kind) => trial;

    /// <summary>Whether a gradient reply assembled from an accepted trial has everything the next model needs.</summary>
    public virtual bool IsComplete(SolveRun run, GradientReply fused) => true;

    /// <summary>Called with each iterate's gradient reply before the model is built.</summary>
    public virtual void OnGradient(SolveRun run, GradientReply reply) { }

    /// <summary>
    /// The gradient reply as a checkpoint records it, with whatever the next model needs that this source keeps from
    /// earlier iterations in place of the reply's sketch (default: the reply itself); <see cref="OnGradient"/> gets it
    /// back on resume.
    /// </summary>
    public virtual GradientReply ForCheckpoint(SolveRun run, GradientReply reply) => reply;

    /// <summary>This solve's curvature state of type T, created on first use.</summary>
    protected static T StateOf<T>(SolveRun run) where T : class, new() => (T)(run.CurvatureState ??= new T());
}
