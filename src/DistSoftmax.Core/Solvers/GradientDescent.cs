using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Gradient descent with backtracking: p = −∇L, first trial step twice the last accepted one (1/‖∇L‖ at the
/// start). The seeds' greedy baseline.
/// </summary>
public sealed class GradientDescent : LineSearchSolver
{
    /// <summary>The first trial step is this multiple of the last accepted one.</summary>
    public const double StepGrowth = 2.0;

    public override string Name => "gd";

    protected override IEnumerable<ShardRequest> ComputeDirection(SolveRun run, Iterate current, Out<Direction> direction)
    {
        double last = run.Trace.Count > 0 ? run.Trace[^1].StepLength : 0;
        double t0 = last > 0 ? StepGrowth * last : 1.0 / Math.Max(current.GradientNorm, TinyNorm);
        direction.Value = new Direction(Negated(current.Gradient), t0);
        yield break;
    }
}
