using System.Globalization;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Networks;

/// <summary>
/// The training loss L(W) = ½ Σ_i ‖F(W, x_i) − y_i‖² of a network over n rows, seen by a solver: x = vec(W)
/// (d·m unknowns), the merged ScalarsReply's single sum is the loss. No Hessian statistics (LowRankCount 0, no row
/// sampling): network problems are trained by <see cref="NetworkTrainer"/>.
/// </summary>
public sealed class NetworkObjective : IObjective
{
    public NetworkModel Model { get; }
    public long Rows { get; }

    public NetworkObjective(NetworkModel model, long rows)
    {
        Model = model;
        Rows = rows;
    }

    public string Name => $"network-{Model.Activation.Name()}";
    public int Dimension => Model.ParameterCount;
    public int LowRankCount => 0;
    public bool SupportsRowSampling => false;

    public PointEvaluation Evaluate(double[] x, ScalarsReply merged, double[]? reference = null)
    {
        double loss = merged.Family.Sums[0];
        return new PointEvaluation(x, loss, new[] { loss });
    }

    public double[] LowRankCoefficients(double[] globals, HessianKind kind) => Array.Empty<double>();
}

/// <summary>A whole training set in memory with its network: shards for any layout, the objective, predictions.</summary>
public sealed class NetworkProblem
{
    public NetworkModel Model { get; }
    /// <summary>n×d inputs.</summary>
    public DenseMatrix Inputs { get; }
    /// <summary>n×k targets.</summary>
    public DenseMatrix Targets { get; }
    public int Rows => Inputs.Rows;

    public NetworkProblem(NetworkModel model, DenseMatrix inputs, DenseMatrix targets)
    {
        if (inputs.Cols != model.InputDim)
            throw new ArgumentException($"the inputs have {inputs.Cols} columns but the network takes {model.InputDim} features");
        if (targets.Cols != model.Outputs || targets.Rows != inputs.Rows)
            throw new ArgumentException($"the targets must be {inputs.Rows}×{model.Outputs}, got {targets.Rows}×{targets.Cols}");
        Model = model;
        Inputs = inputs;
        Targets = targets;
    }

    public NetworkObjective Objective => new(Model, Rows);

    public NetworkShard Shard(RowRange r, ShardComputeOptions? compute = null) =>
        new(Model, Inputs.SliceDense((int)r.Start, r.Count), Targets.SliceDense((int)r.Start, r.Count), r.Start, compute);

    /// <summary>K nearly equal contiguous shards (<see cref="ShardLayout.Split"/>).</summary>
    public NetworkShard[] Shards(int count, ShardComputeOptions? compute = null) =>
        ShardLayout.Split(Rows, count).Select(r => Shard(r, compute)).ToArray();

    public InProcessDriver Driver(int shards, ShardComputeOptions? compute = null, bool parallelShards = false) =>
        new(Shards(shards, compute), parallelShards);

    /// <summary>Registers this problem with an in-memory loader (tests, the local simulation).</summary>
    public ProblemSource RegisterWith(InMemoryShardLoader loader, string name) =>
        loader.Register(name, new ProblemShape(Objective, Rows), (r, compute) => Shard(r, compute));
}

/// <summary>
/// Loads network shards from files, so that workers read only what the coordinator names: source kind
/// <see cref="Kind"/> with parameters "data" and "targets" (matrix files, read by the delegates the host supplies,
/// e.g. the .npy reader), "activation", "width", "output-seed" and "init" ("random" or "paired").
/// The second layer a is drawn from "output-seed" on every node, so it never travels. <see cref="Describe"/> needs
/// only the files' shapes; <see cref="Load"/> reads the worker's rows.
/// </summary>
public sealed class NetworkShardLoader : IShardLoader
{
    /// <summary>The neutral name of the initialisation (random or paired) in <see cref="ParameterException"/>s.</summary>
    public const string InitParameter = "Init";

    public const string Kind = "network";

    private readonly Func<string, (long Rows, int Cols)> _shape;
    private readonly Func<string, long, int, DenseMatrix> _rows;

