using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers;

/// <summary>Limited-memory BFGS (two-loop recursion) with backtracking; pairs with sᵀy ≤ 1e-10‖s‖‖y‖ are skipped.</summary>
public sealed class Lbfgs : LineSearchSolver
{
    /// <summary>The (s, y, 1/sᵀy) pairs of one solve, oldest first.</summary>
    private sealed class Pairs : List<(double[] S, double[] Y, double Rho)>, ISolverStateCheckpoint
    {
        /// <summary>Scalars: the ρ of each pair, oldest first; arrays: s₀, y₀, s₁, y₁, … (each d).</summary>
        public CheckpointState Save() =>
            new(SolverStates.LbfgsPairs, this.Select(p => p.Rho).ToArray(), this.SelectMany(p => new[] { p.S, p.Y }).ToArray());
    }

    /// <summary>The pairs of a checkpoint (<see cref="Pairs.Save"/>), each array checked to have d entries.</summary>
    internal static object RestorePairs(CheckpointState state, int dimension)
    {
        if (state.Arrays.Count != 2 * state.Scalars.Length || state.Arrays.Any(a => a.Length != dimension))
            throw new CheckpointFormatException($"the checkpoint's L-BFGS pairs do not match its {dimension} unknowns");
        var pairs = new Pairs();
        for (int i = 0; i < state.Scalars.Length; i++) pairs.Add((state.Arrays[2 * i], state.Arrays[2 * i + 1], state.Scalars[i]));
        return pairs;
    }

    public override string Name => "lbfgs";

    protected override void OnAccepted(SolveRun run, Iterate previous, Iterate next)
    {
        int d = next.Gradient.Length;
        var s = new double[d];
        var y = new double[d];
        SpanMath.Subtract(next.Point.X, previous.Point.X, s);
        SpanMath.Subtract(next.Gradient, previous.Gradient, y);
        double sy = SpanMath.Dot(s, y);
        if (sy > 1e-10 * SpanMath.Norm(s) * SpanMath.Norm(y))
            StateOf<Pairs>(run).Add((s, y, 1.0 / sy));
    }

    protected override IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction)
    {
        // Keep the newest LbfgsMemory pairs (the oldest go first).
        var pairs = StateOf<Pairs>(run);
        if (pairs.Count > run.Options.LbfgsMemory) pairs.RemoveRange(0, pairs.Count - run.Options.LbfgsMemory);
        var q = (double[])current.Gradient.Clone();
        if (pairs.Count == 0)
        {
            direction.Value = new Direction(Negated(q), 1.0 / Math.Max(current.GradientNorm, TinyNorm));
            yield break;
        }
        var alpha = new double[pairs.Count];
        for (int i = pairs.Count - 1; i >= 0; i--)
        {
            var (s, y, rho) = pairs[i];
            alpha[i] = rho * SpanMath.Dot(s, q);
            SpanMath.MultiplyAdd(y, -alpha[i], q, q);
        }
        var last = pairs[^1];
        double gamma = SpanMath.Dot(last.S, last.Y) / SpanMath.Dot(last.Y, last.Y);
        SpanMath.Multiply(q, gamma, q);
        for (int i = 0; i < pairs.Count; i++)
        {
            var (s, y, rho) = pairs[i];
            double beta = rho * SpanMath.Dot(y, q);
            SpanMath.MultiplyAdd(s, alpha[i] - beta, q, q);
        }
        direction.Value = new Direction(Negated(q), 1.0);
    }
}
