using System.Numerics.Tensors;
using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Newton-CG (Hessian-free) with a line search: the Newton system H p = −∇L solved by conjugate gradients on
/// Hessian-vector products (<see cref="HessianVectorCurvature"/>: one fan-out per CG iteration, no d×d block ever
/// formed), stopped at ‖r‖ ≤ η‖∇L‖ with η of <see cref="ForcingTerm.For"/> (min(η_max, √(‖∇L‖/‖∇L(x0)‖)), never tighter
/// than the stopping test needs), η_max = <see cref="MaxForcingTerm"/> (or <see cref="PreconditionedForcingTerm"/> with
/// the sampled-Gram preconditioner), or at negative curvature: then the last CG iterate, or, on the first CG
/// iteration, the preconditioned steepest-descent direction z = M⁻¹(−∇L) scaled by rᵀz/|zᵀHz| (the Newton length of
/// the 1-D model with the curvature's magnitude).
/// The approximate Newton methods are this solver with a preconditioner M (<see cref="Preconditioning"/>); the first CG
/// iterate is then the scaled model Newton step M⁻¹(−∇L), and CG corrects it:
///   • matrix problems: the Kronecker-factored curvature M = F ⊗ G (<see cref="KroneckerPreconditioner"/>, one extra
///     request every <see cref="KroneckerRefreshIterations"/> Newton iterations);
///   • vector problems: the leverage-score-sampled Gram, Cholesky-factorised (<see cref="SampledGramPreconditioner"/>,
///     two extra requests every <see cref="SampledGramPreconditioner.RefreshIterations"/> Newton iterations).
/// </summary>
public sealed class NewtonCg : LineSearchSolver
{
    /// <param name="preconditioning">What preconditions CG (none for the newton-cg solver).</param>
    public NewtonCg(CgPreconditioning preconditioning = CgPreconditioning.None) => Preconditioning = preconditioning;

    /// <summary>What preconditions CG.</summary>
    public CgPreconditioning Preconditioning { get; }

    /// <summary>Largest forcing term η of the inexact Newton solve.</summary>
    public const double MaxForcingTerm = ForcingTerm.Cap;
    /// <summary>
    /// Largest forcing term with the sampled-Gram preconditioner, whose CG products are cheap next to the iteration:
    /// at n = 100000, d = 1000 η ≤ 0.01 took 12 iterations and 100–113 products, η ≤ 0.1 20–22 iterations, η ≤ 0.001 14
    /// iterations and 191–218 products (README, "Approximate Newton at large d").
    /// </summary>
    public const double PreconditionedForcingTerm = 0.01;
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

    /// <summary>This solve's sampled-Gram preconditioner (null when its model would not factorise) and the iteration it was built at.</summary>
    private sealed class SampledGramCache : ISolverStateCheckpoint
    {
        public SampledGramPreconditioner? Preconditioner;
        public bool Built;
        public int BuiltAt;

        /// <summary>
        /// Scalars: [BuiltAt, rows sampled, 1 if factorised]; arrays: the packed sampled Gram, the low-rank vectors (k×d)
        /// and their coefficients (k×k). Empty before the first build.
        /// </summary>
        public CheckpointState Save() => !Built
            ? new(SolverStates.SampledGram, [], [])
            : new(SolverStates.SampledGram, [BuiltAt, Preconditioner?.RowsSampled ?? 0, Preconditioner is null ? 0 : 1],
                Preconditioner is null ? [] : [Preconditioner.GramPacked, Preconditioner.LowRank, Preconditioner.Coefficients]);
    }

