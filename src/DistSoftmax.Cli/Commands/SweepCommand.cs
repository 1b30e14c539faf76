using System.CommandLine;
using System.Globalization;
using DistSoftmax.Cli.Solving;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data;
using DistSoftmax.Data.Sources;
using DistSoftmax.Core.Shards;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// The <c>sweep</c> command: a grid of solves over n, d, density, tol, ε, δ and solvers, on generated instances or the
/// user's, each solve exactly a solve command on the chosen backend (<see cref="SweepRunner"/>); writes sweep.csv and
/// the plots. Every grid value and shared option is checked before the first solve (exit 2, nothing written).
/// </summary>
internal sealed class SweepCommand
{
    private static readonly SolverOptions Defaults = new();

    private readonly Option<string> _problem = CatalogOptions.Problem();
    private readonly Option<string> _unit = CatalogOptions.Unit();
    private readonly Option<string> _n = OptionFactory.Text("--n", "Rows n of the generated instances, comma-separated.", "2000,8000", "N,…");
    private readonly Option<string> _d = OptionFactory.Text("--d", "Columns d of the generated instances, comma-separated.", "20", "D,…");
    private readonly Option<string?> _density = OptionFactory.File("--density",
        "Sparse generated A: entry densities in (0, 1], comma-separated (A.mtx). Default: dense A.", "P,…");
    private readonly Option<string> _tol = OptionFactory.Text("--tol", "Relative tolerances (solve --tol), comma-separated.", Format(Defaults.RelativeTolerance), "X,…");
    private readonly Option<string> _epsilon = OptionFactory.Text("--epsilon",
        "approx-newton: spectral accuracies ε of the sampled Hessian in (0, 1) (solve --epsilon), comma-separated.", Format(Defaults.SamplingEpsilon), "X,…");
    private readonly Option<string> _delta = OptionFactory.Text("--delta",
        "approx-newton: failure probabilities δ of the sampling guarantee in (0, 1) (solve --delta), comma-separated.", Format(Defaults.SamplingDelta), "X,…");
    private readonly Option<string> _solvers = OptionFactory.Text("--solvers",
        $"Solvers, comma-separated ({string.Join(", ", SolverNames)}).", "approx-newton,newton", "S,…");
    private readonly Option<int> _repeats = OptionFactory.Int("--repeats", "Runs of every grid point, with seeds --seed, --seed + 1, …", 1);
    private readonly Option<ulong> _seed = OptionFactory.ULong("--seed", "Seed of the first repeat (generator and solver).", 1);
    private readonly Option<string?> _a = OptionFactory.File("--A", "A user's instance: the n×d data matrix (instead of generated instances; n, d and density come from it).");
    private readonly Option<string?> _b = OptionFactory.File("--b", "A user's instance: the target vector of length n.");
    private readonly Option<string?> _w = OptionFactory.File("--w", "A user's instance: per-row regulariser weights (length n).");
    private readonly Option<bool> _noWarmup = OptionFactory.Flag("--no-warmup",
        "Skip the untimed warm-up solve of each solver on a small instance (without it the first grid point's time includes compiling the solver's code).");
    private readonly Option<string> _outDir = OptionFactory.Text("--out-dir",
        "Directory for sweep.csv, the plots, points/KEY/ (each solve's files) and instances/KEY/ (created if needed).", "sweep-out", "DIR").NonEmptyPath();

    // Solve options every point gets, forwarded as given (solve checks them; they are also checked here first).
    private readonly Option<double?> _wScalar = OptionFactory.OptionalDouble("--w-scalar", "One regulariser weight for every row (solve --w-scalar).");
    private readonly Option<int?> _maxIter = OptionFactory.OptionalInt("--max-iter", $"Most iterations of each solve (default {Defaults.MaxIterations}).");
    private readonly Option<int?> _workers = OptionFactory.OptionalInt("--workers", $"Row shards of each solve (default: solve's, one per core of this machine, at most {ShardLayout.MostDefaultShards}; {ShardLayout.MostDefaultShards} on a cluster).", "K");
    private readonly Option<string> _backend = JobOptions.Backend(
        "Where each solve runs: local = worker actors in this process (Akka.NET local simulation); inprocess = a plain loop.");
    private readonly Option<string?> _seeds = JobOptions.Seeds("run each solve");
    private readonly Option<int?> _minWorkers = JobOptions.MinWorkers();
    private readonly Option<string?> _host = JobOptions.Host();
    private readonly Option<int?> _port = JobOptions.Port();
    private readonly Option<double?> _seedTimeout = JobOptions.SeedTimeout();
    private readonly Option<string?> _credentials = CredentialsCommand.CredentialsOption();
    private readonly Option<bool> _insecure = CredentialsCommand.InsecureOption();

