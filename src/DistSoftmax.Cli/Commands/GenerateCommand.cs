using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using DistSoftmax.Cli.Output;
using DistSoftmax.Core.Problems;
using DistSoftmax.Data;
using DistSoftmax.Data.Sources;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// The <c>generate</c> command: writes a reproducible synthetic instance of any family (<see cref="Generators"/>)
/// and prints the exact solve command for it.
/// </summary>
internal static partial class GenerateCommand
{
    public static Command Build(CliContext ctx)
    {
        var problem = CatalogOptions.Problem();
        var unit = CatalogOptions.Unit();
        var n = OptionFactory.Int("--n", "Rows n of A (matrix problems: rows of A1, A2 and the n×n B).", 1000);
        var d = OptionFactory.Int("--d", "Columns d of A (matrix problems: X is d×d).", 20, "D");
        var seed = OptionFactory.ULong("--seed", "Seed of the generator: the same arguments give the same files on every machine.", 1);
        var sparse = OptionFactory.Flag("--sparse", "Vector problems: a sparse A, written as A.mtx (Matrix Market).");
        var density = OptionFactory.Double("--density", "With --sparse: the probability that an entry of A is non-zero.", 0.1, "P");
        var planted = OptionFactory.Flag("--planted", "No noise: x_true (X_true) is an exact zero of the loss (rescaled instances always are).");
        var noise = OptionFactory.OptionalDouble("--noise",
            "Noise level (default: normalized and multiple 0.1, hyperbolic 0; not available for rescaled).", "R");
        var xScale = OptionFactory.OptionalDouble("--x-scale",
            "Standard deviation of the entries of x_true (default: normalized 3, others 1).", "S");
        var outDir = OptionFactory.File("--out-dir", "Directory to write the instance into (created if needed). Required.", "DIR").NonEmptyPath();

        var command = new Command("generate",
            "Generate a synthetic instance: vector problems write A.npy (A.mtx with --sparse), b.npy, x_true.npy; " +
            "matrix problems write A1.npy, A2.npy, B.npy, X_true.npy. Prints the solve command to run on it.");
        foreach (Option o in new Option[] { problem, unit, n, d, seed, sparse, density, planted, noise, xScale, outDir }) command.Add(o);
        command.SetAction(parse =>
        {
            string? dir = parse.GetValue(outDir);
            GeneratedSpec spec;
            try
            {
                if (dir is null) throw new CliInputException("--out-dir", "is required (the directory to write the instance into)");
                string p = parse.GetValue(problem)!;
                var u = CatalogOptions.UnitFor(p, parse.GetValue(unit)!, OptionFactory.Given(parse, unit));
                if (OptionFactory.Given(parse, density) && !parse.GetValue(sparse))
                    throw new CliInputException("--density", "is only used with --sparse");
                spec = new GeneratedSpec(p, u, parse.GetValue(n), parse.GetValue(d),
                    parse.GetValue(seed), parse.GetValue(sparse), parse.GetValue(density), parse.GetValue(planted),
                    parse.GetValue(noise), parse.GetValue(xScale)).Validate();
            }
            catch (Exception e) when (e is CliInputException or ArgumentException)
            {
                return ErrorReport.Write(ctx, e, validating: true);
            }
            return Write(ctx, spec, dir, parse.Tokens.Select(t => t.Value).ToArray());
        });
        return command;
    }

    private static int Write(CliContext ctx, GeneratedSpec spec, string dir, IReadOnlyList<string> arguments)
    {
        bool matrix = DataSources.IsMatrixProblem(spec.Problem);
        string full = ctx.Resolve(dir);
        if (File.Exists(full)) throw new CliInputException("--out-dir", $"{full} is a file, not a directory");
        // Before generating anything: a file of the user's under an instance file's name is never replaced (only an
        // earlier generate's, listed in its generate.json).
        InstanceFiles.RequireReplaceable(full, matrix);
        object instance;
        try { instance = spec.Generate(); }
        catch (ArgumentException e) { return ErrorReport.Write(ctx, e, validating: true); }
        var written = InstanceFiles.Write(full, instance, arguments);

        string unitText = DataSources.HasUnit(spec.Problem) ? $" ({spec.Unit.Name()})" : "";
        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"wrote a {spec.Problem}{unitText} instance, n = {spec.N}, d = {spec.D}, seed {spec.Seed}, to {full}:"));
        foreach (string f in written) ctx.Out.WriteLine("  " + f);
        ctx.Out.WriteLine("solve it with:");
        ctx.Out.WriteLine("  " + string.Join(' ', SolveArguments(spec, dir, matrix, spec.Sparse).Select(Quote).Prepend("dist-softmax")));
        return ExitCodes.Ok;
    }

    /// <summary>The solve command's arguments for an instance written to <paramref name="dir"/> (as the user spelled it).</summary>
    internal static IEnumerable<string> SolveArguments(GeneratedSpec spec, string dir, bool matrix, bool sparse)
    {
        yield return "solve";
        yield return "--problem";
        yield return spec.Problem;
        if (DataSources.HasUnit(spec.Problem)) { yield return CatalogOptions.UnitOption; yield return spec.Unit.Name(); }
        if (matrix)
        {
            foreach (var (option, file) in new[] { ("--A1", Generators.A1File), ("--A2", Generators.A2File), ("--B", Generators.BMatrixFile) })
            {
                yield return option;
                yield return Path.Combine(dir, file);
            }
        }
        else
        {
            yield return "--A";
            yield return Path.Combine(dir, sparse ? Generators.AFileSparse : Generators.AFileDense);
            yield return "--b";
            yield return Path.Combine(dir, Generators.BFile);
        }
        yield return "--out-dir";
        yield return Path.Combine(dir, "solution");
    }

    /// <summary>POSIX shell quoting: words of safe characters stay bare, anything else is single-quoted.</summary>
    internal static string Quote(string word) =>
        word.Length > 0 && SafeWord().IsMatch(word) ? word : "'" + word.Replace("'", "'\\''") + "'";

    [GeneratedRegex(@"^[A-Za-z0-9_./:=,@+%-]+$")]
    private static partial Regex SafeWord();
}
