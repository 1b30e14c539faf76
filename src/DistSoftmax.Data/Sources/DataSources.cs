using DistSoftmax.Core;
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

    /// <summary>The problem names, vector families first (<see cref="Families.Names"/>).</summary>
    public static IReadOnlyList<string> Problems => Families.Names;

    /// <summary>Whether the problem is a matrix problem (<see cref="Families.IsMatrix"/>; throws for an unknown name).</summary>
    public static bool IsMatrixProblem(string problem) => Families.IsMatrix(problem);

    /// <summary>Whether the problem's loss depends on a unit u (<see cref="Families.HasUnit"/>; throws for an unknown name).</summary>
    public static bool HasUnit(string problem) => Families.HasUnit(problem);

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
        var p = Common(problem, UnitCatalog.Default);
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
    public static GeneratedSpec DemoSpec { get; } = new(Families.Normalized, UnitCatalog.Default, 20000, 50, 42, XScale: 3.0, Noise: 0.1);

    public static string ProblemOf(ProblemSource source) => source.Require("problem");

    public static Unit UnitOf(ProblemSource source) => UnitCatalog.Parse(source.Get(UnitKey) ?? UnitCatalog.Default.Name());

    internal static void CheckProblem(string problem, bool? matrix = null) => Families.Check(problem, matrix);

    private static List<KeyValuePair<string, string>> Common(string problem, Unit unit)
    {
        var p = new List<KeyValuePair<string, string>> { new("problem", problem) };
        if (HasUnit(problem)) p.Add(new(UnitKey, unit.Name()));
        return p;
    }

    /// <summary>The source parameter holding the unit's name.</summary>
    private const string UnitKey = "unit";

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
    /// <summary>Checks the arguments; a bad one throws a <see cref="ParameterException"/> naming this record's property.</summary>
    public GeneratedSpec Validate()
    {
        DataSources.CheckProblem(Problem);
        bool matrix = DataSources.IsMatrixProblem(Problem);
        if (N < 1) throw new ParameterException(nameof(N), N, "must be at least 1");
        if (D < 1) throw new ParameterException(nameof(D), D, "must be at least 1");
        if (matrix && (long)N * N > Array.MaxLength)
            throw new ParameterException(nameof(N), N, $"{N} is too large for a matrix problem (B is n×n)");
        if ((long)N * D > Array.MaxLength)
            throw new ParameterException(nameof(N), N, $"{N} × {{0}} {D} = {(long)N * D} entries is too large for one matrix (at most {Array.MaxLength})", related: [nameof(D)]);
        if (Sparse && matrix) throw new ParameterException(nameof(Sparse), Sparse, "is only available for vector problems");
        if (Sparse && !(Density > 0 && Density <= 1)) throw new ParameterException(nameof(Density), Density, "must be in (0, 1]");
        if (XScale is double s && !(s >= 0 && double.IsFinite(s))) throw new ParameterException(nameof(XScale), s, "must be a finite number ≥ 0");
        if (Noise is double r)
        {
            if (Problem == Families.Rescaled)
                throw new ParameterException(nameof(Noise), r, "is not available for rescaled instances (they are always planted)");
            if (Problem == Families.Hyperbolic ? !(r >= 0 && double.IsFinite(r)) : !(r >= 0 && r <= 1))
                throw new ParameterException(nameof(Noise), r, Problem == Families.Hyperbolic ? "must be a finite number ≥ 0" : "must be in [0, 1]");
            if (Planted && r > 0)
                throw new ParameterException(nameof(Noise), r, "must be 0 (or absent) for a {0} instance", related: [nameof(Planted)]);
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
        try
        {
            return Problem switch
            {
                Families.Normalized => Generators.Normalized(N, D, Seed, Sparse, Density, XScale ?? 3.0, Planted ? 0.0 : Noise ?? 0.1, Planted),
                Families.Hyperbolic => Generators.Hyperbolic(N, D, Unit, Seed, Sparse, Density, XScale ?? 1.0, Noise ?? 0.0),
                Families.Rescaled => Generators.Rescaled(N, D, Unit, Seed, Sparse, Density, XScale ?? 1.0),
                Families.MultipleNormalized or Families.MultipleRescaled => Generators.Multiple(N, D, Seed, Planted, XScale ?? 1.0, Planted ? 0.0 : Noise ?? 0.1),
                _ => throw new ParameterException(Families.ProblemParameter, Problem, $"no generator for problem '{Problem}'", Families.Names),
            };
        }
        catch (ArgumentOutOfRangeException e)
        {
            // The generator's own checks (e.g. u(A x_true) overflowing for a large x-scale), which name its arguments:
            // one line, naming this record's property, with the argument's name in the text a hole for that property.
            string parameter = GeneratorArguments.FirstOrDefault(a => a.Argument == e.ParamName).Property ?? GeneratorParameter;
            string text = e.Message.Split('\n')[0].Replace($" (Parameter '{e.ParamName}')", "");
            bool refers = e.ParamName is not null && parameter != GeneratorParameter && text.Contains(e.ParamName);
            // A requirement with holes is a composite format: escape its braces before making the hole.
            string requirement = refers ? text.Replace("{", "{{").Replace("}", "}}").Replace(e.ParamName!, "{0}") : text;
            throw new ParameterException(parameter, e.ActualValue, requirement, related: refers ? [parameter] : null, inner: e);
        }
    }

    /// <summary>The neutral parameter of a generator failure that names none of its arguments.</summary>
    public const string GeneratorParameter = "Generator";

    /// <summary>The <see cref="Generators"/> argument names and the properties of this record they come from.</summary>
    private static readonly (string Argument, string Property)[] GeneratorArguments =
        [("xScale", nameof(XScale)), ("density", nameof(Density)), ("noise", nameof(Noise)), ("n", nameof(N)), ("d", nameof(D))];
}
