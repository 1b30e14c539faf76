using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Networks;

/// <summary>
/// Rows [RowOffset, RowOffset + n) of a training set (inputs X_k, n×d; targets Y_k, n×k) for a two-layer network.
/// The loss ½Σ_i ‖F(W, x_i) − y_i‖² is a plain sum over rows, so every statistic is a sum of per-row terms:
///
///   <see cref="ScalarsRequest"/>           → the loss of the shard's rows as one power-0 <see cref="ScalarSums"/> entry;
///   <see cref="GradientRequest"/>          → Σ_i x_i δ_iᵀ over all rows (d·m values, vec(W) row-major);
///   <see cref="MiniBatchGradientRequest"/> → the same sum over the rows of one mini-batch.
///
/// Globals, Hessian kind, low-rank and sketch fields of a <see cref="GradientRequest"/> do not apply and are ignored.
/// Rows are processed in fixed blocks (<see cref="RowBlocks"/>) summed in block order, so answers are bit-for-bit
/// reproducible whatever the thread count. A full gradient pass also yields the loss at the same W, which is kept
/// so that a following ScalarsRequest at that W costs nothing (the cached value is the one a fresh pass computes).
/// </summary>
public sealed class NetworkShard : IShard
{
    private readonly NetworkModel _model;
    private readonly double[] _x, _y;
    private readonly ShardComputeOptions _compute;
    private readonly RowBlocks _blocks;
    private readonly int[] _all;

    private double[]? _lossW;
    private double _loss;

    public long RowOffset { get; }
    public int Rows { get; }
    public NetworkModel Model => _model;

    /// <param name="inputs">n×d inputs (the shard's rows).</param>
    /// <param name="targets">n×k targets.</param>
    public NetworkShard(NetworkModel model, DenseMatrix inputs, DenseMatrix targets, long rowOffset, ShardComputeOptions? compute = null)
    {
        if (inputs.Cols != model.InputDim)
            throw new ArgumentException($"the inputs have {inputs.Cols} columns but the network takes {model.InputDim} features");
        if (targets.Cols != model.Outputs)
            throw new ArgumentException($"the targets have {targets.Cols} columns but the network has {model.Outputs} outputs");
        if (targets.Rows != inputs.Rows)
            throw new ArgumentException($"{inputs.Rows} input rows but {targets.Rows} target rows");
        _model = model;
        _x = inputs.Data;
        _y = targets.Data;
        Rows = inputs.Rows;
        RowOffset = rowOffset;
        _compute = compute ?? ShardComputeOptions.Default;
        _blocks = RowBlocks.For(Rows);
        _all = Enumerable.Range(0, Rows).ToArray();
    }

    public ShardReply Evaluate(ShardRequest request) => request switch
    {
        ScalarsRequest r => Scalars(r.X),
        GradientRequest r => Gradient(r.X, null),
        MiniBatchGradientRequest r => Gradient(r.X, r),
        _ => throw new NotSupportedException($"a network shard cannot answer {request.GetType().Name}"),
    };

    private ScalarsReply Scalars(double[] w)
    {
        _model.CheckParameters(w);
        if (_lossW is null || !_lossW.AsSpan().SequenceEqual(w))
        {
            var parts = new double[_blocks.BlockCount];
            _blocks.Run(_compute, k =>
            {
                var (s, e) = _blocks[k];
                parts[k] = _model.Accumulate(_x, _y, _all.AsSpan(s, e - s), w, Span<double>.Empty, new NetworkModel.Workspace(_model));
            });
            Remember(w, parts);
        }
        return new ScalarsReply(new ScalarSums(0.0, new[] { _loss }, LossPowers), 0.0, Rows);
    }

    internal static readonly int[] LossPowers = { 0 };

    private void Remember(double[] w, double[] blockLosses)
    {
        double loss = 0;
        foreach (var l in blockLosses) loss += l;
        _loss = loss;
        _lossW = (double[])w.Clone();
    }

    /// <summary>Σ x_i δ_iᵀ over all rows (batch null) or over the rows of one mini-batch.</summary>
    private GradientReply Gradient(double[] w, MiniBatchGradientRequest? batch)
    {
        _model.CheckParameters(w);
        int len = _model.ParameterCount;
        var parts = new double[_blocks.BlockCount][];
        var losses = new double[_blocks.BlockCount];
        ulong key = batch?.EpochKey ?? 0;
        int batches = batch is null ? 1 : MiniBatchGradientRequest.BatchesPerEpoch(batch.BatchFraction);
        _blocks.Run(_compute, k =>
        {
            var (s, e) = _blocks[k];
            ReadOnlySpan<int> rows = _all.AsSpan(s, e - s);
            if (batch is not null)
            {
                var selected = new List<int>();
                for (int i = s; i < e; i++)
                    if (MiniBatchGradientRequest.BatchOf(key, RowOffset + i, batch.BatchFraction, batches) == batch.Batch) selected.Add(i);
                rows = selected.ToArray();
            }
            var g = new double[len];
            losses[k] = _model.Accumulate(_x, _y, rows, w, g, new NetworkModel.Workspace(_model));
            parts[k] = g;
        });
        var total = parts[0];
        for (int k = 1; k < parts.Length; k++) SpanMath.Add(total, parts[k], total);
        if (batch is null) Remember(w, losses);
        return new GradientReply(total, Array.Empty<double>(), Array.Empty<double>());
    }
}