    private static IReadOnlyList<string> SolverNames { get; } = ["auto", .. SolverCatalog.Names];

    public Command Build(CliContext ctx)
    {
        var command = new Command("sweep",
            "Run a grid of solves (n × d × density × tol × solvers, and ε × δ for approx-newton, × repeats) on generated " +
            "instances or a user's, each exactly a solve command on the chosen backend, and write sweep.csv and " +
            "iterations-vs-n.png, time-per-iteration-vs-cost.png, contraction-vs-epsilon.png, approx-vs-exact.png. " +
            "Exit codes: 0 every solve converged, 3 some did not, 2 bad input.");
        foreach (Option o in new Option[] { _problem, _unit, _n, _d, _density, _tol, _epsilon, _delta, _solvers, _repeats, _seed, _a, _b, _w, _noWarmup, _outDir }.Concat(Shared))
            command.Add(o);
        command.SetAction(parse =>
        {
            SweepGrid grid;
            string[] shared;
            try
            {
                grid = Check(parse, ctx);
                shared = Forwarded(parse).ToArray();
            }
            catch (Exception e) when (e is CliInputException or DataFormatException or ArgumentException)
            {
                return ErrorReport.Write(ctx, e, validating: true);
            }
            return new SweepRunner(ctx).Run(grid, shared, parse.GetValue(_outDir)!, warmup: !parse.GetValue(_noWarmup));
        });
        return command;
    }

    /// <summary>The solve options forwarded to every point.</summary>
    private Option[] Shared => [_wScalar, _maxIter, _workers, _backend, _seeds, _minWorkers, _host, _port, _seedTimeout, _credentials, _insecure];

    /// <summary>Each shared option the user gave, spelled as given (a flag by its name when on).</summary>
    private IEnumerable<string> Forwarded(ParseResult parse)
    {
        foreach (var option in Shared)
            if (parse.GetResult(option) is { Implicit: false } result)
            {
                if (option is Option<bool> flag)
                {
                    if (parse.GetValue(flag)) yield return option.Name;
                    continue;
                }
                yield return option.Name;
                foreach (var token in result.Tokens) yield return token.Value;
            }
    }

