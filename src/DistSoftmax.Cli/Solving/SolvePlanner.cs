using DistSoftmax.Cli.Commands;
using DistSoftmax.Cli.Output;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core.Analysis;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Data;
using DistSoftmax.Data.Sources;

namespace DistSoftmax.Cli.Solving;

/// <summary>Where the solve runs.</summary>
/// <param name="Kind">"local" (actor simulation), "inprocess" or "cluster".</param>
/// <param name="Seeds">Cluster seed node addresses (cluster only).</param>
/// <param name="MinWorkers">Cluster worker nodes to wait for (cluster only).</param>
/// <param name="Host">Host the job's node binds (cluster only); null: DISTSOFTMAX_HOST, then cluster.conf (127.0.0.1).</param>
/// <param name="Port">Port the job's node binds (cluster only); null: DISTSOFTMAX_PORT. Without either, 0 (any free port),
/// so a job can run next to a worker node on the same machine.</param>
/// <param name="Credentials">Cluster credentials directory (cluster only; null: DISTSOFTMAX_CREDENTIALS).</param>
/// <param name="Insecure">Allow a non-loopback job node without credentials (cluster only).</param>
/// <param name="SeedTimeout">How long a cluster job waits for a seed to accept a connection; null: the HOCON default.</param>
internal sealed record BackendPlan(string Kind, IReadOnlyList<string> Seeds, int MinWorkers, string? Host, int? Port,
    TimeSpan? SeedTimeout = null, string? Credentials = null, bool Insecure = false);

/// <summary>The files a solve writes, all inside <see cref="Directory"/>: three always, the --save arrays when asked for.</summary>
internal sealed record OutputPaths(string Directory)
{
    public string X => Path.Combine(Directory, "x.npy");
    public string Report => Path.Combine(Directory, "report.json");
    public string Plot => Path.Combine(Directory, "convergence.png");
    public string Fitted => Path.Combine(Directory, "fitted.npy");
    public string Residual => Path.Combine(Directory, "residual.npy");
    public string Gradient => Path.Combine(Directory, "gradient.npy");
    public string Hessian => Path.Combine(Directory, "hessian.npy");
    public string HessianEigenvalues => Path.Combine(Directory, "hessian-eigenvalues.npy");
    /// <summary>Every file a run can write there (a run replaces them as a set, so a previous run's arrays go too).</summary>
    public IEnumerable<(string Name, string Path)> All =>
    [
        ("x", X), ("report", Report), ("plot", Plot), ("fitted", Fitted), ("residual", Residual), ("gradient", Gradient),
        ("hessian", Hessian), ("hessianEigenvalues", HessianEigenvalues),
    ];

    /// <summary>
    /// Refuses (exit 2, naming the file) before any work when the directory holds, under a name the solve writes or
    /// removes (<see cref="All"/>, and the checkpoint files when <paramref name="checkpoints"/>), a file that is not
    /// evidently the tool's own: one listed in "files" of the dist-softmax report.json there, or the checkpoint files
    /// beside a checkpoint.json the tool can read as its own record (<see cref="ResumeRecord.IsOwn"/>).
    /// </summary>
    public void RequireReplaceable(bool checkpoints)
    {
        var names = All.Select(o => System.IO.Path.GetFileName(o.Path));
        if (checkpoints) names = names.Concat([CheckpointWriter.FileName, ResumeRecord.FileName]);
        var listed = Output.OutputOwnership.Listed(Report);
        bool record = checkpoints && ResumeRecord.IsOwn(Directory);
        Output.OutputOwnership.Require(Directory, names,
            name => listed.Contains(name) || record && name is CheckpointWriter.FileName or ResumeRecord.FileName);
    }
}

/// <summary>A checked solve: everything the runner needs, all input read and validated.</summary>
internal sealed record SolvePlan(
    SolveSettings Settings,
    ProblemSource Source,
    SourceInspection Inspection,
    string Problem,
    string? Unit,
    bool IsMatrix,
    bool Demo,
    string Solver,
    string? SolverChoiceReason,
    SolverOptions Options,
    double[] X0,
    string Start,
    int Workers,
    BackendPlan Backend,
    OutputPaths Outputs,
    IReadOnlyDictionary<string, string> Inputs,
    IReadOnlyList<string> Warnings,
    PostSolveOutputs Save = PostSolveOutputs.None);

