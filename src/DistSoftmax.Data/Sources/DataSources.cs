using System.Globalization;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Data.Sources;

/// <summary>
/// Builds the <see cref="ProblemSource"/>s that <see cref="DataShardLoader"/> understands. A source is a few strings,
/// so it can be sent to any worker, which then loads only its own rows.
///
/// Kind "files" — parameters: problem, unit, and
///   vector problems (normalized, rescaled, hyperbolic): A (n×d; .npy, .mtx, .csv/.txt), b (n), optional w (n) or w-scalar;
///   matrix problems (multiple-normalized, multiple-rescaled): A1 (m×d), A2 (n×d), B (m×n), optional W (m×n) or w-scalar.
/// Paths are stored as given; pass absolute paths when the workers run elsewhere.
///
/// Kind "generated" — parameters: problem, unit, n, d, seed, and optionally sparse, density, planted, noise, x-scale:
/// every worker regenerates the instance with <see cref="Generators"/> (deterministic in the seed) and slices its rows.
/// </summary>
public static class DataSources
{
    public const string FilesKind = "files";
    public const string GeneratedKind = "generated";

    /// <summary>The problem names, vector families first.</summary>
    public static readonly string[] Problems = ["normalized", "rescaled", "hyperbolic", "multiple-normalized", "multiple-rescaled"];

    public static bool IsMatrixProblem(string problem) => problem.StartsWith("multiple-", StringComparison.Ordinal);

    /// <summary>Whether the problem's loss depends on a unit u (rescaled and hyperbolic regression).</summary>
    public static bool HasUnit(string problem) => problem is "rescaled" or "hyperbolic";

    public static ProblemSource VectorFiles(string problem, Unit unit, string a, string b, string? w = null, double? wScalar = null)
    {
        CheckProblem(problem, matrix: false);
        var p = Common(problem, unit);
        p.Add(new("A", a));
        p.Add(new("b", b));
        AddWeights(p, "w", w, wScalar);
        return ProblemSource.Create(FilesKind, p);
    }

    public static ProblemSource MatrixFiles(string problem, string a1, string a2, string b, string? w = null, double? wScalar = null)
    {
        CheckProblem(problem, matrix: true);
        var p = Common(problem, Unit.Exp);
        p.Add(new("A1", a1));
        p.Add(new("A2", a2));
        p.Add(new("B", b));
        AddWeights(p, "W", w, wScalar);
        return ProblemSource.Create(FilesKind, p);
    }

    public static ProblemSource Generated(GeneratedSpec spec)
    {
        spec.Validate();
        var p = Common(spec.Problem, spec.Unit);
        p.Add(new("n", Format(spec.N)));
        p.Add(new("d", Format(spec.D)));
        p.Add(new("seed", spec.Seed.ToString(CultureInfo.InvariantCulture)));
        if (spec.Sparse)
        {
            p.Add(new("sparse", "true"));
            p.Add(new("density", Format(spec.Density)));
        }
        if (spec.Planted) p.Add(new("planted", "true"));
        if (spec.Noise is double noise) p.Add(new("noise", Format(noise)));
        if (spec.XScale is double scale) p.Add(new("x-scale", Format(scale)));
        return ProblemSource.Create(GeneratedKind, p);
    }

    /// <summary>The built-in demo: <see cref="Generators.Demo"/> (normalized, n = 20000, d = 50, seed 42, x-scale 3, noise 0.1).</summary>
    public static GeneratedSpec DemoSpec { get; } = new("normalized", Unit.Exp, 20000, 50, 42, XScale: 3.0, Noise: 0.1);

    public static string ProblemOf(ProblemSource source) => source.Require("problem");

    public static Unit UnitOf(ProblemSource source) => UnitFunctions.Parse(source.Get("unit") ?? "exp");

    internal static void CheckProblem(string problem, bool? matrix = null)
    {
        if (!Problems.Contains(problem))
            throw new ArgumentException($"unknown problem '{problem}' (allowed: {string.Join(", ", Problems)})");
        if (matrix is bool m && m != IsMatrixProblem(problem))
            throw new ArgumentException(m ? $"'{problem}' is a vector problem, not a matrix problem" : $"'{problem}' is a matrix problem, not a vector problem");
    }

    private static List<KeyValuePair<string, string>> Common(string problem, Unit unit)
    {
        var p = new List<KeyValuePair<string, string>> { new("problem", problem) };
        if (HasUnit(problem)) p.Add(new("unit", unit.Name()));
        return p;
    }

    private static void AddWeights(List<KeyValuePair<string, string>> p, string key, string? file, double? scalar)
    {
        if (file is not null && scalar is not null) throw new ArgumentException($"give either a weight file ({key}) or w-scalar, not both");
        if (file is not null) p.Add(new(key, file));
        if (scalar is double s) p.Add(new("w-scalar", Format(s)));
    }

    internal static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    internal static double ParseDouble(ProblemSource s, string key)
    {
        string text = s.Require(key);
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
            ? v : throw new ArgumentException($"problem source parameter '{key}' = '{text}' is not a number");
    }

