using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Data;
using DistSoftmax.Data.Sources;

namespace DistSoftmax;

/// <summary>
/// The library entry point: solve a softmax-regression problem held in memory, in this process, in the local actor
/// simulation or on a cluster, with the solvers and defaults of <c>dist-softmax solve</c>.
/// <code>
/// var problem = SoftmaxProblem.Create("normalized", a, b);               // a: double[n, d], b: double[n]
/// var result = await SoftmaxRegression.SolveAsync(problem,
///     new SoftmaxSolveOptions { Backend = SoftmaxBackend.InProcess }, new Progress&lt;TraceEntry&gt;(t => Console.WriteLine(t.Loss)));
/// Console.WriteLine($"{result.Exit}: loss {result.Loss} after {result.Iterations} iterations");
/// </code>
/// Bad arguments throw <see cref="ParameterException"/> (an <see cref="ArgumentException"/> naming the parameter); a
/// cluster whose seeds do not answer throws <see cref="SeedsUnreachableException"/>; a distributed solve that cannot be
/// carried out (no workers in time, a shard no worker can load) throws <c>DistributedSolveException</c>. Cancellation
/// stops the solve at its next iteration with <see cref="ExitCondition.Cancelled"/>.
/// </summary>
public static class SoftmaxRegression
{
    /// <summary>Standard deviation of the default start of cosh problems (x = 0 is a stationary point of their loss).</summary>
    public const double CoshStartScale = 0.1;
    private const ulong CoshStartStream = 0xC054;

    /// <summary>Solves a vector problem (normalized, rescaled or hyperbolic regression): x has d entries.</summary>
    public static Task<SoftmaxResult> SolveAsync(SoftmaxProblem problem, SoftmaxSolveOptions? options = null,
        IProgress<TraceEntry>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(problem);
        options ??= new SoftmaxSolveOptions();
        var settings = options.Settings.Validate();
        var family = Families.Create(problem.Family, problem.Unit);
        var regularizer = problem.WeightsPerRow is { } w ? Regularizer.PerRow(w)
            : problem.WeightScalar is double s ? Regularizer.Uniform(s) : Regularizer.None;
        var choice = VectorSolverChoice.Choose(problem.Rows, problem.Columns, (long)problem.Rows * problem.Columns, settings, options.Solver);
        Unit? unit = Families.HasUnit(problem.Family) ? problem.Unit : null;
        var x0 = Start(options.X0, problem.Columns, unit, settings.Seed);
        // As the command line: a given X0's relative tolerance is measured at the default start (SolverOptions.ToleranceReference).
        if (options.X0 is not null) settings = settings with { ToleranceReference = DefaultStart(problem.Columns, unit, settings.Seed) };
        var loader = new InMemoryShardLoader();
        var source = loader.RegisterVector("problem", family, problem.A, problem.B, regularizer);
        return RunAsync(loader, source, dir =>
        {
            string a = Path.Combine(dir, "A.npy"), b = Path.Combine(dir, "b.npy");
            Npy.Write(a, problem.A);
            Npy.Write(b, problem.B);
            string? wPath = null;
            if (problem.WeightsPerRow is { } weights) Npy.Write(wPath = Path.Combine(dir, "w.npy"), weights);
            return DataSources.VectorFiles(problem.Family, problem.Unit, a, b, wPath, problem.WeightScalar);
        }, choice.Solver, choice.Reason, settings, x0, options, progress, cancellationToken);
    }

    /// <summary>Solves a multiple softmax regression: X is d×d, returned row-major as d² values.</summary>
    public static Task<SoftmaxResult> SolveMultipleAsync(MultipleSoftmaxProblem problem, SoftmaxSolveOptions? options = null,
        IProgress<TraceEntry>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(problem);
        options ??= new SoftmaxSolveOptions();
        var settings = options.Settings.Validate();
        var choice = MatrixSolverChoice.Choose(problem.Side, options.Solver);
        if (!options.HessianGiven) settings = settings with { Hessian = choice.Hessian };
        // As the command line (solve --start auto): multiple normalized softmax regression without an X0 starts at the
        // log-linear fit of the rows' centred log B (SolverOptions.LogLinearStart); give X0 (zeros) to start elsewhere.
        if (options.X0 is null && problem.Family == Families.MultipleNormalized) settings = settings with { LogLinearStart = true };
        var x0 = Start(options.X0, problem.Side * problem.Side, null, settings.Seed);
        if (options.X0 is not null) settings = settings with { ToleranceReference = DefaultStart(problem.Side * problem.Side, null, settings.Seed) };
        var loader = new InMemoryShardLoader();
        var source = loader.RegisterMatrix("problem", problem.Problem);
        return RunAsync(loader, source, dir =>
        {
            var p = problem.Problem;
            string a1 = Path.Combine(dir, "A1.npy"), a2 = Path.Combine(dir, "A2.npy"), b = Path.Combine(dir, "B.npy");
            Npy.Write(a1, p.A1);
            Npy.Write(a2, p.A2);
            Npy.Write(b, p.B);
            string? wPath = null;
            if (problem.WeightScalar is null && p.W is { } w) Npy.Write(wPath = Path.Combine(dir, "W.npy"), w);
            return DataSources.MatrixFiles(problem.Family, a1, a2, b, wPath, problem.WeightScalar);
        }, choice.Solver, choice.Reason, settings, x0, options, progress, cancellationToken);
    }