/// <summary>
/// Checks a solve's settings and input before anything runs or is written: option combinations, every input file
/// (shapes, values), the starting point, and that no output would overwrite an input. Throws
/// <see cref="CliInputException"/>, <see cref="DataFormatException"/> or <see cref="ArgumentException"/> (all exit 2).
/// </summary>
internal static class SolvePlanner
{
    /// <summary>Standard deviation of the default start of cosh problems (the library's, <see cref="SoftmaxRegression.DefaultStart"/>).</summary>
    public const double CoshStartScale = SoftmaxRegression.CoshStartScale;

    public static SolvePlan Plan(SolveSettings s, CliContext ctx, DataShardLoader loader)
    {
        string problem = s.Problem;
        bool matrix = DataSources.IsMatrixProblem(problem);
        bool hasUnit = DataSources.HasUnit(problem);
        var unit = CatalogOptions.UnitFor(problem, s.Unit, s.UnitGiven);
        if (s.WScalar is not null && (s.WVector is not null || s.WMatrix is not null))
            throw new CliInputException("--w-scalar", $"cannot be combined with {(s.WVector is not null ? "--w" : "--W")} (give one regulariser)");
        if (s.WScalar is double ws && !double.IsFinite(ws))
            throw new CliInputException("--w-scalar", $"must be a finite number (got {ws})");

        // Data files: which options belong to which kind of problem.
        var vectorFiles = new (string Option, string? Value)[] { ("--A", s.A), ("--b", s.BVector), ("--w", s.WVector) };
        var matrixFiles = new (string Option, string? Value)[] { ("--A1", s.A1), ("--A2", s.A2), ("--B", s.BMatrix), ("--W", s.WMatrix) };
        foreach (var (option, value) in matrix ? vectorFiles : matrixFiles)
            if (value is not null)
                throw new CliInputException(option, matrix
                    ? $"is for vector problems; --problem {problem} takes --A1, --A2, --B (and --W)"
                    : $"is for matrix problems (multiple-normalized, multiple-rescaled); --problem {problem} takes --A, --b (and --w)");

        var inputs = new Dictionary<string, string>();
        void Input(string option, string? path) { if (path is not null) inputs[option] = ctx.Resolve(path); }
        bool demo = false;
        ProblemSource source;
        if (matrix && s.Generated is { } generatedMatrix && matrixFiles.All(f => f.Value is null))
            source = WithWScalar(DataSources.Generated(generatedMatrix), s.WScalar);
        else if (matrix)
        {
            foreach (var (option, value) in matrixFiles[..3])
                if (value is null) throw new CliInputException(option, $"is required for --problem {problem}");
            Input("--A1", s.A1); Input("--A2", s.A2); Input("--B", s.BMatrix); Input("--W", s.WMatrix);
            source = DataSources.MatrixFiles(problem, inputs["--A1"], inputs["--A2"], inputs["--B"], inputs.GetValueOrDefault("--W"), s.WScalar);
        }
        else if (s.A is null && s.BVector is null)
        {
            if (s.WVector is not null) throw new CliInputException("--w", "needs the data files --A and --b");
            if (s.Generated is null && problem != Families.Normalized)
                throw new CliInputException("--A", $"is required for --problem {problem} (without data files, solve runs the built-in normalized demo)");
            demo = s.Generated is null;
            source = WithWScalar(DataSources.Generated(s.Generated ?? DataSources.DemoSpec), s.WScalar);
        }
        else
        {
            if (s.A is null) throw new CliInputException("--A", "is required with --b");
            if (s.BVector is null) throw new CliInputException("--b", "is required with --A");
            Input("--A", s.A); Input("--b", s.BVector); Input("--w", s.WVector);
            source = DataSources.VectorFiles(problem, unit, inputs["--A"], inputs["--b"], inputs.GetValueOrDefault("--w"), s.WScalar);
        }
        Input("--x0", s.X0);

        // Solver options (their own messages name the option), workers and backend.
        var options = s.Options.Validate();
        var backend = PlanBackend(s);
        int workers = s.Workers ?? ShardLayout.DefaultShards(onThisMachine: backend.Kind != JobOptions.Cluster);
        if (workers < 1) throw new CliInputException("--workers", $"must be at least 1 (got {workers})");
        if (workers > ShardLayout.MaxShards) throw new CliInputException("--workers", $"must be at most {ShardLayout.MaxShards} (got {workers})");
        if (backend.Kind != JobOptions.Cluster)
        {
            if (s.Credentials is not null) throw new CliInputException("--credentials", "is only used with --seeds (a cluster job)");
            if (s.Insecure) throw new CliInputException("--insecure", "is only used with --seeds (a cluster job)");
        }
        else backend = backend with { Credentials = Commands.CredentialsCommand.Check(ctx, s.Credentials), Insecure = s.Insecure };

        // Outputs: never over an input, never into a file.
        var save = PostSolvePass.ParseSave(s.Save);
        if (save != PostSolveOutputs.None && !s.Analysis)
            throw new CliInputException("--save", "its arrays come from the post-solve analysis, which --no-analysis skips");
        var outputs = new OutputPaths(ctx.Resolve(s.OutDir));
        OutputPathChecks.RequireCreatableDirectory(outputs.Directory);
        foreach (var (_, path) in outputs.All)
            OutputPathChecks.RequireNotAnInput(path, inputs.Select(i => (i.Key, (string?)i.Value)));

        // Every input value, then the starting point.
        var inspection = loader.Inspect(source);
        if (workers > inspection.Rows)
        {
            // A default larger than a tiny problem takes one worker per row; an explicit one is refused.
            if (s.Workers is null) workers = (int)Math.Max(1, inspection.Rows);
            else throw new CliInputException("--workers", $"must be at most the problem's {inspection.Rows} rows: each worker holds a shard of them (got {workers})");
        }
        PostSolvePass.CheckLimits(save, inspection.Unknowns);
        double[] x0;
        string start;
        bool logLinear = s.Start == StartChoices.LogLinear || (s.Start == StartChoices.Auto && problem == Families.MultipleNormalized);
        if (inputs.TryGetValue("--x0", out var x0Path))
        {
            if (s.StartGiven) throw new CliInputException("--start", "give either --x0 or --start, not both");
            x0 = ReadStart(x0Path, inspection, matrix);
            // The relative tolerance is measured at the default start (zeros; cosh's small random one), not at this x0
            // (SolverOptions.ToleranceReference): a far start's huge gradient would make it loose, a warm one's strict.
            var reference = SoftmaxRegression.DefaultStart((int)inspection.Unknowns, hasUnit && !matrix ? unit : null, options.Seed);
            options = options with { ToleranceReference = reference };
            start = $"file {x0Path}; --tol is relative to ‖∇L‖ at the default start ({(reference.Any(v => v != 0) ? "cosh's random start" : "zeros")})";
        }
        else if (logLinear)
        {
            if (problem != Families.MultipleNormalized)
                throw new CliInputException("--start", $"log-linear is for {Families.MultipleNormalized} (its rows of B are distributions), not --problem {problem}");
            // The workers compute it as the solve's first request (SolverOptions.LogLinearStart); x0 is its placeholder.
            x0 = new double[inspection.Unknowns];
            options = options with { LogLinearStart = true };
            start = "log-linear: least squares of the rows' centred log B, computed by the workers";
        }
        else if (s.Start != StartChoices.Zeros && hasUnit && UnitCatalog.IsStationaryAtZero(unit))
        {
            // u′(0) = 0 (cosh, which is even, so L(x) = L(−x)) makes x = 0 a stationary point (∇L(0) = 0): start slightly off it.
            x0 = SoftmaxRegression.DefaultStart((int)inspection.Unknowns, unit, options.Seed);
            start = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"random N(0, {CoshStartScale}²) entries from --seed {options.Seed} (x = 0 is a stationary point of {unit.Name()} problems)");
        }
        else
        {
            x0 = new double[inspection.Unknowns];
            start = "zeros";
        }