    internal static long ParseLong(ProblemSource s, string key)
    {
        string text = s.Require(key);
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
            ? v : throw new ArgumentException($"problem source parameter '{key}' = '{text}' is not an integer");
    }
}

/// <summary>
/// A generated instance: the arguments of the <see cref="Generators"/> call that produces it. Null noise / x-scale
/// mean the generator's default for the family (normalized: noise 0.1, x-scale 3; rescaled and hyperbolic:
/// x-scale 1, hyperbolic noise 0; multiple: noise 0.1, x-scale 1). Density is used only when sparse.
/// </summary>
public sealed record GeneratedSpec(string Problem, Unit Unit, int N, int D, ulong Seed, bool Sparse = false,
    double Density = 0.1, bool Planted = false, double? Noise = null, double? XScale = null)
{
    /// <summary>Checks the arguments; messages name the generator option (--n, --density, …).</summary>
    public GeneratedSpec Validate()
    {
        DataSources.CheckProblem(Problem);
        bool matrix = DataSources.IsMatrixProblem(Problem);
        if (N < 1) throw new ArgumentException("--n must be at least 1");
        if (D < 1) throw new ArgumentException("--d must be at least 1");
        if (matrix && (long)N * N > Array.MaxLength) throw new ArgumentException($"--n {N} is too large for a matrix problem (B is n×n)");
        if ((long)N * D > Array.MaxLength) throw new ArgumentException($"--n × --d = {(long)N * D} entries is too large for one matrix");
        if (Sparse && matrix) throw new ArgumentException("--sparse is only available for vector problems");
        if (Sparse && !(Density > 0 && Density <= 1)) throw new ArgumentException("--density must be in (0, 1]");
        if (XScale is double s && !(s >= 0 && double.IsFinite(s))) throw new ArgumentException("--x-scale must be a finite number ≥ 0");
        if (Noise is double r)
        {
            if (Problem == "rescaled") throw new ArgumentException("--noise is not available for rescaled instances (they are always planted)");
            if (Problem == "hyperbolic" ? !(r >= 0 && double.IsFinite(r)) : !(r >= 0 && r <= 1))
                throw new ArgumentException(Problem == "hyperbolic" ? "--noise must be a finite number ≥ 0" : "--noise must be in [0, 1]");
            if (Planted && r > 0) throw new ArgumentException("--noise must be 0 (or absent) for a --planted instance");
        }
        return this;
    }

    /// <summary>Reads a spec back from a "generated" source.</summary>
    public static GeneratedSpec From(ProblemSource source)
    {
        if (source.Kind != DataSources.GeneratedKind) throw new ArgumentException($"not a generated source: {source}");
        string problem = DataSources.ProblemOf(source);
        return new GeneratedSpec(problem, DataSources.UnitOf(source),
            checked((int)DataSources.ParseLong(source, "n")), checked((int)DataSources.ParseLong(source, "d")),
            ulong.Parse(source.Require("seed"), CultureInfo.InvariantCulture),
            source.Get("sparse") == "true",
            source.Get("density") is null ? 0.1 : DataSources.ParseDouble(source, "density"),
            source.Get("planted") == "true",
            source.Get("noise") is null ? null : DataSources.ParseDouble(source, "noise"),
            source.Get("x-scale") is null ? null : DataSources.ParseDouble(source, "x-scale")).Validate();
    }

    /// <summary>Runs the generator. Vector problems give a <see cref="VectorInstance"/>, matrix problems a <see cref="MatrixInstance"/>.</summary>
    public object Generate()
    {
        Validate();
        var unit = Unit switch { Core.Problems.Unit.Cosh => Unit.Cosh, Core.Problems.Unit.Sinh => Unit.Sinh, _ => Unit.Exp };
        try
        {
            return Problem switch
            {
                "normalized" => Generators.Normalized(N, D, Seed, Sparse, Density, XScale ?? 3.0, Planted ? 0.0 : Noise ?? 0.1, Planted),
                "hyperbolic" => Generators.Hyperbolic(N, D, unit, Seed, Sparse, Density, XScale ?? 1.0, Noise ?? 0.0),
                "rescaled" => Generators.Rescaled(N, D, unit, Seed, Sparse, Density, XScale ?? 1.0),
                _ => Generators.Multiple(N, D, Seed, Planted, XScale ?? 1.0, Planted ? 0.0 : Noise ?? 0.1),
            };
        }
        catch (ArgumentOutOfRangeException e)
        {
            // The generator's own checks (e.g. u(A x_true) overflowing for a large x-scale): one line, naming the option.
            string option = e.ParamName switch { "xScale" => "--x-scale", "density" => "--density", "noise" => "--noise", "n" => "--n", "d" => "--d", _ => "generator" };
            string message = e.Message.Split('\n')[0].Replace($" (Parameter '{e.ParamName}')", "").Replace("xScale", "--x-scale");
            throw new ArgumentException($"{option}: {message}", e);
        }
    }
}
