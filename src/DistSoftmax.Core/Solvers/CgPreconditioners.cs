using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The preconditioner M⁻¹ of an approximate Newton method's CG at an iterate, built or reused from the solve's state
/// (the run's SolverState, which a checkpoint carries), for both globalisations (<see cref="NewtonCg"/>,
/// <see cref="TrustRegionNewtonCg"/>):
///   • <see cref="CgPreconditioning.Kronecker"/>: the Kronecker-factored curvature F ⊗ G of a matrix problem
///     (<see cref="KroneckerPreconditioner"/>, summed over a leverage-score sample of the rows,
///     <see cref="SolverOptions.KroneckerRowsPerColumn"/>), one extra request every <see cref="KroneckerRefreshIterations"/>
///     iterations (the factors change slowly with x: K-FAC's practice) until the solve has settled
///     (<see cref="SampledGramCurvature.SettledSteps"/>), then kept, corrected by the curvature pairs of earlier CG
///     solves (<see cref="CurvaturePairs"/>, <see cref="RememberPairs"/>);
///   • <see cref="CgPreconditioning.SampledGram"/>: the leverage-sampled Gram of a vector problem with its low-rank
///     terms (<see cref="SampledGramPreconditioner"/>), sampled afresh every
///     <see cref="SampledGramPreconditioner.RefreshIterations"/> iterations until the solve has settled, then kept;
///   • <see cref="CgPreconditioning.None"/>: none (plain CG).
/// </summary>
internal static class CgPreconditioners
{
    /// <summary>Iterations a Kronecker-factored preconditioner is reused before its factors are formed again.</summary>
    public const int KroneckerRefreshIterations = 3;

    /// <summary>
    /// M⁻¹ at <paramref name="current"/> (null: none, or a sampled Gram that did not factorise) and the rows its sample
    /// kept (0 when it has none).
    /// </summary>
    public static IEnumerable<ShardRequest> Prepare(SolveRun run, Iterate current, CgPreconditioning kind,
        Out<(Func<double[], double[]>? Apply, long RowsSampled)> result)
    {
        result.Value = (null, 0);
        switch (kind)
        {
            case CgPreconditioning.Kronecker:
            {
                var cache = StateOf<KroneckerCache>(run);
                // Due for fresh factors, unless the solve has settled (full steps, the loss barely changing): x then moves
                // by O(‖∇L‖) an iteration, the factors with it, and the curvature pairs correct what they miss.
                bool due = current.Iteration - cache.BuiltAt >= KroneckerRefreshIterations;
                if (cache.Preconditioner is null || (due && !SampledGramCurvature.SettledSteps(run)))
                {
                    var built = new Out<(KroneckerPreconditioner, KroneckerFactorsReply)>();
                    foreach (var request in KroneckerPreconditioner.Build(run, current, built)) yield return request;
                    (cache.Preconditioner, cache.Factors) = built.Value;
                    cache.BuiltAt = current.Iteration;
                }
                var kronecker = cache.Preconditioner;
                var pairs = cache.Pairs ??= new CurvaturePairs(run.Objective.Dimension);
                // A trace's rows sampled: those of the factors' leverage-score sample, when they were not every row.
                long factorRows = cache.Factors?.Rows ?? 0;
                result.Value = (v => pairs.Apply(u => kronecker.Apply(u), v), factorRows < run.Objective.Rows ? factorRows : 0);
                break;
            }
            case CgPreconditioning.SampledGram:
            {
                var cache = StateOf<SampledGramCache>(run);
                // Due for a fresh sample, unless the solve has settled (SampledGramPreconditioner.RefreshIterations).
                bool due = current.Iteration - cache.BuiltAt >= SampledGramPreconditioner.RefreshIterations;
                bool kept = cache.Preconditioner is not null && SampledGramCurvature.SettledSteps(run);
                if (!cache.Built || (due && !kept))
                {
                    var built = new Out<SampledGramPreconditioner?>();
                    foreach (var request in SampledGramPreconditioner.Build(run, current, cache.Preconditioner, built)) yield return request;
                    (cache.Preconditioner, cache.Built, cache.BuiltAt) = (built.Value, true, current.Iteration);
                }
                if (cache.Preconditioner is { } sampled) result.Value = (v => sampled.Apply(v), sampled.RowsSampled);
                break;
            }
        }
    }

    /// <summary>
    /// Where a CG solve preconditioned by <paramref name="kind"/> collects its iterations' (s, H s, sᵀHs) for
    /// <see cref="RememberPairs"/>: a list with the Kronecker factors, which the pairs correct; null with the others.
    /// </summary>
    public static List<(double[] S, double[] Y, double Sy)>? PairsToCollect(CgPreconditioning kind) =>
        kind == CgPreconditioning.Kronecker ? [] : null;