    /// <summary>
    /// The default start with <paramref name="unknowns"/> entries: zeros, or for a unit whose derivative vanishes at 0
    /// (cosh, where x = 0 is a stationary point of every loss) N(0, <see cref="CoshStartScale"/>²) entries drawn from
    /// <paramref name="seed"/>. The command line starts its solves here too.
    /// </summary>
    public static double[] DefaultStart(int unknowns, Unit? unit, ulong seed)
    {
        var x0 = new double[unknowns];
        if (unit is Unit u && UnitCatalog.IsStationaryAtZero(u)) Rng.ForStream(seed, CoshStartStream).FillNormal(x0, CoshStartScale);
        return x0;
    }

    private static double[] Start(double[]? given, int unknowns, Unit? unit, ulong seed)
    {
        if (given is null) return DefaultStart(unknowns, unit, seed);
        if (given.Length != unknowns)
            throw new ParameterException(nameof(SoftmaxSolveOptions.X0), given.Length, $"must have {unknowns} entries (the unknowns)");
        SoftmaxProblem.CheckFinite(nameof(SoftmaxSolveOptions.X0), given);
        return given.ToArray();
    }

    private static async Task<SoftmaxResult> RunAsync(InMemoryShardLoader loader, ProblemSource source, Func<string, ProblemSource> writeFiles,
        string solverName, string reason, SolverOptions settings, double[] x0, SoftmaxSolveOptions options,
        IProgress<TraceEntry>? progress, CancellationToken ct)
    {
        int workers = options.Workers ?? ShardLayout.DefaultShards(onThisMachine: options.Backend != SoftmaxBackend.Cluster);
        if (workers < 1) throw new ParameterException(nameof(SoftmaxSolveOptions.Workers), workers, "must be at least 1");
        if (settings.Globalization == GlobalizationMode.TrustRegion && !SolverCatalog.IsNewtonType(solverName))
            throw new ParameterException(nameof(SolverOptions.Globalization), "trust-region", $"is for the Newton-type solvers, not {solverName}");
        var solver = SolverCatalog.Create(solverName, settings);
        Action<TraceEntry> report = progress is null ? _ => { } : progress.Report;
        var result = options.Backend switch
        {
            SoftmaxBackend.InProcess => await Task.Run(() => InProcess(loader, source, solver, x0, settings, workers, report, ct),
                CancellationToken.None).ConfigureAwait(false),
            SoftmaxBackend.LocalSimulation => await LocalSimulation.SolveAsync(loader, source, solver, x0, settings,
                new LocalSimulationOptions { Workers = workers, Events = e => { if (e is SolveProgress p) report(p.Entry); } }, ct)
                .ConfigureAwait(false),
            SoftmaxBackend.Cluster => await OnCluster(writeFiles, solver, x0, settings, options with { Workers = workers }, report, ct).ConfigureAwait(false),
            _ => throw new ParameterException(nameof(SoftmaxSolveOptions.Backend), options.Backend, "is not a backend"),
        };
        return new SoftmaxResult(result.X, result.Loss, result.GradientNorm, result.InitialGradientNorm, result.Iterations, result.Exit,
            result.Message, result.Trace, result.Solver, reason, result.Seconds);
    }

    /// <summary>The command line's in-process backend: every shard loaded here, the solver's requests answered by a loop
    /// over them (shards in parallel, each with its share of the cores).</summary>
    internal static SolverResult InProcess(IShardLoader loader, ProblemSource source, Solver solver, double[] x0, SolverOptions settings,
        int workers, Action<TraceEntry> progress, CancellationToken ct)
    {
        var shape = loader.Describe(source);
        var ranges = ShardLayout.Split(shape.Rows, workers);
        var compute = new ShardComputeOptions(Math.Max(1, Environment.ProcessorCount / ranges.Length));
        var shards = ranges.Select(r => loader.Load(source, r, compute)).ToArray();
        var driver = new InProcessDriver(shards, parallelShards: shards.Length > 1);
        return driver.Solve(solver, shape.Objective, x0, settings, progress, ct);
    }

    private static async Task<SolverResult> OnCluster(Func<string, ProblemSource> writeFiles, Solver solver, double[] x0,
        SolverOptions settings, SoftmaxSolveOptions options, Action<TraceEntry> progress, CancellationToken ct)
    {
        if (options.Seeds is not { Count: > 0 })
            throw new ParameterException(nameof(SoftmaxSolveOptions.Seeds), null, "must name at least one seed node for the cluster backend");
        if (string.IsNullOrWhiteSpace(options.SharedDirectory))
            throw new ParameterException(nameof(SoftmaxSolveOptions.SharedDirectory), options.SharedDirectory,
                "must be a directory every worker node sees at the same path (the cluster backend writes the problem there)");
        if (options.MinWorkers < 1) throw new ParameterException(nameof(SoftmaxSolveOptions.MinWorkers), options.MinWorkers, "must be at least 1");
        DistSoftmaxConfig.SeedAddresses(options.Seeds); // a malformed address is a ParameterException
        string dir = Path.Combine(Path.GetFullPath(options.SharedDirectory), "distsoftmax-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var source = writeFiles(dir);
            return await ClusterSolveJob.RunAsync(new ClusterJobOptions
            {
                Node = new NodeOptions { Seeds = options.Seeds }.FromEnvironment(),
                MinWorkers = options.MinWorkers,
                Shards = options.Workers ?? ShardLayout.MostDefaultShards,
                SeedTimeout = options.SeedTimeout,
                Events = e => { if (e is SolveProgress p) progress(p.Entry); },
            }, new DataShardLoader(), source, solver, x0, settings, ct).ConfigureAwait(false);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); }
            catch (IOException) { } // a worker may still hold a file open; the folder is the caller's to clean then
        }
    }
}
