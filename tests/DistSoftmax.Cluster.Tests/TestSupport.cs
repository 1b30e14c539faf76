using System.Collections;
using System.Reflection;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace DistSoftmax.Cluster.Tests;

/// <summary>A small normalized softmax regression problem held in memory, with its in-process reference solves.</summary>
public sealed class SmallProblem
{
    public DenseMatrix A { get; }
    public double[] B { get; }
    public Regularizer Reg { get; }
    public InMemoryShardLoader Loader { get; } = new();
    public ProblemSource Source { get; }
    public VectorObjective Objective { get; }
    public int N => A.Rows;
    public int D => A.Cols;

    public SmallProblem(int n = 1200, int d = 6, ulong seed = 7, double w = 0.05, string name = "small")
    {
        var data = new double[n * d];
        new Rng(seed).FillNormal(data, 1.5 / Math.Sqrt(d));
        A = new DenseMatrix(n, d, data);
        B = new Rng(seed + 1).NextDirichlet(n);
        Reg = Regularizer.Uniform(w);
        Source = Loader.RegisterVector(name, NormalizedSoftmax.Instance, A, B, Reg);
        Objective = new VectorObjective(NormalizedSoftmax.Instance, d, n);
    }

    public double[] X0 => new double[D];

    public static SolverOptions Options => new() { MaxIterations = 25, RelativeTolerance = 1e-10 };

    /// <summary>The reference: <see cref="InProcessDriver"/> over <paramref name="shards"/> shards.</summary>
    public SolverResult InProcess(string solver, int shards, SolverOptions? options = null) =>
        new InProcessDriver(ShardLayout.VectorShards(NormalizedSoftmax.Instance, A, B, Reg, shards, ShardComputeOptions.Sequential))
            .Solve(SolverCatalog.Create(solver), Objective, X0, options ?? Options);
}

public static class ResultAssert
{
    /// <summary>Same iterates: equal exit, iterations and trace losses, x to <paramref name="tolerance"/> (relative).</summary>
    public static void Equal(SolverResult expected, SolverResult actual, double tolerance)
    {
        Assert.Equal(expected.Solver, actual.Solver);
        Assert.Equal(expected.Exit, actual.Exit);
        Assert.Equal(expected.Iterations, actual.Iterations);
        Assert.Equal(expected.Requests, actual.Requests);
        Assert.Equal(expected.Trace.Count, actual.Trace.Count);
        double scale = Math.Max(1.0, expected.X.Max(Math.Abs));
        for (int i = 0; i < expected.X.Length; i++)
            Assert.True(Math.Abs(expected.X[i] - actual.X[i]) <= tolerance * scale,
                $"x[{i}]: expected {expected.X[i]:R}, got {actual.X[i]:R}");
        Assert.True(Math.Abs(expected.Loss - actual.Loss) <= tolerance * Math.Max(1e-300, Math.Abs(expected.Loss)),
            $"loss: expected {expected.Loss:R}, got {actual.Loss:R}");
        for (int t = 0; t < expected.Trace.Count; t++)
            Assert.True(Math.Abs(expected.Trace[t].Loss - actual.Trace[t].Loss) <= tolerance * Math.Max(1e-300, Math.Abs(expected.Trace[t].Loss)),
                $"trace loss at iteration {t}");
    }

    /// <summary>Bit-for-bit equal iterates (what shard-order merging guarantees).</summary>
    public static void BitIdentical(SolverResult expected, SolverResult actual)
    {
        Equal(expected, actual, 0.0);
        Assert.Equal(expected.X.Select(BitConverter.DoubleToInt64Bits), actual.X.Select(BitConverter.DoubleToInt64Bits));
    }
}

