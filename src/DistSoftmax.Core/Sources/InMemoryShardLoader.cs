using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;

namespace DistSoftmax.Core.Sources;

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
    public ProblemSource RegisterVector(string name, IVectorFamily family, IRowMatrix a, double[] b, Regularizer reg) =>
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
