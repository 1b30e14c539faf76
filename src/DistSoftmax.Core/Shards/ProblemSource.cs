using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Shards;

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

/// <summary>What a coordinator needs to know of a source before any worker loads rows.</summary>
public sealed record ProblemShape(IObjective Objective, long Rows);

/// <summary>
/// Turns a <see cref="ProblemSource"/> into shards. Workers call <see cref="Load"/> for their own row range only;
/// the coordinator calls <see cref="Describe"/> (sizes and the objective) without loading the rows.
/// Implementations must be deterministic: the same source and range give the same shard on every node.
/// </summary>
public interface IShardLoader
{
    ProblemShape Describe(ProblemSource source);
    IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute);
}

/// <summary>
/// A loader for problems held in memory under a name (tests and the single-process simulation): source kind
/// "memory" with parameter "name". Shards are sliced from the registered whole problem.
/// </summary>
public sealed class InMemoryShardLoader : IShardLoader
{
    private readonly Dictionary<string, Func<RowRange, ShardComputeOptions, IShard>> _factories = new();
    private readonly Dictionary<string, ProblemShape> _shapes = new();

    public ProblemSource Register(string name, ProblemShape shape, Func<RowRange, ShardComputeOptions, IShard> factory)
    {
        lock (_factories)
        {
            _factories[name] = factory;
            _shapes[name] = shape;
        }
        return ProblemSource.Create("memory", new[] { KeyValuePair.Create("name", name) });
    }

    /// <summary>Registers a vector problem held as whole arrays.</summary>
    public ProblemSource RegisterVector(string name, Problems.IVectorFamily family, Linear.IRowMatrix a, double[] b, Regularizer reg) =>
        Register(name, new ProblemShape(new VectorObjective(family, a.Cols, a.Rows, a.StoredEntries), a.Rows),
            (r, compute) => new VectorShard(family, a.SliceRows((int)r.Start, r.Count),
                b.AsSpan((int)r.Start, r.Count).ToArray(), reg.Slice((int)r.Start, r.Count), r.Start, compute));

    public ProblemShape Describe(ProblemSource source)
    {
        lock (_factories) return _shapes[NameOf(source)];
    }

    public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute)
    {
        Func<RowRange, ShardComputeOptions, IShard> f;
        lock (_factories) f = _factories[NameOf(source)];
        return f(rows, compute);
    }

    private static string NameOf(ProblemSource source) =>
        source.Kind == "memory" ? source.Require("name") : throw new ArgumentException($"the in-memory loader cannot load a '{source.Kind}' source");
}
