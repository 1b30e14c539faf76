using System.CommandLine;
using DistSoftmax.Cli.Solving;
using System.CommandLine.Parsing;
using DistSoftmax.Core;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data.Sources;
using DistSoftmax.Core.Shards;

namespace DistSoftmax.Cli.Commands;

/// <summary>The <c>solve</c> command: options, binding to <see cref="SolveSettings"/>, and the action.</summary>
internal sealed class SolveCommand
{
    private static readonly SolverOptions Defaults = new();

    /// <summary>The problem and data options, shared with sensitivity (<see cref="ProblemInputOptions"/>).</summary>
    private readonly ProblemInputOptions _inputs = new(
        "The problem family. Without data files, solve runs the built-in demo (normalized, n = 20000, d = 50).");
    private Option<string> _problem => _inputs.Problem;
    private Option<string> _unit => _inputs.Unit;
    private Option<string?> _a => _inputs.A;
    private Option<string?> _b => _inputs.BVector;
    private Option<string?> _w => _inputs.WVector;
    private Option<string?> _a1 => _inputs.A1;
    private Option<string?> _a2 => _inputs.A2;
    private Option<string?> _bMatrix => _inputs.BMatrix;
    private Option<string?> _wMatrix => _inputs.WMatrix;
    private Option<double?> _wScalar => _inputs.WScalar;
    private Option<string?> _x0 => _inputs.X0;
    private readonly Option<string> _solver = OptionFactory.Choice("--solver",
        "The solver. auto = the least predicted solve time among newton, approx-newton, newton-cg and lbfgs for vector problems (report.json gives the predictions); for matrix problems newton while d² ≤ 1024, else approx-newton (Newton-CG preconditioned by the Kronecker-factored curvature).",
        "auto", ["auto", .. SolverCatalog.Names]);
    private readonly Option<double> _tol = OptionFactory.Double("--tol", "Relative tolerance: converged when ‖∇L(x)‖ ≤ tol·‖∇L(x0)‖ (or ≤ --abs-tol); with --x0, ‖∇L‖ at the default start instead of at x0.", Defaults.RelativeTolerance);
    private readonly Option<double> _absTol = OptionFactory.Double("--abs-tol", "Absolute tolerance on ‖∇L(x)‖.", Defaults.AbsoluteTolerance);
    private readonly Option<int> _maxIter = OptionFactory.Int("--max-iter", "Most iterations before stopping (exit code 3).", Defaults.MaxIterations);
    private readonly Option<int> _stallIter = OptionFactory.Int("--stall-iter", "Stop (stalled) after this many iterations without a decrease of the loss.", Defaults.StallIterations);
    private readonly Option<int?> _workers = OptionFactory.OptionalInt("--workers",
        $"Row shards (one worker each). Default: one per core of this machine, at most {ShardLayout.MostDefaultShards} (local and inprocess backends); {ShardLayout.MostDefaultShards} on a cluster.", "K");
    private readonly Option<ulong> _seed = OptionFactory.ULong("--seed", "Seed of the solver's random choices (sketches, projections, row samples).", Defaults.Seed);
    private readonly Option<string> _outDir = OptionFactory.Text("--out-dir", "Directory for x.npy, report.json and convergence.png (created if needed).", "out", "DIR").NonEmptyPath();
    private readonly Option<string?> _save = new("--save")
    {
        Description = "Arrays at the solution to write into --out-dir as .npy, a comma list of: fitted (the model's fitted values), " +
                      "residual (the loss's residual), gradient (∇L(x*)), hessian (∇²L(x*) and its ascending eigenvalues; " +
                      $"up to {Core.Analysis.PostSolveEvaluator.MaxHessianUnknowns} unknowns).",
        HelpName = "NAMES",
    };
    private readonly Option<string> _hessian = OptionFactory.Choice("--hessian",
        "Curvature of Newton-type solvers: auto (Gauss–Newton far from the solution, exact near it), exact, gauss-newton.",
        "auto", SolverCatalog.HessianNames);
    private readonly Option<string> _globalization = OptionFactory.Choice("--globalization",
        "Newton-type solvers: trust-region (Moré–Sorensen on explicit Hessians, Steihaug–Toint CG for newton-cg) or line-search (backtracking inside the trust radius); auto = line-search (measured: fewer passes over A).",
        "auto", SolverCatalog.GlobalizationNames);
    private readonly Option<double> _trustRadius = OptionFactory.Double("--trust-radius",
        "Newton-type solvers: the first trust-region radius, or with --globalization line-search the longest first trial step ‖t·p‖; in the units of x (Infinity: no cap).",
        Defaults.TrustRadius);
    private readonly Option<double> _epsilon = OptionFactory.Double("--epsilon", "approx-newton: spectral accuracy ε of the sampled Hessian, in (0, 1).", Defaults.SamplingEpsilon);
    private readonly Option<double> _delta = OptionFactory.Double("--delta", "approx-newton: failure probability δ of the sampling guarantee, in (0, 1).", Defaults.SamplingDelta);
    private readonly Option<double> _oversampling = OptionFactory.Double("--oversampling", "approx-newton: constant c of the sample size c·ε⁻²·d·ln(d/δ).", Defaults.Oversampling);
    private readonly Option<int> _sketchFactor = OptionFactory.Int("--sketch-factor", "approx-newton's sampled step: CountSketch rows per column of A for its first leverage scores; 0 (the default) samples the first iteration uniformly and takes every later estimate from the previous sampled Gram.", Defaults.SketchRowsPerColumn);
    private readonly Option<int> _kroneckerRows = OptionFactory.Int("--kronecker-rows", "approx-newton for matrix problems: rows per column of X in a leverage-score sample the Kronecker factors are summed over (N·d rows in expectation, each weighted by its inverse probability); 0 (the default, faster on the measured instances) sums every row.", Defaults.KroneckerRowsPerColumn);
    private readonly Option<int> _projectionColumns = OptionFactory.Int("--projection-columns", "approx-newton: columns of the leverage projection (0 = ⌈ln n⌉ in [8, 32]).", Defaults.ProjectionColumns);
    private readonly Option<bool> _uniformSampling = OptionFactory.Flag("--uniform-sampling", "approx-newton: sample rows uniformly instead of by leverage score (for comparison).");
    private readonly Option<int> _lbfgsMemory = OptionFactory.Int("--lbfgs-memory", "lbfgs: number of correction pairs kept.", Defaults.LbfgsMemory);
    private readonly Option<int> _maxCg = OptionFactory.Int("--max-cg", "newton-cg: most CG iterations per step (0 = the number of unknowns).", Defaults.MaxCgIterations);
    private readonly Option<string> _cgPrecision = OptionFactory.Choice("--cg-precision",
        "Newton-CG and approx-newton: precision of the inner CG's Hessian-vector products (and of approx-newton's Kronecker factors) — single where the shards can " +
        "(a matrix problem's products in single precision: about 1e-7 relative, far inside CG's tolerance) or double. " +
        "With single, a matrix problem's first loss-and-gradient passes (while ‖∇L‖ ≥ 0.1·‖∇L(x0)‖) are single precision too; " +
        "the solve only stops on a gradient in double.",
        "single", "single", "double");
    private readonly Option<string> _start = OptionFactory.Choice("--start",
        "Where a solve without --x0 begins: auto (log-linear for multiple-normalized, else the problem's default: zeros, or " +
        "a small random point for cosh), zeros, or log-linear — the least-squares fit of A1 X A2ᵀ to the rows' centred log B " +
        "(multiple-normalized; one pass of the workers; rows with a non-positive entry take no part).",
        StartChoices.Auto, StartChoices.Auto, StartChoices.Zeros, StartChoices.LogLinear);
    private readonly Option<string> _backend = JobOptions.Backend(
        "Where shards run: local = worker actors in this process (Akka.NET local simulation); inprocess = a plain in-process loop.");
    private readonly Option<string?> _seeds = JobOptions.Seeds("solve");
    private readonly Option<int?> _minWorkers = JobOptions.MinWorkers();
    private readonly Option<string?> _host = JobOptions.Host();
    private readonly Option<int?> _port = JobOptions.Port();
    private readonly Option<double?> _seedTimeout = JobOptions.SeedTimeout();
    private readonly Option<string?> _credentials = CredentialsCommand.CredentialsOption();
    private readonly Option<bool> _insecure = CredentialsCommand.InsecureOption();
    private readonly Option<string> _progress = OptionFactory.Choice("--progress",
        "What stdout shows: text (a live table on a terminal, plain lines otherwise, and a summary) or json (one JSON object per line: iteration, cluster and finished events; nothing else).",
        "text", "text", "json");
    private readonly Option<string?> _server = OptionFactory.File("--server",
        "A running dist-softmax service (http://HOST:PORT, see 'dist-softmax serve'): submit the solve there, show its progress here and download its files into --out-dir.", "URL");