    /// <summary>Every grid value and shared option, checked; the grid.</summary>
    private SweepGrid Check(ParseResult p, CliContext ctx)
    {
        string problem = p.GetValue(_problem)!;
        bool matrix = DataSources.IsMatrixProblem(problem);
        var unit = CatalogOptions.UnitFor(problem, p.GetValue(_unit)!, OptionFactory.Given(p, _unit));
        string? unitName = DataSources.HasUnit(problem) ? unit.Name() : null;

        IReadOnlyList<string>? user = null;
        (long Rows, int Columns) userShape = default;
        if (p.GetValue(_a) is not null || p.GetValue(_b) is not null || p.GetValue(_w) is not null)
        {
            if (matrix) throw new CliInputException("--A", $"sweep reads a user's vector instance; --problem {problem} is a matrix problem (its instances are generated)");
            if (p.GetValue(_a) is null) throw new CliInputException("--A", "is required with --b (a user's instance)");
            if (p.GetValue(_b) is null) throw new CliInputException("--b", "is required with --A (a user's instance)");
            foreach (var option in new Option[] { _n, _d, _density })
                if (OptionFactory.Given(p, option))
                    throw new CliInputException(option.Name, "is not used with --A (n, d and the density come from the user's instance)");
            string a = ctx.Resolve(p.GetValue(_a)!), b = ctx.Resolve(p.GetValue(_b)!);
            string? w = p.GetValue(_w) is { } wPath ? ctx.Resolve(wPath) : null;
            // Every value checked once before the first solve (each solve checks it again, as solve always does).
            var inspection = new DataShardLoader().Inspect(DataSources.VectorFiles(problem, unit, a, b, w, p.GetValue(_wScalar)));
            userShape = (inspection.Rows, inspection.Columns);
            user = w is null ? ["--A", a, "--b", b] : ["--A", a, "--b", b, "--w", w];
        }

        var n = user is null ? Distinct(_n.Name, Integers(_n.Name, p.GetValue(_n)!)) : [];
        var d = user is null ? Distinct(_d.Name, Integers(_d.Name, p.GetValue(_d)!)) : [];
        IReadOnlyList<double?> density = [null];
        if (p.GetValue(_density) is { } densityText)
        {
            if (matrix) throw new CliInputException("--density", $"is only for vector problems (--problem {problem} has dense A1 and A2)");
            density = Distinct(_density.Name, Numbers(_density.Name, densityText)).Select(v => (double?)v).ToArray();
        }
        var tol = Distinct(_tol.Name, Numbers(_tol.Name, p.GetValue(_tol)!));
        var epsilon = Distinct(_epsilon.Name, Numbers(_epsilon.Name, p.GetValue(_epsilon)!));
        var delta = Distinct(_delta.Name, Numbers(_delta.Name, p.GetValue(_delta)!));
        var solvers = Distinct(_solvers.Name, Words(_solvers.Name, p.GetValue(_solvers)!).Select(s => s.ToLowerInvariant()).ToArray());
        foreach (string s in solvers)
            if (!SolverNames.Contains(s))
                throw new CliInputException("--solvers", $"unknown solver '{s}'{Suggestions.DidYouMean(s, SolverNames, "'")} (allowed: {string.Join(", ", SolverNames)})");
        int repeats = p.GetValue(_repeats);
        if (repeats < 1) throw new CliInputException("--repeats", $"must be at least 1 (got {repeats})");

        // The solver options of every grid value (their messages name --tol, --epsilon, --delta, --max-iter).
        var options = new SolverOptions { MaxIterations = p.GetValue(_maxIter) ?? Defaults.MaxIterations };
        foreach (double t in tol) (options with { RelativeTolerance = t }).Validate();
        foreach (double e in epsilon) (options with { SamplingEpsilon = e }).Validate();
        foreach (double e in delta) (options with { SamplingDelta = e }).Validate();
        if (p.GetValue(_workers) is int k && k < 1) throw new CliInputException("--workers", $"must be at least 1 (got {k})");
        if (p.GetValue(_wScalar) is double ws && !double.IsFinite(ws)) throw new CliInputException("--w-scalar", $"must be a finite number (got {ws})");
        var backend = SolveBackends.Plan(p.GetValue(_backend)!, OptionFactory.Given(p, _backend), p.GetValue(_seeds), p.GetValue(_minWorkers),
            p.GetValue(_host), p.GetValue(_port), p.GetValue(_seedTimeout));
        if (backend.Kind != JobOptions.Cluster)
        {
            if (p.GetValue(_credentials) is not null) throw new CliInputException("--credentials", "is only used with --seeds (a cluster job)");
            if (p.GetValue(_insecure)) throw new CliInputException("--insecure", "is only used with --seeds (a cluster job)");
        }
        else CredentialsCommand.Check(ctx, p.GetValue(_credentials));

        string outDir = ctx.Resolve(p.GetValue(_outDir)!);
        if (File.Exists(outDir)) throw new CliInputException("--out-dir", $"{outDir} is a file, not a directory");

        var grid = new SweepGrid(problem, unitName, n, d, density, tol, epsilon, delta, solvers, repeats, p.GetValue(_seed), user,
            user is null ? n.Min() : userShape.Rows, user is null ? d.Min() : userShape.Columns);
        if (grid.PointCount > SweepGrid.MaxPoints)
            throw new CliInputException("sweep", $"the grid has {grid.PointCount} solves, more than {SweepGrid.MaxPoints} (narrow --n, --d, --density, --tol, --epsilon, --delta, --solvers or --repeats)");
        // Every generated instance's generator arguments (--n, --d, --density as GeneratedSpec checks them), before any is written.
        _ = grid.Instances().ToArray();
        return grid;
    }

    /// <summary>Comma-separated words, blanks trimmed; an empty item is an error.</summary>
    private static string[] Words(string option, string text)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries);
        if (items.Any(i => i.Length == 0)) throw new CliInputException(option, $"'{text}' has an empty item (expected values separated by commas)");
        return items;
    }

    private static int[] Integers(string option, string text) => Words(option, text).Select(w =>
        int.TryParse(w, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v) ? v
            : throw new CliInputException(option, $"'{w}' is not an integer")).ToArray();

    private static double[] Numbers(string option, string text) => Words(option, text).Select(w =>
        double.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
            : throw new CliInputException(option, $"'{w}' is not a number")).ToArray();

    /// <summary>The values, each at most once (a repeated value would run the same solves into the same folders twice).</summary>
    private static T[] Distinct<T>(string option, T[] values) where T : notnull
    {
        var seen = new HashSet<T>();
        foreach (var v in values)
            if (!seen.Add(v)) throw new CliInputException(option, $"{string.Format(CultureInfo.InvariantCulture, "{0}", v)} is listed twice");
        return values;
    }

    private static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
