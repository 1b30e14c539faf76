using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// The solver-core benchmark instance of the issue: A (n×d) with N(0, 1/d) entries, x_true with N(0, 9) entries,
/// b = 0.9·softmax(A x_true) + 0.1·Dirichlet(1,…,1), w = 0, start x = 0.
/// </summary>
public sealed class BenchmarkInstance
{
    public DenseMatrix A { get; }
    public double[] B { get; }
    public int N => A.Rows;
    public int D => A.Cols;

    public BenchmarkInstance(int n = 200_000, int d = 100, ulong seed = 2026)
    {
        var rng = new Rng(seed);
        A = new DenseMatrix(n, d);
        rng.FillNormal(A.Data, 1.0 / Math.Sqrt(d));
        var xTrue = new double[d];
        rng.FillNormal(xTrue, 3.0);
        var z = new double[n];
        for (int i = 0; i < n; i++) z[i] = System.Numerics.Tensors.TensorPrimitives.Dot(A.Row(i), xTrue);
        double m = z.Max(), s = 0;
        for (int i = 0; i < n; i++) { z[i] = Math.Exp(z[i] - m); s += z[i]; }
        var noise = rng.NextDirichlet(n);
        B = new double[n];
        for (int i = 0; i < n; i++) B[i] = 0.9 * z[i] / s + 0.1 * noise[i];
    }

    public VectorObjective Objective => new(NormalizedSoftmax.Instance, D, N);

    public VectorShard[] Shards(int count) =>
        ShardLayout.VectorShards(NormalizedSoftmax.Instance, A, B, Regularizer.None, count);

    /// <summary>
    /// The approximate-Newton iterate after <paramref name="iterations"/> iterations from x0 = 0 (default options):
    /// a point on the solver's own path, where the row curvatures have the spread a real solve sees (at x = 0 they
    /// are all equal).
    /// </summary>
    public double[] ApproximateNewtonIterate(int iterations)
    {
        var options = new SolverOptions { MaxIterations = iterations };
        var run = SolverCatalog.Create("approx-newton").Start(Objective, new double[D], options);
        var driver = new InProcessDriver(Shards(1));
        for (var request = run.Start(); request is not null;) request = run.Submit(driver.Evaluate(request));
        return run.Result!.X;
    }

    /// <summary>A streaming read of A using both cores: the baseline every kernel is compared with.</summary>
    public double StreamingRead()
    {
        var blocks = RowBlocks.For(N);
        var partial = new double[blocks.BlockCount];
        int d = D;
        blocks.Run(ShardComputeOptions.Default, k =>
        {
            var (s, e) = blocks[k];
            partial[k] = System.Numerics.Tensors.TensorPrimitives.Sum(A.Data.AsSpan(s * d, (e - s) * d));
        });
        return partial.Sum();
    }
}
