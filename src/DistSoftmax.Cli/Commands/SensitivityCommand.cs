using System.CommandLine;
using System.Globalization;
using DistSoftmax.Cli.Output;
using DistSoftmax.Cli.Solving;
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
/// <c>dist-softmax sensitivity</c>: the in-context-learning Lipschitz constants of x*(θ) (<see cref="SensitivityAnalysis"/>,
/// docs/MATH.md "Sensitivity: derivatives in the data") on the input <c>solve</c> takes (the same options, checked by
/// <see cref="SolvePlanner"/>) or on a generated instance. Reports under report.json's <c>lipschitz</c>: the worst case
/// ‖dx*/dθ‖₂ over ‖Δθ‖_F = 1 (Lanczos on J Jᵀ with Hessian solves, or Davidson on its pencil K w = θ H² w with
/// Hessian-vector products where H is solved by preconditioned CG) with its direction (worst-direction.npy), the
/// random-direction ratios, finite-ε re-solves along the worst direction, and the fixed-x constants of f, L and ∇L.
/// The re-solves are independent whole jobs: with --backend local (the default) each runs on one of --workers worker
/// actors (<see cref="LocalSimulation.SolveJobsAsync"/>); with --backend inprocess in a bounded Parallel.ForEach.
/// </summary>
internal static class SensitivityCommand
{
    /// <summary>Values of --hessian-solve.</summary>
    private const string HessianAuto = "auto", HessianDense = "dense", HessianCg = "cg";

    /// <summary>Default sizes of a generated instance (the command's historical ones).</summary>
    private const int DefaultRows = 400, DefaultColumns = 10;

    /// <summary>
    /// Largest --draws: each draw is a Hessian solve and one re-solve per --epsilons value (3 by default), so the bound
    /// is 3000 re-solves (a sweep allows 10000 solves); the default is 4.
    /// </summary>
    public const int MaxDraws = 1000;

    /// <summary>Tolerances of the base solve and every re-solve: the finite differences divide solution changes by ε ≥ 1e-5.</summary>
    private static readonly SolverOptions Tight = new SensitivityOptions().SolverOptions;