    /// <summary>Options that say where a local or joining job runs: a service job cannot take them.</summary>
    private IEnumerable<Option> PlacementOptions => [_backend, _seeds, _minWorkers, _host, _port, _seedTimeout, _credentials, _insecure, _resume];

    /// <summary>Options that shape what this process shows and writes, not the solve: they stay with the client.</summary>
    private IEnumerable<Option> ClientOptions => [_outDir, _progress, _server];

    private readonly Option<string?> _resume = OptionFactory.File("--resume",
        "Continue the interrupted solve whose --out-dir is DIR from its last checkpoint (DIR/checkpoint.bin), with the inputs and options " +
        "recorded in DIR/checkpoint.json; writes the outputs to DIR. Takes no other option but --progress.", "DIR");
    private readonly Option<bool> _noAnalysis = OptionFactory.Flag("--no-analysis",
        "Skip the post-solve analysis at x* (report.json's regime: the Hessian's eigenvalue range and seed 001's conditions). " +
        "It costs about one exact-Hessian pass over the rows (Lanczos products above 2000 unknowns), run where the rows are " +
        "(on a cluster's workers after a cluster solve). Not with --save.");
    private readonly Option<bool> _noCheckpoint = OptionFactory.Flag("--no-checkpoint",
        "Write no checkpoint (by default the solve keeps DIR/checkpoint.bin and checkpoint.json up to date every iteration, for --resume, and removes them when it ends).");