    /// <summary>
    /// After a Kronecker-preconditioned CG solve at an iterate of Hessian <paramref name="kind"/>: its iterations'
    /// (s, H s, sᵀHs) for the next solves' preconditioner (<see cref="CurvaturePairs"/>).
    /// </summary>
    public static void RememberPairs(SolveRun run, HessianKind kind, List<(double[] S, double[] Y, double Sy)> pairs)
    {
        var cache = StateOf<KroneckerCache>(run);
        cache.Pairs ??= new CurvaturePairs(run.Objective.Dimension);
        foreach (var (s, y, sy) in pairs) cache.Pairs.Add(s, y, sy, kind);
    }

    /// <summary>This solve's state of type T, created on first use.</summary>
    private static T StateOf<T>(SolveRun run) where T : class, new() => (T)(run.SolverState ??= new T());

    /// <summary>This solve's current preconditioner and the iteration it was built at.</summary>
    private sealed class KroneckerCache : ISolverStateCheckpoint
    {
        public KroneckerPreconditioner? Preconditioner;
        public int BuiltAt;
        /// <summary>The factors it was built from (a checkpoint rebuilds the same preconditioner from them).</summary>
        public KroneckerFactorsReply? Factors;
        /// <summary>The curvature pairs that correct it (null before the first CG solve).</summary>
        public CurvaturePairs? Pairs;

        /// <summary>
        /// Scalars: [BuiltAt, Σ τ, rows, the pairs' Hessian kind, pairs k]; arrays: packed F, packed G, then s_1 … s_k
        /// and y_1 … y_k (oldest first). Empty before the first build.
        /// </summary>
        public CheckpointState Save()
        {
            if (Factors is null) return new(SolverStates.Kronecker, [], []);
            int k = Pairs?.Count ?? 0;
            var arrays = new List<double[]> { Factors.LeftPacked, Factors.RightPacked };
            for (int i = 0; i < k; i++) arrays.Add(Pairs![i].S);
            for (int i = 0; i < k; i++) arrays.Add(Pairs![i].Y);
            return new(SolverStates.Kronecker, [BuiltAt, Factors.WeightSum, Factors.Rows, (double)(Pairs?.Kind ?? default), k], arrays);
        }
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
    internal static object RestoreSampledGram(CheckpointState state, int dimension)
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

    /// <summary>
    /// The cache of a checkpoint (<see cref="KroneckerCache.Save"/>): the preconditioner rebuilt from its factors, with its
    /// curvature pairs. A checkpoint written before the twenty-third session has no pairs (three scalars, two
    /// arrays): the resumed solve starts collecting them afresh.
    /// </summary>
    internal static object RestoreKronecker(CheckpointState state, int dimension)
    {
        var cache = new KroneckerCache();
        if (state.Scalars.Length == 0 && state.Arrays.Count == 0) return cache;
        int packed = Kernels.Packed.Length((int)Math.Round(Math.Sqrt(dimension)));
        bool withPairs = state.Scalars.Length == 5;
        double k = withPairs ? state.Scalars[4] : 0, kind = withPairs ? state.Scalars[3] : 0;
        bool pairsFit = k >= 0 && k <= CurvaturePairs.LimitFor(dimension) && k == Math.Floor(k)
                        && (kind == (double)HessianKind.Exact || kind == (double)HessianKind.GaussNewton)
                        && state.Arrays.Count == 2 + 2 * (int)k && state.Arrays.Skip(2).All(a => a.Length == dimension);
        if ((state.Scalars.Length != 3 && !withPairs) || (withPairs ? !pairsFit : state.Arrays.Count != 2)
            || state.Arrays[0].Length != packed || state.Arrays[1].Length != packed
            || state.Scalars[0] < 0 || state.Scalars[0] > int.MaxValue || state.Scalars[0] != Math.Floor(state.Scalars[0]))
            throw new CheckpointFormatException($"the checkpoint's Kronecker factors do not match its {dimension} unknowns");
        cache.Factors = new KroneckerFactorsReply(state.Arrays[0], state.Arrays[1], state.Scalars[1], (long)state.Scalars[2]);
        cache.BuiltAt = (int)state.Scalars[0];
        cache.Preconditioner = KroneckerPreconditioner.FromReply(cache.Factors);
        if (withPairs && k > 0)
        {
            int count = (int)k;
            cache.Pairs = CurvaturePairs.Restore(dimension, (HessianKind)(byte)kind,
                state.Arrays.Skip(2).Take(count).ToList(), state.Arrays.Skip(2 + count).Take(count).ToList());
        }
        return cache;
    }

}