    public static Command Build(CliContext ctx)
    {
        var inputs = new ProblemInputOptions("The problem family. Without data files, a generated instance (--n, --d, --seed, as 'generate' makes it).");
        var instance = OptionFactory.File("--instance",
            "Alias: an instance directory from 'generate' (A.npy or A.mtx and b.npy; matrix problems A1.npy, A2.npy, B.npy).", "DIR");
        var perturb = OptionFactory.File("--perturb", "Matrix problems: comma-separated matrices to perturb (default A1,A2,B); vector problems perturb A.", "LIST");
        var n = OptionFactory.Int("--n", "Generated instance: rows (matrix problems: A1, A2 n×d and B n×n).", DefaultRows);
        var d = OptionFactory.Int("--d", "Generated instance: columns (matrix problems: X is d×d).", DefaultColumns, "D");
        var sparse = OptionFactory.Flag("--sparse", "Generated vector instance: a sparse A.");
        var density = OptionFactory.Double("--density", "With --sparse: the probability that an entry of A is non-zero.", 0.1, "P");
        var planted = OptionFactory.Flag("--planted", "Generated instance without noise (x_true an exact zero of the loss).");
        var noise = OptionFactory.OptionalDouble("--noise", "Generated instance: noise level (as for 'generate').", "R");
        var xScale = OptionFactory.OptionalDouble("--x-scale", "Generated instance: standard deviation of the entries of x_true (default: 1).", "S");
        var epsilons = OptionFactory.Text("--epsilons", "Comma-separated sizes ε = ‖θ' − θ‖_F of the random-direction re-solves.", "1e-3,1e-4,1e-5", "LIST");
        var worstEpsilons = OptionFactory.Text("--worst-epsilons", "Comma-separated sizes ε of the re-solves along the worst direction.", "1e-3,1e-4,1e-5", "LIST");
        var draws = OptionFactory.Int("--draws", "Random perturbation directions (each used at every ε).", 4);
        var solver = OptionFactory.Choice("--solver",
            $"Solver of the base solve and every re-solve (warm-started from x*); when not given, newton up to {HessianSolve.DenseMaxDimension} unknowns and newton-cg above.",
            "newton", SolverCatalog.Names);
        var hessianSolve = OptionFactory.Choice("--hessian-solve",
            $"How the Hessian at x* is solved: dense (formed and factorised), cg (conjugate gradients on Hessian-vector products, eigenvalues by Lanczos), " +
            $"auto (dense up to {HessianSolve.DenseMaxDimension} unknowns).", HessianAuto, HessianAuto, HessianDense, HessianCg);
        var maxIter = OptionFactory.Int("--max-iter", "Most iterations of every solve.", Tight.MaxIterations);
        var worstSteps = OptionFactory.Int("--worst-steps",
            "Most steps of the worst case's eigensolver (Lanczos: two Hessian solves each; Davidson, with --hessian-solve cg on a matrix problem: two Hessian-vector products each); stopped there before convergence the constant is a lower bound (a warning).",
            OperatorNorm.MaxSteps, "K");
        var shards = OptionFactory.Int("--shards", "Row shards per solve.", 1, "K");
        var parallel = OptionFactory.Int("--parallel", "Backend inprocess: solves run at once (0: the processor count).", 0, "P");
        var backend = JobOptions.Backend(
            "Where the re-solves run: local = whole jobs on worker actors in this process (Akka.NET local simulation); inprocess = a bounded parallel loop.");
        var workers = OptionFactory.Int("--workers", "Backend local: worker actors; each re-solve runs whole on one of them.", 2, "K");
        var seed = OptionFactory.ULong("--seed", "Seed of a generated instance, of the random directions and of the Lanczos start.", 1);
        var outDir = OptionFactory.Text("--out-dir", "Output directory (created if needed).", "sensitivity-out", "DIR").NonEmptyPath();

        var command = new Command("sensitivity",
            "Lipschitz constants of the solution x*(θ) in the data θ (A; or A1, A2, B): the worst case ‖dx*/dθ‖₂ over ‖Δθ‖_F = 1 " +
            "(Lanczos with Hessian solves, or Davidson on Hessian-vector products) and its direction, random-direction ratios, re-solves along the worst direction, and the " +
            "fixed-x constants of the attention row f, the loss L and ∇L. Takes solve's input options; no regulariser unless " +
            "--w/--w-scalar/--W is given. Writes report.json, sensitivity.png, x.npy, worst-direction.npy. Exit 3 when the base solve did not converge or a re-solve is inaccurate; exit 5 (nothing written) when conjugate gradients on the Hessian at x* do not converge.");
        command.Add([.. inputs.All, instance, perturb, n, d, sparse, density, planted, noise, xScale, epsilons, worstEpsilons, draws, solver, maxIter,
            hessianSolve, worstSteps, shards, parallel, backend, workers, seed, outDir]);
        command.SetAction(parse => Guard(ctx, () =>
        {
            var options = new SensitivityOptions
            {
                Epsilons = Numbers(parse.GetValue(epsilons)!, "--epsilons"), WorstCaseEpsilons = Numbers(parse.GetValue(worstEpsilons)!, "--worst-epsilons"),
                Draws = parse.GetValue(draws), Seed = parse.GetValue(seed), Solver = parse.GetValue(solver)!,
                SolverOptions = Tight with { MaxIterations = parse.GetValue(maxIter) },
                Shards = parse.GetValue(shards), Parallelism = parse.GetValue(parallel),
                WorstCaseMaxSteps = parse.GetValue(worstSteps),
                DenseHessianMaxDimension = parse.GetValue(hessianSolve) switch
                {
                    HessianDense => int.MaxValue, HessianCg => 0, _ => HessianSolve.DenseMaxDimension,
                },
            }.Validate();
            if (options.Draws > MaxDraws) throw new CliInputException("--draws", $"{options.Draws} is too large (at most {MaxDraws})");
            if (parse.GetValue(workers) < 1) throw new CliInputException("--workers", "must be at least 1");
            // Each backend has its own way to run re-solves side by side; an option of the other one is refused, not ignored.
            if (parse.GetValue(backend) == JobOptions.Local)
            {
                if (OptionFactory.Given(parse, shards) && parse.GetValue(shards) != 1)
                    throw new CliInputException("--shards", "backend local runs every re-solve whole on one worker: use --backend inprocess for sharded re-solves");
                if (OptionFactory.Given(parse, parallel))
                    throw new CliInputException("--parallel", "applies only to --backend inprocess; backend local runs the re-solves on --workers worker actors");
                options = WithWorkerJobs(options, parse.GetValue(workers));
            }
            else if (OptionFactory.Given(parse, workers))
                throw new CliInputException("--workers", "applies only to --backend local (worker actors); backend inprocess runs the re-solves in a parallel loop: use --parallel for the solves run at once");
            if (OptionFactory.Given(parse, density) && !parse.GetValue(sparse)) throw new CliInputException("--density", "is only used with --sparse");

            var settings = inputs.Bind(parse, new SolveSettings
            {
                // Without --solver the planner checks the input for "auto"; the solver is chosen by size below.
                Solver = OptionFactory.Given(parse, solver) ? options.Solver : "auto", Options = options.SolverOptions with { Seed = options.Seed }, HessianGiven = true,
                Backend = JobOptions.InProcess, Workers = 1, OutDir = parse.GetValue(outDir)!,
                Arguments = parse.Tokens.Select(t => t.Value).ToArray(),
            });
            settings = WithInstance(settings, parse.GetValue(instance) is { } dir ? ctx.Resolve(dir) : null);
            if (new[] { settings.A, settings.BVector, settings.A1, settings.A2, settings.BMatrix }.Any(f => f is not null))
                foreach (Option option in new Option[] { n, d, sparse, density, planted, noise, xScale })
                    if (OptionFactory.Given(parse, option))
                        throw new CliInputException(option.Name, "describes a generated instance, but data files were given");
            var unit = CatalogOptions.UnitFor(settings.Problem, settings.Unit, settings.UnitGiven);
            settings = settings with
            {
                Generated = new GeneratedSpec(settings.Problem, unit, parse.GetValue(n), parse.GetValue(d), parse.GetValue(seed), parse.GetValue(sparse),
                    parse.GetValue(density), parse.GetValue(planted), parse.GetValue(noise), parse.GetValue(xScale) ?? 1.0),
            };
            var loader = new DataShardLoader();
            var plan = SolvePlanner.Plan(settings, ctx, loader);
            var parts = parse.GetValue(perturb) is { } text ? PerturbedParts(text) : null;
            var problem = Load(plan, loader, parts);
            // Exact Newton forms the dense Hessian every iteration: above the dense size the default is Newton-CG.
            if (!OptionFactory.Given(parse, solver) && problem.Dimension > HessianSolve.DenseMaxDimension)
                options = options with { Solver = "newton-cg" };
            return Run(ctx, problem, plan, options);
        }));
        return command;
    }

