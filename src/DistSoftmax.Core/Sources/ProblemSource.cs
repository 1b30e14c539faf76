namespace DistSoftmax.Core.Sources;

/// <summary>
/// Where a problem's rows come from, as a small serializable description that any worker can act on: the data
/// never travels, only this. <see cref="Kind"/> names the loader ("files", "generated", "memory", …); the
/// parameters are string key/value pairs (paths, problem, unit, n, d, seed, …) in a fixed, sorted order.
/// </summary>
public sealed record ProblemSource(string Kind, IReadOnlyList<KeyValuePair<string, string>> Parameters)
{
    public static ProblemSource Create(string kind, IEnumerable<KeyValuePair<string, string>> parameters) =>
        new(kind, parameters.OrderBy(p => p.Key, StringComparer.Ordinal).ToArray());

    public string? Get(string key)
    {
        foreach (var p in Parameters) if (p.Key == key) return p.Value;
        return null;
    }

    public string Require(string key) => Get(key) ?? throw new ArgumentException($"problem source '{Kind}' lacks parameter '{key}'");

    public bool Equals(ProblemSource? other) =>
        other is not null && Kind == other.Kind && Parameters.SequenceEqual(other.Parameters);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Kind);
        foreach (var p in Parameters) { h.Add(p.Key); h.Add(p.Value); }
        return h.ToHashCode();
    }

    public override string ToString() => $"{Kind}({string.Join(", ", Parameters.Select(p => $"{p.Key}={p.Value}"))})";
}