/// <summary>
/// Wraps a loader so that a test can hold one shard's evaluation: the first shard loaded for
/// <see cref="GatedStart"/> blocks at its <see cref="GatedEvaluation"/>-th evaluation (1-based) until
/// <see cref="Release"/>; <see cref="Reached"/> is set when it gets there. Later loads of the same rows
/// (a reassigned shard) never block.
/// </summary>
public sealed class GatedLoader(IShardLoader inner, long gatedStart, int gatedEvaluation) : IShardLoader
{
    private readonly ManualResetEventSlim _gate = new(false);
    private int _gatedLoads;
    public long GatedStart { get; } = gatedStart;
    public int GatedEvaluation { get; } = gatedEvaluation;
    public ManualResetEventSlim Reached { get; } = new(false);
    public int Loads;

    public void Release() => _gate.Set();

    public ProblemShape Describe(ProblemSource source) => inner.Describe(source);

    public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute)
    {
        Interlocked.Increment(ref Loads);
        var shard = inner.Load(source, rows, compute);
        if (rows.Start == GatedStart && Interlocked.Increment(ref _gatedLoads) == 1) return new Gated(shard, this);
        return shard;
    }

    private sealed class Gated(IShard inner, GatedLoader owner) : IShard
    {
        private int _count;
        public long RowOffset => inner.RowOffset;
        public int Rows => inner.Rows;

        public ShardReply Evaluate(ShardRequest request)
        {
            if (++_count == owner.GatedEvaluation)
            {
                owner.Reached.Set();
                owner._gate.Wait(TimeSpan.FromSeconds(60));
            }
            return inner.Evaluate(request);
        }
    }
}

/// <summary>A loader whose shards answer every request with a fixed reply (payload-size tests).</summary>
public sealed class FixedReplyLoader(ShardReply reply, long rows) : IShardLoader
{
    public ProblemShape Describe(ProblemSource source) => new(new VectorObjective(NormalizedSoftmax.Instance, 1, rows), rows);
    public IShard Load(ProblemSource source, RowRange range, ShardComputeOptions compute) => new Fixed(reply, range);

    private sealed class Fixed(ShardReply reply, RowRange range) : IShard
    {
        public long RowOffset => range.Start;
        public int Rows => range.Count;
        public ShardReply Evaluate(ShardRequest request) => reply;
    }
}

/// <summary>A loader that always fails (load-failure tests).</summary>
public sealed class FailingLoader(IShardLoader inner, string message) : IShardLoader
{
    public ProblemShape Describe(ProblemSource source) => inner.Describe(source);
    public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute) => throw new IOException(message);
}

/// <summary>
/// Structural equality of everything a message carries: public properties recursively, sequences element by element,
/// doubles bit for bit (so NaN, ±0 and ±∞ must survive exactly). Returns the path of the first difference.
/// </summary>
public static class DeepEquality
{
    public static string? FirstDifference(object? expected, object? actual, string path = "$")
    {
        if (expected is null || actual is null)
            return expected is null && actual is null ? null : $"{path}: one side is null";
        if (expected.GetType() != actual.GetType()) return $"{path}: type {expected.GetType().Name} vs {actual.GetType().Name}";
        switch (expected)
        {
            case double d:
                return BitConverter.DoubleToInt64Bits(d) == BitConverter.DoubleToInt64Bits((double)actual) ? null : $"{path}: {d:R} vs {actual:R}";
            case string or bool or int or long or ulong or byte or Enum:
                return expected.Equals(actual) ? null : $"{path}: {expected} vs {actual}";
            case IEnumerable seq:
            {
                var a = seq.Cast<object?>().ToList();
                var b = ((IEnumerable)actual).Cast<object?>().ToList();
                if (a.Count != b.Count) return $"{path}: {a.Count} vs {b.Count} elements";
                for (int i = 0; i < a.Count; i++)
                    if (FirstDifference(a[i], b[i], $"{path}[{i}]") is { } diff) return diff;
                return null;
            }
        }
        var props = expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.Name != "EqualityContract").ToList();
        if (props.Count == 0) return ReferenceEquals(expected, actual) || expected.Equals(actual) ? null : $"{path}: {expected} vs {actual}";
        foreach (var p in props)
            if (FirstDifference(p.GetValue(expected), p.GetValue(actual), $"{path}.{p.Name}") is { } diff) return diff;
        return null;
    }
}