    /// <param name="shape">(rows, columns) of a matrix file.</param>
    /// <param name="readRows">Rows [start, start + count) of a matrix file.</param>
    public NetworkShardLoader(Func<string, (long Rows, int Cols)> shape, Func<string, long, int, DenseMatrix> readRows)
    {
        _shape = shape;
        _rows = readRows;
    }

    /// <summary>A loader over a whole-matrix reader (rows are sliced from the whole file).</summary>
    public NetworkShardLoader(Func<string, DenseMatrix> readMatrix)
        : this(p => { var m = readMatrix(p); return (m.Rows, m.Cols); }, (p, start, count) => readMatrix(p).SliceDense(checked((int)start), count)) { }

    public static ProblemSource Source(string data, string targets, Activation activation, int width, ulong outputSeed, bool paired) =>
        ProblemSource.Create(Kind, new[]
        {
            KeyValuePair.Create("data", data),
            KeyValuePair.Create("targets", targets),
            KeyValuePair.Create("activation", activation.Name()),
            KeyValuePair.Create("width", width.ToString(CultureInfo.InvariantCulture)),
            KeyValuePair.Create("output-seed", outputSeed.ToString(CultureInfo.InvariantCulture)),
            KeyValuePair.Create("init", paired ? "paired" : "random"),
        });

    public ProblemShape Describe(ProblemSource source)
    {
        var (model, rows) = Model(source);
        return new ProblemShape(new NetworkObjective(model, rows), rows);
    }

    public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute)
    {
        var (model, total) = Model(source);
        if (rows.Start < 0 || rows.Start + rows.Count > total)
            throw new ArgumentException($"rows {rows.Start}..{rows.Start + rows.Count - 1} lie outside the {total} rows of {source.Require("data")}");
        var x = _rows(source.Require("data"), rows.Start, rows.Count);
        var y = _rows(source.Require("targets"), rows.Start, rows.Count);
        return new NetworkShard(model, x, y, rows.Start, compute);
    }

    /// <summary>The network a source describes and the number of training rows (from the files' shapes).</summary>
    public (NetworkModel Model, long Rows) Model(ProblemSource source)
    {
        if (source.Kind != Kind) throw new ArgumentException($"the network loader cannot load a '{source.Kind}' source");
        string data = source.Require("data"), targets = source.Require("targets");
        var (n, d) = _shape(data);
        var (ny, k) = _shape(targets);
        if (ny != n) throw new ArgumentException($"{data} has {n} rows but {targets} has {ny}");
        var activation = Activations.Parse(source.Require("activation"));
        int width = int.Parse(source.Require("width"), CultureInfo.InvariantCulture);
        ulong seed = ulong.Parse(source.Require("output-seed"), CultureInfo.InvariantCulture);
        bool paired = source.Require("init") switch
        {
            "paired" => true,
            "random" => false,
            var other => throw new ParameterException(InitParameter, other, $"unknown initialisation '{other}'", ["random", "paired"]),
        };
        return (NetworkModel.Create(activation, d, width, k, seed, paired), n);
    }
}

/// <summary>
/// Dispatches each source to the loader registered for its kind (e.g. "files" and "generated" to the data loader,
/// "network" to <see cref="NetworkShardLoader"/>), so one worker node serves solves and network training alike.
/// </summary>
public sealed class CompositeShardLoader : IShardLoader
{
    private readonly IReadOnlyDictionary<string, IShardLoader> _byKind;
    private readonly IShardLoader? _fallback;

    public CompositeShardLoader(IReadOnlyDictionary<string, IShardLoader> byKind, IShardLoader? fallback = null)
    {
        _byKind = byKind;
        _fallback = fallback;
    }

    private IShardLoader For(ProblemSource source) =>
        _byKind.TryGetValue(source.Kind, out var l) ? l
        : _fallback ?? throw new ArgumentException($"no loader for sources of kind '{source.Kind}' (known: {string.Join(", ", _byKind.Keys)})");

    public ProblemShape Describe(ProblemSource source) => For(source).Describe(source);

    public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute) => For(source).Load(source, rows, compute);
}
