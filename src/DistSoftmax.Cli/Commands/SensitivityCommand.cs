using System.CommandLine;
using System.Globalization;
using DistSoftmax.Core.Linear;
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
        var instance = new Option<string?>("--instance") { Description = "Instance directory (A.npy or A.mtx, b.npy; matrix problems: A1.npy, A2.npy, B.npy); default: generate one" };
        var problem = new Option<string>("--problem") { Description = "Vector family, or a tensor-trick matrix problem", DefaultValueFactory = _ => "normalized" }
            .OneOf("normalized", "rescaled", "hyperbolic", "multiple-normalized", "multiple-rescaled");
        var perturb = new Option<string?>("--perturb") { Description = "Matrix problems: comma-separated matrices to perturb (default A1,A2,B); vector problems perturb A" };
        var unit = new Option<string>("--unit") { Description = "u of the rescaled and hyperbolic families", DefaultValueFactory = _ => "exp" }
            .OneOf("exp", "cosh", "sinh");
        var n = new Option<int>("--n") { Description = "Rows of a generated instance (matrix problems: n×n attention)", DefaultValueFactory = _ => 400 }.Positive();
        var d = new Option<int>("--d") { Description = "Columns of a generated instance", DefaultValueFactory = _ => 10 }.Positive();
        var reg = new Option<double>("--reg") { Description = "Regulariser weight w of ½‖wAx‖² (matrix problems: ½‖w·M‖²_F)", DefaultValueFactory = _ => 0.1 }.NonNegative();
        var epsilons = new Option<string>("--epsilons") { Description = "Comma-separated perturbation sizes ‖A' − A‖_F", DefaultValueFactory = _ => "1e-1,3e-2,1e-2,3e-3,1e-3,3e-4,1e-4" };
        var draws = new Option<int>("--draws") { Description = "Random directions per ε", DefaultValueFactory = _ => 4 }.Positive();
        var solver = new Option<string>("--solver") { Description = "Solver of every solve", DefaultValueFactory = _ => "newton" }.OneOf(SolverCatalog.Names);
        var shards = new Option<int>("--shards") { Description = "Row shards per solve", DefaultValueFactory = _ => 1 }.Positive();
        var parallel = new Option<int>("--parallel") { Description = "Solves at once (0: processor count)", DefaultValueFactory = _ => 0 }.NonNegative();
        var seed = new Option<ulong>("--seed") { Description = "Seed of the instance and the directions", DefaultValueFactory = _ => 1UL };
        var outDir = new Option<string>("--out-dir") { Description = "Output directory", DefaultValueFactory = _ => "sensitivity-out" };

        var cmd = new Command("sensitivity", "Empirical Lipschitz constant of x*(A) and of the attention row under perturbations of A");
        foreach (var o in new Option[] { instance, problem, perturb, unit, n, d, reg, epsilons, draws, solver, shards, parallel, seed, outDir }) cmd.Options.Add(o);
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
            var parts = pr.GetValue(perturb)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return RunAsync(pr.GetValue(instance), pr.GetValue(problem)!, pr.GetValue(unit)!, pr.GetValue(n), pr.GetValue(d), pr.GetValue(reg),
                options, pr.GetValue(outDir)!, Console.Out, ct, parts);
        }));
        return cmd;
    }

    public static Task<int> RunAsync(string? instanceDir, string problemName, string unitName, int n, int d, double reg,
        SensitivityOptions options, string outDir, TextWriter output, CancellationToken ct = default, IReadOnlyList<string>? perturb = null)
    {
        var problem = Load(instanceDir, problemName, unitName, n, d, reg, options.Seed, perturb);
        output.WriteLine($"sensitivity: {problem.Name}, {problem.Rows} rows, {problem.Dimension} unknowns, w = {reg}; perturbing {string.Join(", ", problem.PerturbedParts)}; " +
                         $"{options.Draws} directions × {options.Epsilons.Count} sizes, solver {options.Solver}");
        var result = SensitivityAnalysis.Run(problem, options, log: m => output.WriteLine("  " + m), cancellation: ct);
        return Write(result, problem, instanceDir, reg, outDir, output);
    }

    private static ISensitivityProblem Load(string? instanceDir, string problemName, string unitName, int n, int d, double reg, ulong seed,
        IReadOnlyList<string>? perturb)
    {
        if (MatrixProblem.IsMatrixProblem(problemName))
        {
            var mi = instanceDir is not null ? Generators.ReadMatrixInstance(instanceDir) : Generators.Multiple(n, d, seed, planted: false);
            DenseMatrix? w = null;
            if (reg > 0)
            {
                w = new DenseMatrix(mi.B.Rows, mi.B.Cols);
                Array.Fill(w.Data, reg);
            }
            var parts = perturb is { Count: > 0 } ? perturb : MatrixSensitivityProblem.AllParts;
            foreach (var part in parts)
                if (!MatrixSensitivityProblem.AllParts.Contains(part))
                    throw new ArgumentException($"--perturb: unknown matrix '{part}' (allowed: {string.Join(", ", MatrixSensitivityProblem.AllParts)})");
            return new MatrixSensitivityProblem(MatrixProblem.Create(problemName, mi.A1, mi.A2, mi.B, w), parts.ToArray());
        }
        if (perturb is { Count: > 0 } && !(perturb.Count == 1 && perturb[0] == "A"))
            throw new ArgumentException("--perturb: vector problems perturb A only");
        var unit = UnitFunctions.Parse(unitName);
        var family = Families.Create(problemName, unit);
        VectorInstance inst;
        if (instanceDir is not null) inst = Generators.ReadVectorInstance(instanceDir);
        else
        {
            var gu = Generators.ParseUnit(unitName);
            inst = problemName switch
            {
                "normalized" => Generators.Normalized(n, d, seed, xScale: 1.0),
                "rescaled" => Generators.Rescaled(n, d, gu, seed),
                _ => Generators.Hyperbolic(n, d, gu, seed, noise: 0.1),
            };
        }
        return new VectorProblem(family, inst.A, inst.B, reg > 0 ? Regularizer.Uniform(reg) : Regularizer.None);
    }

    private static Task<int> Write(SensitivityResult result, ISensitivityProblem problem, string? instanceDir, double reg, string outDir, TextWriter output)
    {
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
            Perturbed = problem.PerturbedParts,
            Norm = "Frobenius: ε = √(Σ‖M_i' − M_i‖²_F) over the perturbed matrices, directions of unit norm",
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
