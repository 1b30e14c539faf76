using System.Diagnostics;
using System.Globalization;
using DistSoftmax.Core.Analysis;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cli.Solving;

/// <summary>
/// The solve command's analysis at x* (after every solve, on every backend), <see cref="PostSolveAnalysis"/> — the
/// regime for report.json always, and the arrays of <c>--save</c>: on the rows the solve's workers held in this process
/// (in-process and local backends); after a cluster solve, as requests the coordinator steps on the workers' shards
/// before it reports the result (<see cref="OnWorkers"/>), so no row is loaded here; and only when that was cut short
/// (a worker lost without a replacement), on the rows loaded again here through the same loader and layout.
/// </summary>
internal static class PostSolvePass
{
    /// <summary>The names --save takes, with the flag each sets.</summary>
    public static readonly IReadOnlyList<(string Name, PostSolveOutputs Flag)> SaveNames =
    [
        ("fitted", PostSolveOutputs.Fitted),
        ("residual", PostSolveOutputs.Residual),
        ("gradient", PostSolveOutputs.Gradient),
        ("hessian", PostSolveOutputs.Hessian),
    ];

    private static string Allowed => string.Join(", ", SaveNames.Select(s => s.Name));

    /// <summary>The arrays asked for by --save (a comma list; null: none). Unknown names are bad input.</summary>
    public static PostSolveOutputs ParseSave(string? text)
    {
        if (text is null) return PostSolveOutputs.None;
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0) throw new CliInputException("--save", $"no name given (a comma list of {Allowed})");
        var outputs = PostSolveOutputs.None;
        foreach (string name in names)
        {
            var match = SaveNames.FirstOrDefault(s => s.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (match.Name is null)
                throw new CliInputException("--save", $"unknown name '{name}'{Commands.Suggestions.DidYouMean(name, SaveNames.Select(s => s.Name), "'")} (allowed: {Allowed})");
            outputs |= match.Flag;
        }
        return outputs;
    }

    /// <summary>--save hessian needs unknowns ≤ <see cref="PostSolveEvaluator.MaxHessianUnknowns"/> (checked before solving).</summary>
    public static void CheckLimits(PostSolveOutputs outputs, long unknowns)
    {
        if (outputs.HasFlag(PostSolveOutputs.Hessian) && unknowns > PostSolveEvaluator.MaxHessianUnknowns)
            throw new CliInputException("--save", string.Create(CultureInfo.InvariantCulture,
                $"hessian: the problem has {unknowns} unknowns, more than the {PostSolveEvaluator.MaxHessianUnknowns} whose exact Hessian is written; save fitted, residual or gradient"));
    }

    /// <summary>Whether the source carries a non-zero regulariser (a weight file, or a non-zero w-scalar).</summary>
    private static bool Regularized(ProblemSource source) =>
        source.Get("w") is not null || source.Get("W") is not null ||
        (source.Get("w-scalar") is string w && double.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v != 0);

    /// <summary>
    /// Runs the analysis at <paramref name="x"/> on the shards the solve held in this process (the in-process and local
    /// backends, through <paramref name="retained"/>), evaluated side by side as the workers did, or else on the plan's
    /// shards loaded here again (a cluster's rows live on its workers); returns it and its wall time.
    /// </summary>
    /// <param name="solveRequests">The solve's shard requests: above the exact-Hessian limit the analysis's Lanczos is
    /// budgeted to a quarter of them (<see cref="PostSolveAnalysis.LanczosBudget"/>).</param>
    public static (PostSolveResult Result, double Seconds) Run(SolvePlan plan, IShardLoader loader, RetainingShardLoader? retained, double[] x,
        long solveRequests)
    {
        var clock = Stopwatch.StartNew();
        var shape = plan.Inspection.Shape;
        var ranges = ShardLayout.Split(shape.Rows, plan.Workers);
        var reused = retained?.TryRetained(plan.Source, ranges);
        var shards = reused ?? ranges.Select(range => loader.Load(plan.Source, range, ShardComputeOptions.Default)).ToArray();
        var result = Analyse(new PostSolveEvaluator(shards, shape.Objective, parallelShards: reused is not null), plan, x, solveRequests);
        return (result, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The analysis as a program for a cluster's coordinator to step on its workers' shards once the solver has
    /// finished (<see cref="SolveJob.AfterSolve"/>); <paramref name="started"/> receives it, and it holds the analysis
    /// and its seconds when it has finished. None after a cancelled solve.
    /// </summary>
    public static Func<SolverResult, IRequestProgram?> OnWorkers(SolvePlan plan, Action<RequestProgram<(PostSolveResult Result, double Seconds)>> started) =>
        solved =>
        {
            if (solved.Exit == ExitCondition.Cancelled) return null;
            var program = new RequestProgram<(PostSolveResult, double)>(shards =>
            {
                var clock = Stopwatch.StartNew();
                var result = Analyse(new PostSolveEvaluator(shards, plan.Inspection.Shape.Objective), plan, solved.X, solved.Requests);
                return (result, clock.Elapsed.TotalSeconds);
            });
            started(program);
            return program;
        };

    private static PostSolveResult Analyse(PostSolveEvaluator evaluator, SolvePlan plan, double[] x, long solveRequests) =>
        PostSolveAnalysis.Run(evaluator, x, plan.Save, Regularized(plan.Source), plan.Options.Seed, PostSolveAnalysis.LanczosBudget(solveRequests));

    /// <summary>One line for the summary: the λ range and the theorem's conditions.</summary>
    public static string SummaryLine(Regime r)
    {
        static string Mark(bool? holds) => holds switch { true => "yes", false => "no", null => "n/a" };
        string range = r.Method == "exact-eigenvalues"
            ? Invariant($"λ(∇²L(x*)) in [{r.LambdaMin:G4}, {r.LambdaMax:G4}]")
            : Invariant($"Lanczos ({r.LanczosSteps} steps): λ_min ≤ {r.LambdaMin:G4}, λ_max ≥ {r.LambdaMax:G4}");
        return $"{range}; positive definite: {Mark(r.PositiveDefinite.Holds)}; seed 001's w² ≥ 100 + l/σ_min(A)²: {Mark(r.RegularizerWeights.Holds)}, " +
               $"‖b‖₁ ≤ 1: {Mark(r.TargetL1Norm.Holds)}" + (r.Collapsed ? "; collapsed onto x = 0 by the regulariser" : "");
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