    public Command Build(CliContext ctx)
    {
        var command = new Command("solve",
            "Solve a softmax-regression problem and write x.npy, report.json and convergence.png. " +
            "With no arguments, solves the built-in demo instance. Exit codes: 0 converged, 3 stopped without meeting the tolerance, 2 bad input, 1 internal error.");
        foreach (Option o in new Option[]
                 {
                     _problem, _unit, _a, _b, _w, _a1, _a2, _bMatrix, _wMatrix, _wScalar, _x0, _solver, _tol, _absTol, _maxIter,
                     _stallIter, _workers, _seed, _outDir, _save, _hessian, _epsilon, _delta, _oversampling, _sketchFactor,
                     _kroneckerRows, _projectionColumns, _uniformSampling, _lbfgsMemory, _maxCg, _cgPrecision, _start, _globalization, _trustRadius, _backend, _seeds, _minWorkers, _host, _port,
                     _seedTimeout, _credentials, _insecure, _progress, _server, _resume, _noCheckpoint, _noAnalysis,
                 })
            command.Add(o);
        command.SetAction((parse, ct) => parse.GetValue(_server) is string server
            ? Service.ServerSolve.RunAsync(ctx, server, ServerSpec(parse, ctx), parse.GetValue(_outDir)!, parse.GetValue(_progress)!)
            : OptionFactory.Given(parse, _resume)
            ? ResumeAsync(ctx, command, parse)
            : new SolveRunner(ctx).RunAsync(Bind(parse)));
        return command;
    }

    /// <summary>
    /// The settings of <c>solve ARGUMENTS</c> bound by the same parser as the command line (the service's job specs go
    /// through it, so their validation is the command's); a parse error is an <see cref="ArgumentException"/> whose message is the
    /// command line's one-line message.
    /// </summary>
    public static SolveSettings ParseSettings(IReadOnlyList<string> arguments, CliContext ctx)
    {
        var solve = new SolveCommand();
        var root = new RootCommand { solve.Build(ctx) };
        var parse = root.Parse(["solve", .. arguments]);
        if (parse.Errors.Count > 0) throw new ArgumentException(CommandLine.DescribeError(parse));
        return solve.Bind(parse);
    }

    /// <summary>
    /// The options given to <c>solve --server</c> as a service job spec: (option name, value) with file paths made
    /// absolute here (the service and its workers must see the same paths), flags as "true". Options that place a
    /// local job (--backend, --seeds, …) are refused; --out-dir, --progress and --server stay with this process.
    /// </summary>
    private IReadOnlyList<(string Option, string Value)> ServerSpec(ParseResult parse, CliContext ctx)
    {
        foreach (var o in PlacementOptions)
            if (OptionFactory.Given(parse, o)) throw new CliInputException(o.Name, "cannot be combined with --server (the service places its jobs on its own cluster)");
        var spec = new List<(string, string)>();
        var fileOptions = new HashSet<Option>([_a, _b, _w, _a1, _a2, _bMatrix, _wMatrix, _x0]);
        foreach (var option in parse.CommandResult.Command.Options)
        {
            if (ClientOptions.Contains(option) || parse.GetResult(option) is not { Implicit: false } result) continue;
            string value = result.Tokens.Count == 0 ? "true" : result.Tokens[^1].Value;
            spec.Add((option.Name, fileOptions.Contains(option) ? ctx.Resolve(value) : value));
        }
        return spec;
    }

