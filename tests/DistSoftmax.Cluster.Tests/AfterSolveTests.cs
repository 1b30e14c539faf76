using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core.Analysis;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Tests;

/// <summary>
/// The post-solve analysis as requests the coordinator steps on its workers' shards (<see cref="Coordinator.SolveSpec.AfterSolve"/>),
/// so a cluster job's own process never loads the rows again for it.
/// </summary>
public sealed class AfterSolveTests
{
    // Every message, the analysis's requests and replies included, also goes through the project's serializer.
    private const string Strict = "akka.actor.serialize-messages = on\nakka.loglevel = WARNING";

    private const PostSolveOutputs Everything = PostSolveOutputs.Fitted | PostSolveOutputs.Residual | PostSolveOutputs.Gradient | PostSolveOutputs.Hessian;

    /// <param name="w">Regulariser weight: 11 makes min w² &gt; 100, so the analysis also asks for the data Gram AᵀA (σ_min(A)).</param>
    [Theory]
    [InlineData(0.05)]
    [InlineData(11.0)]
    public async Task The_analysis_runs_on_the_workers_shards_and_matches_the_analysis_on_shards_in_this_process(double w)
    {
        var problem = new SmallProblem(n: 900, d: 5, w: w, name: $"after-solve-{w}");
        var loads = new GatedLoader(problem.Loader, gatedStart: -1, gatedEvaluation: 0);
        RequestProgram<PostSolveResult>? program = null;
        var result = await LocalSimulation.SolveAsync(loads, problem.Source, SolverCatalog.Create("newton"), problem.X0,
            SmallProblem.Options, new LocalSimulationOptions
            {
                Workers = 2,
                ExtraHocon = Strict,
                AfterSolve = solved => program = new RequestProgram<PostSolveResult>(shards =>
                    PostSolveAnalysis.Run(new PostSolveEvaluator(shards, problem.Objective), solved.X, Everything, regularized: true, seed: 5)),
            });

        Assert.Equal(2, loads.Loads); // the workers' loads only
        Assert.NotNull(program);
        Assert.True(program!.Finished);
        Assert.Null(program.Error);
        var onWorkers = program.Result;
        var shards = ShardLayout.VectorShards(NormalizedSoftmax.Instance, problem.A, problem.B, problem.Reg, 2, ShardComputeOptions.Sequential);
        var here = PostSolveAnalysis.Run(new PostSolveEvaluator(shards, problem.Objective), result.X, Everything, regularized: true, seed: 5);

        const double tolerance = 1e-12;
        Assert.Equal(here.Regime.LambdaMin, onWorkers.Regime.LambdaMin, tolerance * Math.Abs(here.Regime.LambdaMax));
        Assert.Equal(here.Regime.LambdaMax, onWorkers.Regime.LambdaMax, tolerance * Math.Abs(here.Regime.LambdaMax));
        Assert.Equal(here.Regime.TargetL1Norm.Value!.Value, onWorkers.Regime.TargetL1Norm.Value!.Value, tolerance);
        Assert.Equal(here.Regime.RegularizerWeights.Value!.Value, onWorkers.Regime.RegularizerWeights.Value!.Value, tolerance * here.Regime.RegularizerWeights.Value!.Value);
        Assert.Equal(here.Regime.RegularizerWeights.Holds, onWorkers.Regime.RegularizerWeights.Holds);
        Assert.Equal(here.Regime.SigmaMinA.HasValue, onWorkers.Regime.SigmaMinA.HasValue);
        Assert.Equal(w > 10, onWorkers.Regime.SigmaMinA.HasValue);
        if (here.Regime.SigmaMinA is double sigma) Assert.Equal(sigma, onWorkers.Regime.SigmaMinA!.Value, tolerance * sigma);
        Assert.Equal(here.Regime.Loss, onWorkers.Regime.Loss, tolerance * here.Regime.Loss);
        Assert.Equal(problem.N, onWorkers.Fitted!.Length);
        foreach (var (a, b) in new[] { (here.Fitted!, onWorkers.Fitted), (here.Residual!, onWorkers.Residual!), (here.Gradient!, onWorkers.Gradient!),
                     (here.Hessian!, onWorkers.Hessian!) })
            for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], tolerance * (1 + Math.Abs(a[i])));
        Assert.Equal(here.FittedShape, onWorkers.FittedShape);
    }

    [Fact]
    public async Task A_failure_after_the_solve_abandons_the_program_and_still_reports_the_solve_s_result()
    {
        var problem = new SmallProblem(n: 600, d: 4, name: "after-solve-failure");
        RequestProgram<int>? program = null;
        var result = await LocalSimulation.SolveAsync(problem.Loader, problem.Source, SolverCatalog.Create("newton"), problem.X0,
            SmallProblem.Options, new LocalSimulationOptions
            {
                Workers = 2,
                ExtraHocon = Strict,
                // A vector shard cannot answer a matrix problem's request: its worker reports the shard failed.
                AfterSolve = solved => program = new RequestProgram<int>(shards =>
                {
                    shards.Evaluate(new KroneckerFactorsRequest(solved.X, HessianKind.Exact));
                    return 1;
                }),
            });

        ResultAssert.BitIdentical(problem.InProcess("newton", 2), result);
        Assert.True(program!.Finished);
        Assert.Contains("cannot answer KroneckerFactorsRequest", Assert.IsType<OperationCanceledException>(program.Error).Message);
    }

    [Fact]
    public async Task Cancelling_while_the_program_runs_abandons_it_and_keeps_the_solve_s_result()
    {
        var problem = new SmallProblem(n: 600, d: 4, name: "after-solve-cancelled");
        using var cts = new CancellationTokenSource();
        RequestProgram<int>? program = null;
        int answered = 0;
        var result = await LocalSimulation.SolveAsync(problem.Loader, problem.Source, SolverCatalog.Create("newton"), problem.X0,
            SmallProblem.Options, new LocalSimulationOptions
            {
                Workers = 2,
                ExtraHocon = Strict,
                AfterSolve = solved => program = new RequestProgram<int>(shards =>
                {
                    shards.Evaluate(new TargetSummaryRequest());
                    answered++;
                    cts.Cancel(); // the coordinator is told while it waits for this program's next request
                    for (int k = 0; k < 50; k++) { shards.Evaluate(new TargetSummaryRequest()); answered++; }
                    return answered;
                }),
            }, cts.Token);

        Assert.True(result.Converged);
        ResultAssert.BitIdentical(problem.InProcess("newton", 2), result);
        Assert.True(program!.Finished);
        Assert.Contains("cancelled after the solve", Assert.IsType<OperationCanceledException>(program.Error).Message);
        Assert.True(answered < 51, $"{answered} requests answered after the cancellation");
    }
}
