using System.CommandLine;
using System.Globalization;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Sensitivity;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Data;
using DistSoftmax.Data.Sources;
using DistSoftmax.Cluster.Hosting;
using static DistSoftmax.Cli.Commands.NetworkCommandSupport;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// <c>dist-softmax sensitivity</c>: the in-context-learning Lipschitz experiment (<see cref="SensitivityAnalysis"/>)
/// on a vector problem read from an instance directory (A.npy | A.mtx, b.npy) or generated; writes report.json,
/// sensitivity.png (log–log ratios per ε with the linearised predictions) and solution.npy.
/// The re-solves are independent whole jobs: with --backend local (the default) each runs on one of --workers worker
/// actors (<see cref="LocalSimulation.SolveJobsAsync"/>); with --backend inprocess in a bounded Parallel.ForEach.
/// </summary>
internal static class SensitivityCommand
{
    public static Command Build(CliContext ctx)
    {
        var instance = OptionFactory.File("--instance",
            "Instance directory from 'generate' (A.npy or A.mtx, b.npy; matrix problems A1.npy, A2.npy, B.npy). Default: generate one.", "DIR");
        var problem = CatalogOptions.Problem();
        var perturb = OptionFactory.File("--perturb", "Matrix problems: comma-separated matrices to perturb (default A1,A2,B); vector problems perturb A.", "LIST");
        var unit = CatalogOptions.Unit();
        var n = OptionFactory.Int("--n", "Rows of a generated instance (matrix problems: A1, A2 n×d and B n×n).", 400);
        var d = OptionFactory.Int("--d", "Columns of a generated instance (matrix problems: X is d×d).", 10, "D");
        var reg = OptionFactory.Double("--reg", "Regulariser weight w of ½‖wAx‖² (matrix problems: ½‖w·M‖²_F).", 0.1, "W");
        var epsilons = OptionFactory.Text("--epsilons", "Comma-separated perturbation sizes ε = ‖A' − A‖_F.", "1e-1,3e-2,1e-2,3e-3,1e-3,3e-4,1e-4", "LIST");
        var draws = OptionFactory.Int("--draws", "Random perturbation directions (each used at every ε).", 4);
        var solver = OptionFactory.Choice("--solver", "Solver of every solve (warm-started from x*).", "newton", SolverCatalog.Names);
        var shards = OptionFactory.Int("--shards", "Row shards per solve.", 1, "K");
        var parallel = OptionFactory.Int("--parallel", "Backend inprocess: solves run at once (0: the processor count).", 0, "P");
        var backend = JobOptions.Backend(
            "Where the re-solves run: local = whole jobs on worker actors in this process (Akka.NET local simulation); inprocess = a bounded parallel loop.");
        var workers = OptionFactory.Int("--workers", "Backend local: worker actors; each re-solve runs whole on one of them.", 2, "K");
        var seed = OptionFactory.ULong("--seed", "Seed of a generated instance and of the directions.", 1);
        var outDir = OptionFactory.Text("--out-dir", "Output directory (created if needed).", "sensitivity-out", "DIR");

        var command = new Command("sensitivity",
            "In-context-learning sensitivity: re-solve at A' = A + εΔ warm-started from x*(A) and report ‖x*(A') − x*(A)‖/ε and " +
            "‖f(A') − f(A)‖/ε per ε (the empirical Lipschitz constant) against the linearised prediction; writes report.json, " +
            "sensitivity.png, solution.npy.");
        command.Add(instance, problem, perturb, unit, n, d, reg, epsilons, draws, solver, shards, parallel, backend, workers, seed, outDir);
        command.SetAction(parse => Guard(ctx, () =>
        {
            var eps = List(parse.GetValue(epsilons)!).Select(e => double.TryParse(e, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                : throw new CliInputException("--epsilons", $"'{e}' is not a number")).ToArray();
            var options = new SensitivityOptions
            {
                Epsilons = eps, Draws = parse.GetValue(draws), Seed = parse.GetValue(seed), Solver = parse.GetValue(solver)!,
                Shards = parse.GetValue(shards), Parallelism = parse.GetValue(parallel),
            }.Validate();
            if (parse.GetValue(workers) < 1) throw new CliInputException("--workers", "must be at least 1");
            if (parse.GetValue(backend) == "local")
            {
                if (OptionFactory.Given(parse, shards) && parse.GetValue(shards) != 1)
                    throw new CliInputException("--shards", "backend local runs every re-solve whole on one worker: use --backend inprocess for sharded re-solves");
                options = WithWorkerJobs(options, parse.GetValue(workers));
            }
            if (parse.GetValue(reg) < 0) throw new CliInputException("--reg", "must be ≥ 0");
            string? dir = parse.GetValue(instance);
            var parts = parse.GetValue(perturb) is { } text ? List(text) : null;
            var p = Load(dir is null ? null : ctx.Resolve(dir), parse.GetValue(problem)!, parse.GetValue(unit)!, parse.GetValue(n), parse.GetValue(d),
                parse.GetValue(reg), options.Seed, parts);
            return Run(ctx, p, options, dir, parse.GetValue(reg), parse.GetValue(outDir)!);
        }));
        return command;
    }

    public static int Run(CliContext ctx, ISensitivityProblem problem, SensitivityOptions options, string? instanceDir, double reg, string outDirectory)
    {
        var output = ctx.Out;
        string outDir = OutputDirectory(ctx, outDirectory);
        output.WriteLine($"sensitivity: {problem.Name}, {problem.Rows} rows, {problem.Dimension} unknowns, w = {reg}; perturbing {string.Join(", ", problem.PerturbedParts)}; " +
                         $"{options.Draws} directions × {options.Epsilons.Count} sizes, solver {options.Solver}");
        var result = SensitivityAnalysis.Run(problem, options, log: m => output.WriteLine("  " + m), cancellation: ctx.Cancellation);
        Write(result, problem, instanceDir, reg, outDir, output, options.Execution);
        return ExitCodes.Ok;
    }

    /// <summary>Re-solves as whole jobs on a pool of worker actors: each perturbed problem is one shard on one worker.</summary>
    internal static SensitivityOptions WithWorkerJobs(SensitivityOptions options, int workers) => options with
    {
        RunJobs = (jobs, ct) =>
        {
            var loader = new InMemoryShardLoader();
            var local = jobs.Select((job, j) => new LocalJob(job.Problem.Register(loader, $"perturbation-{j}"),
                SolverCatalog.Create(job.Solver, job.Options), job.X0, job.Options)).ToArray();
            return LocalSimulation.SolveJobsAsync(loader, local, workers, ct: ct).GetAwaiter().GetResult();
        },
        Execution = $"local simulation: every re-solve is a whole job on one of {workers} worker actors",
    };

    internal static ISensitivityProblem Load(string? instanceDir, string problemName, string unitName, int n, int d, double reg, ulong seed,
        IReadOnlyList<string>? perturb)
    {
        if (Families.IsMatrix(problemName))
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
                    throw new CliInputException("--perturb", $"unknown matrix '{part}' (allowed: {string.Join(", ", MatrixSensitivityProblem.AllParts)})");
            return new MatrixSensitivityProblem(MatrixProblem.Create(problemName, mi.A1, mi.A2, mi.B, w), parts.ToArray());
        }
        if (perturb is { Count: > 0 } && !(perturb.Count == 1 && perturb[0] == "A"))
            throw new CliInputException("--perturb", "vector problems perturb A only");
        var unit = UnitCatalog.Parse(unitName);
        var family = Families.Create(problemName, unit);
        VectorInstance inst;
        if (instanceDir is not null) inst = Generators.ReadVectorInstance(instanceDir);
        else
        {
            inst = problemName switch
            {
                Families.Normalized => Generators.Normalized(n, d, seed, xScale: 1.0),
                Families.Rescaled => Generators.Rescaled(n, d, unit, seed),
                Families.Hyperbolic => Generators.Hyperbolic(n, d, unit, seed, noise: 0.1),
                _ => throw new CliInputException(CatalogOptions.ProblemOption, $"no generated instance for --problem {problemName}"),
            };
        }
        return new VectorProblem(family, inst.A, inst.B, reg > 0 ? Regularizer.Uniform(reg) : Regularizer.None);
    }

    private static void Write(SensitivityResult result, ISensitivityProblem problem, string? instanceDir, double reg, string outDir, TextWriter output,
        string execution)
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
            Execution = execution,
            result.Seconds,
        });
        output.WriteLine($"wrote {outDir}: report.json, sensitivity.png, solution.npy ({result.Seconds:F1} s)");
    }
}
