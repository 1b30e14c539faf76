using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using DistSoftmax.Core.Analysis;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// report.json: everything needed to reproduce and judge a solve. Written with System.Text.Json, indented, camelCase
/// property names, enum values in kebab-case ("max-iterations", "gauss-newton"), non-finite numbers as "NaN" / "Infinity".
/// </summary>
internal sealed record SolveReport
{
    public string Tool { get; init; } = "dist-softmax";
    public required string Version { get; init; }
    /// <summary>The arguments of the solve command as given.</summary>
    public required IReadOnlyList<string> Arguments { get; init; }
    public required DateTimeOffset StartedAt { get; init; }

    public required string Problem { get; init; }
    /// <summary>exp, cosh or sinh for rescaled and hyperbolic; null for the families without a unit.</summary>
    public string? Unit { get; init; }
    /// <summary>Whether this was the built-in demo instance (solve with no data files).</summary>
    public required bool Demo { get; init; }
    /// <summary>Where the rows came from, as the workers were told: kind ("files" or "generated") and parameters.</summary>
    public required SourceReport Source { get; init; }
    public required SizesReport Sizes { get; init; }
    /// <summary>Input files by option (--A, --b, --w, --A1, --A2, --B, --W, --x0), absolute paths.</summary>
    public required IReadOnlyDictionary<string, string> Inputs { get; init; }

    /// <summary>The starting point: "zeros", "file PATH", or the random start of cosh problems.</summary>
    public required string Start { get; init; }
    public required string Solver { get; init; }
    /// <summary>How the solver globalised its steps: "line-search", "trust-region", or "none".</summary>
    public required string Globalization { get; init; }
    /// <summary>Why the solver was chosen (matrix problems with --solver auto); null otherwise.</summary>
    public string? SolverChoiceReason { get; init; }
    /// <summary>Every solver option, including defaults.</summary>
    public required SolverOptions Options { get; init; }
    public required ulong Seed { get; init; }
    public required string Backend { get; init; }
    public required int Workers { get; init; }
    /// <summary>Cluster settings for --seeds jobs; null otherwise.</summary>
    public ClusterReport? Cluster { get; init; }

    public required ExitCondition Exit { get; init; }
    public required bool Converged { get; init; }
    public required string Message { get; init; }
    public required int Iterations { get; init; }
    public required double FinalLoss { get; init; }
    public required double InitialGradientNorm { get; init; }
    public required double FinalGradientNorm { get; init; }
    /// <summary>Statistics requests the solver issued (each one fan-out to the workers).</summary>
    public required long Requests { get; init; }
    public required IReadOnlyList<string> Warnings { get; init; }
    /// <summary>One entry per iteration, iteration 0 being the starting point.</summary>
    public required IReadOnlyList<TraceEntry> Trace { get; init; }
    /// <summary>The regime at x* (post-solve analysis: λ range, seed 001's conditions, collapse); null when it was not run.</summary>
    public Regime? Regime { get; init; }
    public required WallTimeReport WallTime { get; init; }
    public required FilesReport Files { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        // Generated metadata first (fast start); reflection for anything else written with these options.
        TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.Combine(
            ReportJsonContext.Default, new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver()),
    };

    public byte[] ToUtf8() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>
    /// Builds the serialization metadata of every type report.json holds (<see cref="ReportJsonContext"/>'s), as the
    /// first <see cref="ToUtf8"/> would: its JIT (framework generics over value types that no precompiled image holds)
    /// took ≈ 85 ms after the analysis of the 200000×100 benchmark. For a warm-up in idle CPU while the solve runs.
    /// </summary>
    public static void BuildJsonMetadata()
    {
        foreach (var property in typeof(ReportJsonContext).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
            if (property.PropertyType.IsGenericType && property.PropertyType.GetGenericTypeDefinition() == typeof(System.Text.Json.Serialization.Metadata.JsonTypeInfo<>))
                Json.GetTypeInfo(property.PropertyType.GetGenericArguments()[0]);
        // And the converters' write paths, through two of its parts (numbers, enums, nullables, lists).
        JsonSerializer.SerializeToUtf8Bytes(new SolverOptions(), Json);
        JsonSerializer.SerializeToUtf8Bytes<IReadOnlyList<TraceEntry>>([new TraceEntry(0, 1, 1, 0, 0, 0, 0)], Json);
    }
}

/// <summary>A problem source as report.json shows it: numeric parameters (n, d, seed, density, noise, x-scale, w-scalar) as JSON numbers, flags as booleans, paths and names as strings.</summary>
internal sealed record SourceReport(string Kind, IReadOnlyDictionary<string, JsonNode?> Parameters)
{
    /// <summary>Parameters whose values are file paths: always strings, even when a name looks like a number.</summary>
    private static readonly HashSet<string> PathKeys = ["A", "b", "w", "A1", "A2", "B", "W"];

    public static SourceReport From(Core.Sources.ProblemSource source) =>
        new(source.Kind, source.Parameters.ToDictionary(p => p.Key, p => Value(p.Key, p.Value)));

    private static JsonNode? Value(string key, string text)
    {
        if (PathKeys.Contains(key)) return JsonValue.Create(text);
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        if (text is "true" or "false") return JsonValue.Create(text == "true");
        if (ulong.TryParse(text, System.Globalization.NumberStyles.None, invariant, out ulong whole)) return JsonValue.Create(whole);
        if (double.TryParse(text, System.Globalization.NumberStyles.Float, invariant, out double real) && double.IsFinite(real)) return JsonValue.Create(real);
        return JsonValue.Create(text);
    }
}

/// <param name="N">Rows: of A (vector problems) or of A1 and B (matrix problems).</param>
/// <param name="D">Columns of A (or of A1 and A2).</param>
/// <param name="Unknowns">d for vector problems, d² for matrix problems.</param>
/// <param name="Nnz">Non-zero entries of A (of A1 and A2 together for matrix problems).</param>
/// <param name="TargetColumns">Columns of B (matrix problems only).</param>
internal sealed record SizesReport(long N, int D, long Unknowns, long Nnz, int? TargetColumns);

/// <param name="Host">--host, or null when DISTSOFTMAX_HOST / cluster.conf decided.</param>
/// <param name="Port">--port, or 0 (any free port), or null when DISTSOFTMAX_PORT decided.</param>
internal sealed record ClusterReport(IReadOnlyList<string> Seeds, int MinWorkers, string? Host, int? Port);

/// <param name="SolveSeconds">The solver's own clock: from its first request to its result.</param>
/// <param name="TotalSeconds">The whole command: reading and checking input, solving, writing x.npy and the plot.</param>
/// <param name="AnalysisSeconds">The post-solve analysis at x* (rows loaded again here, regime, --save arrays).</param>
internal sealed record WallTimeReport(double SolveSeconds, double TotalSeconds, double AnalysisSeconds = 0);

/// <summary>Absolute paths of the files written (the --save arrays only when written).</summary>
internal sealed record FilesReport(string X, string Report, string Plot,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Fitted = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Residual = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Gradient = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Hessian = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? HessianEigenvalues = null);
