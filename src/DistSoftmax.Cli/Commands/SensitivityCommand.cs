using System.CommandLine;
using System.Globalization;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Sensitivity;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data;
using static DistSoftmax.Cli.Commands.NetworkCommandSupport;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// <c>dist-softmax sensitivity</c>: the in-context-learning Lipschitz experiment (<see cref="SensitivityAnalysis"/>)
/// on a vector problem read from an instance directory (A.npy | A.mtx, b.npy) or generated; writes report.json,
/// sensitivity.png (log–log ratios per ε with the linearised predictions) and solution.npy.
/// The re-solves run as whole jobs in a bounded Parallel.ForEach in this process.
/// </summary>
public static class SensitivityCommand
{
    public static Command Create()
    {
        var instance = new Option<string?>("--instance") { Description = "Instance directory (A.npy or A.mtx, b.npy); default: generate one" };
        var problem = new Option<string>("--problem") { Description = "Vector family", DefaultValueFactory = _ => "normalized" }
            .OneOf("normalized", "rescaled", "hyperbolic");
        var unit = new Option<string>("--unit") { Description = "u of the rescaled and hyperbolic families", DefaultValueFactory = _ => "exp" }
            .OneOf("exp", "cosh", "sinh");
        var n = new Option<int>("--n") { Description = "Rows of a generated instance", DefaultValueFactory = _ => 400 }.Positive();
        var d = new Option<int>("--d") { Description = "Columns of a generated instance", DefaultValueFactory = _ => 10 }.Positive();
        var reg = new Option<double>("--reg") { Description = "Regulariser weight w of ½‖wAx‖²", DefaultValueFactory = _ => 0.1 }.NonNegative();
        var epsilons = new Option<string>("--epsilons") { Description = "Comma-separated perturbation sizes ‖A' − A‖_F", DefaultValueFactory = _ => "1e-1,3e-2,1e-2,3e-3,1e-3,3e-4,1e-4" };
        var draws = new Option<int>("--draws") { Description = "Random directions per ε", DefaultValueFactory = _ => 4 }.Positive();
        var solver = new Option<string>("--solver") { Description = "Solver of every solve", DefaultValueFactory = _ => "newton" }.OneOf(SolverCatalog.Names);
        var shards = new Option<int>("--shards") { Description = "Row shards per solve", DefaultValueFactory = _ => 1 }.Positive();
        var parallel = new Option<int>("--parallel") { Description = "Solves at once (0: processor count)", DefaultValueFactory = _ => 0 }.NonNegative();
        var seed = new Option<ulong>("--seed") { Description = "Seed of the instance and the directions", DefaultValueFactory = _ => 1UL };
        var outDir = new Option<string>("--out-dir") { Description = "Output directory", DefaultValueFactory = _ => "sensitivity-out" };

        var cmd = new Command("sensitivity", "Empirical Lipschitz constant of x*(A) and of the attention row under perturbations of A");
        foreach (var o in new Option[] { instance, problem, unit, n, d, reg, epsilons, draws, solver, shards, parallel, seed, outDir }) cmd.Options.Add(o);
        cmd.SetAction((pr, ct) => Guard(() =>
        {
            var eps = pr.GetValue(epsilons)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(e => double.TryParse(e, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                    : throw new ArgumentException($"--epsilons: '{e}' is not a number")).ToArray();
            var options = new SensitivityOptions
            {
                Epsilons = eps, Draws = pr.GetValue(draws), Seed = pr.GetValue(seed), Solver = pr.GetValue(solver)!,
                Shards = pr.GetValue(shards), Parallelism = pr.GetValue(parallel),
            };
            return RunAsync(pr.GetValue(instance), pr.GetValue(problem)!, pr.GetValue(unit)!, pr.GetValue(n), pr.GetValue(d), pr.GetValue(reg),
                options, pr.GetValue(outDir)!, Console.Out, ct);
        }));
        return cmd;
    }

    public static Task<int> RunAsync(string? instanceDir, string problemName, string unitName, int n, int d, double reg,
        SensitivityOptions options, string outDir, TextWriter output, CancellationToken ct = default)
    {
        var unit = UnitFunctions.Parse(unitName);
        var family = Families.Create(problemName, unit);
        VectorInstance inst;
        if (instanceDir is not null) inst = Generators.ReadVectorInstance(instanceDir);
        else
        {
            var gu = Generators.ParseUnit(unitName);
            inst = problemName switch
            {
                "normalized" => Generators.Normalized(n, d, options.Seed, xScale: 1.0),
                "rescaled" => Generators.Rescaled(n, d, gu, options.Seed),
                _ => Generators.Hyperbolic(n, d, gu, options.Seed, noise: 0.1),
            };
        }
        var vp = new VectorProblem(family, inst.A, inst.B, reg > 0 ? Regularizer.Uniform(reg) : Regularizer.None);
        output.WriteLine($"sensitivity: {family.Name}, n = {vp.Rows}, d = {vp.Dimension}, w = {reg}; {options.Draws} directions × {options.Epsilons.Count} sizes, solver {options.Solver}");
        var result = SensitivityAnalysis.Run(vp, options, log: m => output.WriteLine("  " + m), cancellation: ct);

        Directory.CreateDirectory(outDir);
        Npy.Write(Path.Combine(outDir, "solution.npy"), result.Solution);
        NetworkPlots.Sensitivity(Path.Combine(outDir, "sensitivity.png"), result);
        WriteJson(Path.Combine(outDir, "report.json"), new
        {
            Command = "sensitivity",
            Family = result.Family,
            Instance = instanceDir ?? "generated",
            result.Rows,
            result.Dimension,
            Regularizer = reg,
            BaseSolve = new { result.BaseSolve.Exit, result.BaseSolve.Message, result.BaseSolve.Iterations, result.BaseSolve.GradientNorm },
            HessianEigenvalues = new { Min = result.HessianMinEigenvalue, Max = result.HessianMaxEigenvalue },
            Norm = "Frobenius: ε = ‖A' − A‖_F, directions Δ with ‖Δ‖_F = 1",
            PredictedSolutionRatio = result.PredictedSolutionRatio,
            PredictedOutputRatio = result.PredictedOutputRatio,
            EmpiricalLipschitz = result.Summary,
            Perturbations = result.Perturbations,
            Parallelism = result.Parallelism,
            Execution = "in-process: every re-solve is a whole job in a bounded Parallel.ForEach",
            result.Seconds,
        });
        output.WriteLine($"wrote {outDir}/report.json, sensitivity.png, solution.npy ({result.Seconds:F1} s)");
        return Task.FromResult(0);
    }
}
