using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>Exact Newton's curvature: one Gram pass Aᵀ diag(D + w²) A plus the exact low-rank part.</summary>
public sealed class ExactGramCurvature : DenseCurvature
{
    public static readonly ExactGramCurvature Instance = new();

    public override string SolverName => "newton";

    public override IEnumerable<ShardRequest> Build(SolveRun run, Iterate current, Out<DenseModel> model)
    {
        yield return new GramRequest(current.Point.X, current.Point.Globals, current.Kind);
        model.Value = FromGram(run, current, run.Reply<GramReply>());
    }
}