    /// <summary>
    /// --resume DIR: the solve recorded in DIR/checkpoint.json, parsed again as it was given (relative paths against
    /// its working directory), continued from DIR/checkpoint.bin. DIR must be that solve's --out-dir.
    /// </summary>
    private Task<int> ResumeAsync(CliContext ctx, Command command, ParseResult parse)
    {
        try
        {
            var others = command.Options.Where(o => o != _resume && o != _progress && OptionFactory.Given(parse, o)).Select(o => o.Name).ToList();
            if (others.Count > 0)
                throw new CliInputException("--resume", $"takes no other option but --progress (the solve's own are in DIR/{ResumeRecord.FileName}); got {string.Join(", ", others)}");
            string directory = ctx.Resolve(parse.GetValue(_resume)!);
            var record = ResumeRecord.Read(directory);
            var original = new CliContext(ctx.Out, ctx.Err, record.WorkingDirectory, ctx.Interactive, ctx.Cancellation);
            var solve = new SolveCommand();
            var reparsed = solve.Build(original).Parse(record.Arguments.ToArray());
            if (reparsed.Errors.Count > 0)
                throw new CliInputException("--resume", $"the arguments in {Path.Combine(directory, ResumeRecord.FileName)} do not parse: {reparsed.Errors[0].Message}");
            if (OptionFactory.Given(reparsed, solve._resume) || reparsed.GetValue(solve._noCheckpoint))
                throw new CliInputException("--resume", $"{Path.Combine(directory, ResumeRecord.FileName)} records no resumable solve");
            var settings = solve.Bind(reparsed);
            if (!SamePath(original.Resolve(settings.OutDir), directory))
                throw new CliInputException("--resume", $"{directory} is not the output directory of the solve recorded in it ({original.Resolve(settings.OutDir)})");
            var checkpoint = ResumeRecord.ReadCheckpoint(directory);
            settings = settings with
            {
                // The report records the solve as an uninterrupted one does: the command, then its own arguments.
                Arguments = [command.Name, .. record.Arguments],
                ResumeFrom = checkpoint,
                Resuming = true,
                RecordedSource = record.Source,
                Progress = OptionFactory.Given(parse, _progress) ? parse.GetValue(_progress)! : settings.Progress,
            };
            return new SolveRunner(original).RunAsync(settings);
        }
        catch (Exception e) when (e is CliInputException or ParameterException or ArgumentException)
        {
            return Task.FromResult(ErrorReport.Write(ctx, e, validating: true));
        }
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(a)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(b)), StringComparison.Ordinal);

    private SolveSettings Bind(ParseResult p) => _inputs.Bind(p, new()
    {
        Solver = p.GetValue(_solver)!,
        Start = p.GetValue(_start)!,
        StartGiven = OptionFactory.Given(p, _start),
        Options = new SolverOptions
        {
            RelativeTolerance = p.GetValue(_tol),
            AbsoluteTolerance = p.GetValue(_absTol),
            MaxIterations = p.GetValue(_maxIter),
            StallIterations = p.GetValue(_stallIter),
            Seed = p.GetValue(_seed),
            Hessian = SolverCatalog.ParseHessian(p.GetValue(_hessian)!),
            SamplingEpsilon = p.GetValue(_epsilon),
            SamplingDelta = p.GetValue(_delta),
            Oversampling = p.GetValue(_oversampling),
            SketchRowsPerColumn = p.GetValue(_sketchFactor),
            KroneckerRowsPerColumn = p.GetValue(_kroneckerRows),
            ProjectionColumns = p.GetValue(_projectionColumns),
            UniformSampling = p.GetValue(_uniformSampling),
            LbfgsMemory = p.GetValue(_lbfgsMemory),
            MaxCgIterations = p.GetValue(_maxCg),
            SingleCgProducts = p.GetValue(_cgPrecision) == "single",
            TrustRadius = p.GetValue(_trustRadius),
            Globalization = SolverCatalog.ParseGlobalization(p.GetValue(_globalization)!),
        },
        HessianGiven = OptionFactory.Given(p, _hessian),
        Workers = p.GetValue(_workers),
        OutDir = p.GetValue(_outDir)!,
        Save = p.GetValue(_save),
        Progress = p.GetValue(_progress)!,
        Backend = p.GetValue(_backend)!,
        BackendGiven = OptionFactory.Given(p, _backend),
        Seeds = p.GetValue(_seeds),
        MinWorkers = p.GetValue(_minWorkers),
        Host = p.GetValue(_host),
        Port = p.GetValue(_port),
        SeedTimeout = p.GetValue(_seedTimeout),
        Credentials = p.GetValue(_credentials),
        Insecure = p.GetValue(_insecure),
        Arguments = p.Tokens.Select(t => t.Value).ToArray(),
        SolveArguments = p.Tokens.Where(t => t.Type != TokenType.Command).Select(t => t.Value).ToArray(),
        Checkpoints = !p.GetValue(_noCheckpoint),
        Analysis = !p.GetValue(_noAnalysis),
    });
}
