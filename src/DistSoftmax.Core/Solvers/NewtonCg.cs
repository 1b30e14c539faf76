using System.Numerics.Tensors;
using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Newton-CG (Hessian-free) with a line search: the Newton system H p = −∇L solved by conjugate gradients on
/// Hessian-vector products (<see cref="HessianVectorCurvature"/>: one fan-out per CG iteration, no d×d block ever
/// formed), stopped at ‖r‖ ≤ η‖∇L‖ with η = min(½, √(‖∇L‖/‖∇L(x0)‖)), or at negative curvature: then the last CG
/// iterate, or, on the first CG iteration, the preconditioned steepest-descent direction z = M⁻¹(−∇L) scaled by
/// rᵀz/|zᵀHz| (the Newton length of the 1-D model with the curvature's magnitude).
/// With <see cref="Preconditioned"/> (multiple softmax regression's approximate Newton), CG is preconditioned by the
/// Kronecker-factored curvature M = F ⊗ G (<see cref="KroneckerPreconditioner"/>, one extra request every
/// <see cref="KroneckerRefreshIterations"/> Newton iterations); its first CG iterate is the scaled Kronecker-factored
/// Newton step, and CG corrects it.
/// </summary>
public sealed class NewtonCg : LineSearchSolver
{
    /// <param name="kroneckerPreconditioned">Precondition CG by the Kronecker-factored curvature (matrix problems).</param>
    public NewtonCg(bool kroneckerPreconditioned = false) => Preconditioned = kroneckerPreconditioned;

    /// <summary>Whether CG is preconditioned by the Kronecker-factored curvature.</summary>
    public bool Preconditioned { get; }

    /// <summary>Largest forcing term η of the inexact Newton solve.</summary>
    public const double MaxForcingTerm = 0.5;
    /// <summary>A direction whose curvature dᵀHd is at most this fraction of ‖d‖²‖∇L‖ counts as negative curvature.</summary>
    public const double CurvatureFloor = 1e-14;
    /// <summary>Iterations a Kronecker-factored preconditioner is reused before its factors are formed again.</summary>
    public const int KroneckerRefreshIterations = 3;

    /// <summary>This solve's current preconditioner and the iteration it was built at.</summary>
    private sealed class KroneckerCache : ISolverStateCheckpoint
    {
        public KroneckerPreconditioner? Preconditioner;
        public int BuiltAt;
        /// <summary>The factors it was built from (a checkpoint rebuilds the same preconditioner from them).</summary>
        public KroneckerFactorsReply? Factors;

        /// <summary>Scalars: [BuiltAt, Σ τ, rows]; arrays: packed F, packed G. Empty before the first build.</summary>
        public CheckpointState Save() => Factors is null
            ? new(SolverStates.Kronecker, [], [])
            : new(SolverStates.Kronecker, [BuiltAt, Factors.WeightSum, Factors.Rows], [Factors.LeftPacked, Factors.RightPacked]);
    }

    /// <summary>The cache of a checkpoint (<see cref="KroneckerCache.Save"/>): the preconditioner rebuilt from its factors.</summary>
    internal static object RestoreCache(CheckpointState state, int dimension)
    {
        var cache = new KroneckerCache();
        if (state.Scalars.Length == 0 && state.Arrays.Count == 0) return cache;
        int packed = Kernels.Packed.Length((int)Math.Round(Math.Sqrt(dimension)));
        if (state.Scalars.Length != 3 || state.Arrays.Count != 2 || state.Arrays[0].Length != packed || state.Arrays[1].Length != packed
            || state.Scalars[0] < 0 || state.Scalars[0] > int.MaxValue || state.Scalars[0] != Math.Floor(state.Scalars[0]))
            throw new CheckpointFormatException($"the checkpoint's Kronecker factors do not match its {dimension} unknowns");
        cache.Factors = new KroneckerFactorsReply(state.Arrays[0], state.Arrays[1], state.Scalars[1], (long)state.Scalars[2]);
        cache.BuiltAt = (int)state.Scalars[0];
        cache.Preconditioner = KroneckerPreconditioner.FromReply(cache.Factors);
        return cache;
    }

    /// <summary>CG iterations when <see cref="SolverOptions.MaxCgIterations"/> is 0: max(d, this).</summary>
    public const int MinDefaultCgIterations = 10;

    public override string Name => Preconditioned ? "approx-newton" : "newton-cg";

    protected override CurvatureSource Curvature => HessianVectorCurvature.Instance;

    protected override IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction)
    {
        var opts = run.Options;
        int d = run.Objective.Dimension;
        int maxCg = opts.MaxCgIterations > 0 ? opts.MaxCgIterations : Math.Max(d, MinDefaultCgIterations);
        double g0 = run.Trace[0].GradientNorm;
        double eta = Math.Min(MaxForcingTerm, Math.Sqrt(current.GradientNorm / Math.Max(g0, TinyNorm)));
        double tol = eta * current.GradientNorm;

        KroneckerPreconditioner? preconditioner = null;
        if (Preconditioned)
        {
            // The factors change slowly with x: rebuilt every KroneckerRefreshIterations iterations (K-FAC's practice).
            var cache = StateOf<KroneckerCache>(run);
            if (cache.Preconditioner is null || current.Iteration - cache.BuiltAt >= KroneckerRefreshIterations)
            {
                var built = new Out<(KroneckerPreconditioner, KroneckerFactorsReply)>();
                foreach (var request in KroneckerPreconditioner.Build(run, current, built)) yield return request;
                (cache.Preconditioner, cache.Factors) = built.Value;
                cache.BuiltAt = current.Iteration;
            }
            preconditioner = cache.Preconditioner;
        }
        double[] Precondition(double[] v) => preconditioner?.Apply(v) ?? (double[])v.Clone();

        var p = new double[d];
        var r = Negated(current.Gradient);
        var z = Precondition(r);
        var dir = (double[])z.Clone();
        double rz = TensorPrimitives.Dot<double>(r, z);
        var product = new Out<double[]>();
        int cgIterations = 0;
        for (int it = 0; it < maxCg; it++)
        {
            foreach (var request in HessianVectorCurvature.Instance.Multiply(run, current, dir, product)) yield return request;
            cgIterations++;
            var hd = product.Value;
            double curvature = TensorPrimitives.Dot<double>(dir, hd);
            if (!(curvature > CurvatureFloor * TensorPrimitives.Dot<double>(dir, dir) * Math.Max(current.GradientNorm, TinyNorm)))
            {
                if (it == 0)
                {
                    p = (double[])dir.Clone();
                    double scale = rz / Math.Max(Math.Abs(curvature), TinyNorm);
                    TensorPrimitives.Multiply(p, scale, p);
                    double dd = TensorPrimitives.Dot<double>(dir, dir);
                    direction.Value = new Direction(p, 1.0, 0, Math.Min(curvature / Math.Max(dd, TinyNorm), 0.0), cgIterations);
                    yield break;
                }
                break;
            }
            double alpha = rz / curvature;
            TensorPrimitives.MultiplyAdd(dir, alpha, p, p);
            TensorPrimitives.MultiplyAdd(hd, -alpha, r, r);
            if (Math.Sqrt(TensorPrimitives.Dot<double>(r, r)) <= tol) break;
            z = Precondition(r);
            double rzNew = TensorPrimitives.Dot<double>(r, z);
            TensorPrimitives.MultiplyAdd(dir, rzNew / rz, z, dir);
            rz = rzNew;
        }
        direction.Value = new Direction(p, 1.0, CgIterations: cgIterations);
    }
}