    /// <summary>--perturb's list: at least one name, none twice (which matrices exist is checked with the problem).</summary>
    private static string[] PerturbedParts(string text)
    {
        var parts = List(text);
        if (parts.Length == 0) throw new CliInputException("--perturb", "names no matrix (e.g. A1,A2,B)");
        if (parts.GroupBy(p => p, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new CliInputException("--perturb", $"{twice.Key} is listed twice");
        return parts;
    }

    /// <summary>A comma-separated list of numbers, none twice (a repeated ε would only repeat its re-solves).</summary>
    private static double[] Numbers(string text, string option)
    {
        var values = List(text).Select(e =>
            double.TryParse(e, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                : throw new CliInputException(option, $"'{e}' is not a number")).ToArray();
        if (values.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new CliInputException(option, $"{twice.Key.ToString(CultureInfo.InvariantCulture)} is listed twice");
        return values;
    }

    /// <summary>--instance DIR: the data files of a 'generate' directory, as if given by --A/--b or --A1/--A2/--B.</summary>
    private static SolveSettings WithInstance(SolveSettings s, string? dir)
    {
        if (dir is null) return s;
        if (new[] { s.A, s.BVector, s.A1, s.A2, s.BMatrix }.Any(f => f is not null))
            throw new CliInputException("--instance", "cannot be combined with data files (--A, --b, --A1, --A2, --B): give one or the other");
        if (!Directory.Exists(dir)) throw new CliInputException("--instance", $"{dir} is not a directory");
        if (Families.IsMatrix(s.Problem))
            return s with
            {
                A1 = Path.Combine(dir, Generators.A1File), A2 = Path.Combine(dir, Generators.A2File), BMatrix = Path.Combine(dir, Generators.BMatrixFile),
            };
        string dense = Path.Combine(dir, Generators.AFileDense), sparse = Path.Combine(dir, Generators.AFileSparse);
        return s with { A = File.Exists(dense) || !File.Exists(sparse) ? dense : sparse, BVector = Path.Combine(dir, Generators.BFile) };
    }

    /// <summary>The checked problem held in memory: data files read whole, or the generated instance.</summary>
    internal static ISensitivityProblem Load(SolvePlan plan, DataShardLoader loader, IReadOnlyList<string>? perturb)
    {
        var source = plan.Source;
        double? wScalar = source.Get("w-scalar") is string w ? double.Parse(w, CultureInfo.InvariantCulture) : null;
        if (plan.IsMatrix)
        {
            var parts = perturb is { Count: > 0 } ? perturb : MatrixSensitivityProblem.AllParts;
            foreach (var part in parts)
                if (!MatrixSensitivityProblem.AllParts.Contains(part))
                    throw new CliInputException("--perturb", $"unknown matrix '{part}' (allowed: {string.Join(", ", MatrixSensitivityProblem.AllParts)})");
            DenseMatrix a1, a2, b;
            DenseMatrix? weights = null;
            if (source.Kind == DataSources.GeneratedKind)
            {
                var inst = (MatrixInstance)loader.Generated(source);
                (a1, a2, b) = (inst.A1, inst.A2, inst.B);
            }
            else
            {
                (a1, a2, b) = (MatrixFile.ReadDense(source.Require("A1")), MatrixFile.ReadDense(source.Require("A2")), MatrixFile.ReadDense(source.Require("B")));
                if (source.Get("W") is string wPath) weights = MatrixFile.ReadDense(wPath);
            }
            if (wScalar is double ws)
            {
                weights = new DenseMatrix(b.Rows, b.Cols);
                Array.Fill(weights.Data, ws);
            }
            return new MatrixSensitivityProblem(MatrixProblem.Create(plan.Problem, a1, a2, b, weights), parts.ToArray());
        }
        if (perturb is { Count: > 0 } && !(perturb.Count == 1 && perturb[0] == "A"))
            throw new CliInputException("--perturb", "vector problems perturb A only");
        var family = Families.Create(plan.Problem, DataSources.UnitOf(source));
        IRowMatrix a;
        double[] target;
        var regularizer = wScalar is double scalar ? Core.Shards.Regularizer.Uniform(scalar) : Core.Shards.Regularizer.None;
        if (source.Kind == DataSources.GeneratedKind)
        {
            var inst = (VectorInstance)loader.Generated(source);
            (a, target) = (inst.A, inst.B);
        }
        else
        {
            (a, target) = (MatrixFile.ReadMatrix(source.Require("A")), MatrixFile.ReadVector(source.Require("b")));
            if (source.Get("w") is string wPath) regularizer = Core.Shards.Regularizer.PerRow(MatrixFile.ReadVector(wPath));
        }
        return new VectorProblem(family, a, target, regularizer);
    }

    public static int Run(CliContext ctx, ISensitivityProblem problem, SolvePlan plan, SensitivityOptions options)
    {
        var output = ctx.Out;
        string outDir = OutputDirectory(ctx, plan.Outputs.Directory);
        // Before the analysis: the outputs replace only an earlier run's files (listed by its report.json), never the user's.
        OutputOwnership.RequireListed(outDir, "report.json", OutputNames);
        foreach (var warning in plan.Warnings) ctx.Err.WriteLine($"warning: {warning}");
        string regularizer = RegularizerText(plan.Source);
        output.WriteLine($"sensitivity: {problem.Name}, {problem.Rows} rows, {problem.Dimension} unknowns, {regularizer}; perturbing " +
                         $"{string.Join(", ", problem.PerturbedParts)}; solver {options.Solver}, start {plan.Start}");
        var result = SensitivityAnalysis.Run(problem, options, plan.X0, log: m => output.WriteLine("  " + m), cancellation: ctx.Cancellation);
        var files = Write(result, problem, plan, regularizer, outDir, options);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"worst case ‖dx*/dθ‖₂ = {result.WorstCase.Constant:G6}; random directions up to {result.Summary.Max(s => s.MaxSolutionRatio):G6}; " +
            $"fixed x*: f {result.FixedX.Output.Value:G6}, L {result.FixedX.Loss.Value:G6}, ∇L {result.FixedX.Gradient.Value:G6}"));
        output.WriteLine($"wrote {outDir}: {string.Join(", ", files.Select(Path.GetFileName))} ({result.Seconds:F1} s)");
        // A re-solve counts when its solution error, at most ‖∇L‖/|λ_min(H)| to first order, is small against its change ‖Δx‖:
        // warm-started re-solves often end "stalled" at the loss's rounding with an accurate x.
        double lambda = Math.Max(Math.Abs(result.HessianMinEigenvalue), Core.NumericLimits.Tiny);
        int inaccurate = result.Perturbations.Count(p => p.GradientNorm / lambda > ResolveAccuracy * p.SolutionChange)
                         + result.WorstCase.FiniteDifference.Count(c => c.GradientNorm / lambda > ResolveAccuracy * c.Ratio * c.Epsilon);
        if (!result.WorstCase.Converged)
            ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"warning: the worst case stopped at --worst-steps {options.WorstCaseMaxSteps} before converging: {result.WorstCase.Constant:G6} is a lower bound on ‖dx*/dθ‖₂"));
        if (!result.BaseSolve.Converged)
            ctx.Err.WriteLine($"warning: the base solve stopped without meeting the tolerance ({ExitReasons.Name(result.BaseSolve.Exit)}: {result.BaseSolve.Message}); the constants are not at a solution");
        if (inaccurate > 0)
            ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"warning: {inaccurate} re-solve(s) ended with ‖∇L‖/|λ_min| above {ResolveAccuracy:G} of their ‖Δx‖; their ratios are inaccurate (see report.json)"));
        return result.BaseSolve.Converged && inaccurate == 0 ? ExitCodes.Ok : ExitCodes.NotConverged;
    }

    /// <summary>Every file sensitivity can write into --out-dir (the worst direction per perturbed matrix on a matrix problem).</summary>
    private static readonly string[] OutputNames =
    [
        "report.json", "sensitivity.png", "x.npy", "worst-direction.npy",
        .. MatrixSensitivityProblem.AllParts.Select(part => $"worst-direction-{part}.npy"),
    ];

    /// <summary>Largest first-order solution error ‖∇L‖/|λ_min(H)| of a re-solve, relative to its change ‖Δx‖.</summary>
    private const double ResolveAccuracy = 1e-3;

    private static string RegularizerText(ProblemSource source) =>
        source.Get("w-scalar") is string w ? $"w = {w} on every row"
        : source.Get("w") is string file ? $"per-row weights w from {file}"
        : source.Get("W") is string matrix ? $"per-entry weights W from {matrix}"
        : "no regulariser";

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

    private static IReadOnlyList<string> Write(SensitivityResult result, ISensitivityProblem problem, SolvePlan plan, string regularizer, string outDir,
        SensitivityOptions options)
    {
        Directory.CreateDirectory(outDir);
        var files = new List<string> { Path.Combine(outDir, "report.json"), Path.Combine(outDir, "sensitivity.png"), Path.Combine(outDir, "x.npy") };
        Npy.Write(files[2], result.Solution);
        // Δ* as the perturbed matrices' shapes: one file for A (n×d); per matrix for matrix problems (jointly of unit norm),
        // each written from its block of the flattened direction (no copy: B's block is m×n).
        var shapes = problem.PartShapes;
        var directionFiles = new Dictionary<string, string>();
        int offset = 0;
        for (int i = 0; i < shapes.Count; i++)
        {
            string name = shapes.Count == 1 && problem.PerturbedParts[i] == "A" ? "worst-direction.npy" : $"worst-direction-{problem.PerturbedParts[i]}.npy";
            string path = Path.Combine(outDir, name);
            var (rows, cols) = shapes[i];
            Npy.Write(path, result.WorstCase.Direction.AsMemory(offset, rows * cols), rows, cols);
            offset += rows * cols;
            directionFiles[problem.PerturbedParts[i]] = path;
            files.Add(path);
        }
        NetworkPlots.Sensitivity(files[1], result);
        var i0 = plan.Inspection;
        ReportEnvelope.Write(files[0], "sensitivity", plan.Settings.Arguments, new
        {
            Problem = plan.Problem,
            plan.Unit,
            Source = SourceReport.From(plan.Source),
            Inputs = plan.Inputs,
            Sizes = new { N = i0.Rows, D = i0.Columns, i0.Unknowns, Nnz = i0.NonZeros, i0.TargetColumns },
            Regularizer = regularizer,
            plan.Start,
            Solver = options.Solver,
            SolverOptions = options.SolverOptions,
            Warnings = plan.Warnings,
            BaseSolve = new
            {
                result.BaseSolve.Exit, result.BaseSolve.Message, result.BaseSolve.Iterations, result.BaseSolve.Loss, result.BaseSolve.GradientNorm,
                SolutionNorm = Math.Sqrt(result.Solution.Sum(v => v * v)),
            },
            Hessian = new
            {
                Min = result.HessianMinEigenvalue, Max = result.HessianMaxEigenvalue, PositiveDefinite = result.HessianPositiveDefinite,
                Method = result.HessianMethod,
            },
            Perturbed = problem.PerturbedParts,
            Norm = "Frobenius: ‖Δθ‖ = √(Σ‖ΔM_i‖²_F) over the perturbed matrices; every constant is an operator norm over ‖Δθ‖ = 1",
            Lipschitz = new
            {
                WorstCase = result.WorstCase.Constant,
                WorstCaseMethod = new
                {
                    Formula = result.WorstCase.Eigensolver == WorstCaseSensitivity.Davidson
                        ? "‖J‖₂, J = dx*/dθ = −H⁻¹ ∂∇L/∂θ at x*, by Davidson on the pencil K w = θ H² w (K = (∂∇L/∂θ)(∂∇L/∂θ)ᵀ, ‖J‖₂² = θ_max) with Hessian-vector products"
                        : "‖J‖₂, J = dx*/dθ = −H⁻¹ ∂∇L/∂θ at x*, by Lanczos on J Jᵀ with Hessian solves",
                    Eigensolver = result.WorstCase.Eigensolver.ToLowerInvariant(),
                    result.WorstCase.Steps,
                    result.WorstCase.Converged,
                },
                WorstDirection = directionFiles,
                RandomDirections = new
                {
                    options.Draws,
                    PredictedSolutionRatio = result.PredictedSolutionRatio,
                    PredictedOutputRatio = result.PredictedOutputRatio,
                    PerEpsilon = result.Summary,
                    Perturbations = result.Perturbations,
                },
                FiniteDifference = result.WorstCase.FiniteDifference,
                FixedX = new
                {
                    At = "x*",
                    Output = result.FixedX.Output,
                    Loss = result.FixedX.Loss,
                    Gradient = result.FixedX.Gradient,
                },
            },
            Execution = options.Execution,
            result.Parallelism,
            result.Seconds,
            // Absolute paths of the files written (this report among them): what a later run into --out-dir may replace.
            Files = files,
        });
        return files;
    }
}