        var warnings = inspection.Warnings.ToList();
        if (problem == Families.Rescaled && UnitCatalog.VanishesAtZero(unit) && start == "zeros")
            warnings.Add($"--x0: rescaled regression with u = {unit.Name()} has the trivial minimiser x = 0 ({unit.Name()}(0) = 0 makes u − ⟨u,1⟩b and the loss 0), " +
                         "and the default start is that point; give --x0 to look for another zero of the loss");

        var (solver, reason) = ChooseSolver(s, matrix, inspection, ref options);
        if (options.Globalization == GlobalizationMode.TrustRegion && !SolverCatalog.IsNewtonType(solver))
            throw new CliInputException("--globalization", $"trust-region is for the Newton-type solvers ({string.Join(", ", SolverCatalog.Names.Where(SolverCatalog.IsNewtonType))}), not --solver {solver}");
        return new SolvePlan(s, source, inspection, problem, hasUnit ? unit.Name() : null, matrix, demo, solver, reason,
            options, x0, start, workers, backend, outputs, inputs, warnings, save);
    }

    /// <summary>A generated source with the regulariser weight of --w-scalar (when given).</summary>
    private static ProblemSource WithWScalar(ProblemSource source, double? wScalar) => wScalar is double w
        ? ProblemSource.Create(source.Kind, source.Parameters.Append(KeyValuePair.Create("w-scalar", w.ToString("R", System.Globalization.CultureInfo.InvariantCulture))))
        : source;

    private static BackendPlan PlanBackend(SolveSettings s) =>
        SolveBackends.Plan(s.Backend, s.BackendGiven, s.Seeds, s.MinWorkers, s.Host, s.Port, s.SeedTimeout);

    /// <summary>Checks seed addresses (host:port or akka.tcp://distsoftmax@host:port, comma-separated) as the cluster will read them.</summary>
    public static string[] ParseSeeds(string text)
    {
        var seeds = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (seeds.Length == 0) throw new CliInputException("--seeds", "no seed address given (expected HOST:PORT or akka.tcp://distsoftmax@HOST:PORT, comma-separated)");
        foreach (string seed in seeds)
        {
            try { DistSoftmaxConfig.SeedAddresses([seed]); }
            catch (ArgumentException) { throw new CliInputException("--seeds", $"'{seed}' is not a seed address (expected HOST:PORT or akka.tcp://distsoftmax@HOST:PORT)"); }
        }
        return seeds;
    }

    /// <summary>The starting point: d values for a vector problem; a d×d matrix (or d² values) for a matrix problem.</summary>
    private static double[] ReadStart(string path, SourceInspection inspection, bool matrix)
    {
        if (matrix)
        {
            var m = MatrixFile.ReadMatrix(path);
            int d = inspection.Columns;
            if (m.Rows == d && m.Cols == d) return m is DenseMatrix dm ? dm.Data : ((CsrMatrix)m).ToDense().Data;
            if ((long)m.Rows * m.Cols == inspection.Unknowns && (m.Rows == 1 || m.Cols == 1))
                return m is DenseMatrix v ? v.Data : ((CsrMatrix)m).ToDense().Data;
            throw new DataFormatException(path, $"is {m.Rows}×{m.Cols} but the starting point must be {d}×{d} (X is d×d with d = columns of A1)");
        }
        var x0 = MatrixFile.ReadVector(path);
        if (x0.Length != inspection.Unknowns)
            throw new DataFormatException(path, $"has {x0.Length} entries but the problem has {inspection.Unknowns} unknowns (the columns of A)");
        return x0;
    }

    /// <summary>
    /// Vector problems: <see cref="VectorSolverChoice"/> (a cost model of n, d and nnz). Matrix problems: <see cref="MatrixSolverChoice"/> picks (or checks) the
    /// solver and recommends a Hessian, used unless --hessian was given; its reason goes into the report.
    /// </summary>
    private static (string Solver, string? Reason) ChooseSolver(SolveSettings s, bool matrix, SourceInspection inspection, ref SolverOptions options)
    {
        if (!matrix)
        {
            var vector = VectorSolverChoice.Choose(inspection.Rows, inspection.Columns, inspection.Shape.Objective.StoredEntries, options, s.Solver);
            return (vector.Solver, vector.Reason);
        }
        var choice = MatrixSolverChoice.Choose(inspection.Columns, s.Solver); // a ParameterException names --solver
        string reason = choice.Reason;
        if (!s.HessianGiven) options = options with { Hessian = choice.Hessian };
        else reason += $" (--hessian {Kebab(options.Hessian)} given)";
        return (choice.Solver, reason);
    }

    private static string Kebab(HessianMode mode) => System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(mode.ToString());
}