    /// <summary>
    /// The sampled-Gram cache of a checkpoint (<see cref="SampledGramCache.Save"/>), factorised again from its Gram and
    /// low-rank terms. A checkpoint of the ninth session's predecessors held the assembled model and the Gram (two
    /// packed arrays) instead: its preconditioner is built afresh at the resumed solve's next iteration.
    /// </summary>
    internal static object RestoreSampledGramCache(CheckpointState state, int dimension)
    {
        var cache = new SampledGramCache();
        if (state.Scalars.Length == 0 && state.Arrays.Count == 0) return cache;
        int packed = Kernels.Packed.Length(dimension);
        bool factorised = state.Scalars.Length == 3 && state.Scalars[2] == 1;
        bool earlierLayout = factorised && state.Arrays.Count == 2 && state.Arrays.All(a => a.Length == packed);
        int k = factorised && state.Arrays.Count == 3 && dimension > 0 ? state.Arrays[1].Length / dimension : 0;
        if (state.Scalars.Length != 3 || (!earlierLayout && state.Arrays.Count != (factorised ? 3 : 0))
            || (factorised && !earlierLayout && (state.Arrays[0].Length != packed || state.Arrays[1].Length != k * dimension
                                                 || state.Arrays[2].Length != k * k))
            || state.Scalars[0] < 0 || state.Scalars[0] > int.MaxValue || state.Scalars[0] != Math.Floor(state.Scalars[0])
            || state.Scalars[1] < 0 || state.Scalars[1] != Math.Floor(state.Scalars[1]))
            throw new CheckpointFormatException($"the checkpoint's sampled-Gram preconditioner does not match its {dimension} unknowns");
        if (earlierLayout) return cache;
        cache.Built = true;
        cache.BuiltAt = (int)state.Scalars[0];
        cache.Preconditioner = factorised
            ? SampledGramPreconditioner.FromGram(state.Arrays[0], state.Arrays[1], state.Arrays[2], dimension, (long)state.Scalars[1])
            : null;
        return cache;
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

    public override string Name => Preconditioning == CgPreconditioning.None ? "newton-cg" : "approx-newton";

    protected override CurvatureSource Curvature => HessianVectorCurvature.Instance;

    protected override IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction)
    {
        var opts = run.Options;
        int d = run.Objective.Dimension;
        int maxCg = opts.MaxCgIterations > 0 ? opts.MaxCgIterations : Math.Max(d, MinDefaultCgIterations);
        double g0 = run.Trace[0].GradientNorm;
        double etaMax = Preconditioning == CgPreconditioning.SampledGram ? PreconditionedForcingTerm : MaxForcingTerm;
        double eta = ForcingTerm.For(current.GradientNorm, g0, opts.StoppingTarget(g0), etaMax);
        double tol = eta * current.GradientNorm;

        Func<double[], double[]>? preconditioner = null;
        long rowsSampled = 0;
        switch (Preconditioning)
        {
            case CgPreconditioning.Kronecker:
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
                preconditioner = v => cache.Preconditioner.Apply(v);
                break;
            }
            case CgPreconditioning.SampledGram:
            {
                // Sampled afresh every RefreshIterations iterations (1: at every iterate).
                var cache = StateOf<SampledGramCache>(run);
                if (!cache.Built || current.Iteration - cache.BuiltAt >= SampledGramPreconditioner.RefreshIterations)
                {
                    var built = new Out<SampledGramPreconditioner?>();
                    foreach (var request in SampledGramPreconditioner.Build(run, current, cache.Preconditioner, built)) yield return request;
                    (cache.Preconditioner, cache.Built, cache.BuiltAt) = (built.Value, true, current.Iteration);
                }
                if (cache.Preconditioner is { } sampled) (preconditioner, rowsSampled) = (v => sampled.Apply(v), sampled.RowsSampled);
                break;
            }
        }
        double[] Precondition(double[] v) => preconditioner?.Invoke(v) ?? (double[])v.Clone();

        var p = new double[d];
        var r = Negated(current.Gradient);
        var z = Precondition(r);
        var dir = (double[])z.Clone();
        double rz = TensorPrimitives.Dot<double>(r, z);
        var product = new Out<double[]>();
        int cgIterations = 0;
        double negativeCurvature = 0;
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
                    direction.Value = new Direction(p, 1.0, rowsSampled, Math.Min(curvature / Math.Max(dd, TinyNorm), 0.0), cgIterations);
                    yield break;
                }
                negativeCurvature = Math.Min(curvature / Math.Max(TensorPrimitives.Dot<double>(dir, dir), TinyNorm), 0.0);
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
        direction.Value = new Direction(p, 1.0, rowsSampled, negativeCurvature, cgIterations);
    }
}
