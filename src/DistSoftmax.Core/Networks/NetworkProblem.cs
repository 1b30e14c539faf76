using System.Globalization;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
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
/// <see cref="Kind"/> with parameters "data" and "targets" (matrix files, read by the delegate the host supplies,
/// e.g. the .npy reader), "activation", "width", "output-seed" and "init" ("random" or "paired").
/// The second layer a is drawn from "output-seed" on every node, so it never travels.
/// The reader returns a whole matrix; a worker slices its rows from it.
/// </summary>
public sealed class NetworkShardLoader(Func<string, DenseMatrix> readMatrix) : IShardLoader
{
    public const string Kind = "network";

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
        var (model, x, _) = Read(source);
        return new ProblemShape(new NetworkObjective(model, x.Rows), x.Rows);
    }

    public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute)
    {
        var (model, x, y) = Read(source);
        if (rows.Start < 0 || rows.Start + rows.Count > x.Rows)
            throw new ArgumentException($"rows {rows.Start}..{rows.Start + rows.Count - 1} lie outside the {x.Rows} rows of {source.Require("data")}");
        return new NetworkShard(model, x.SliceDense((int)rows.Start, rows.Count), y.SliceDense((int)rows.Start, rows.Count), rows.Start, compute);
    }

    /// <summary>The model and the whole data of a source.</summary>
    public (NetworkModel Model, DenseMatrix Inputs, DenseMatrix Targets) Read(ProblemSource source)
    {
        if (source.Kind != Kind) throw new ArgumentException($"the network loader cannot load a '{source.Kind}' source");
        var x = readMatrix(source.Require("data"));
        var y = readMatrix(source.Require("targets"));
        if (y.Rows != x.Rows) throw new ArgumentException($"{source.Require("data")} has {x.Rows} rows but {source.Require("targets")} has {y.Rows}");
        var activation = Activations.Parse(source.Require("activation"));
        int width = int.Parse(source.Require("width"), CultureInfo.InvariantCulture);
        ulong seed = ulong.Parse(source.Require("output-seed"), CultureInfo.InvariantCulture);
        bool paired = source.Require("init") switch
        {
            "paired" => true,
            "random" => false,
            var other => throw new ArgumentException($"--init: unknown initialisation '{other}' (allowed: random, paired)"),
        };
        return (NetworkModel.Create(activation, x.Cols, width, y.Cols, seed, paired), x, y);
    }
}
