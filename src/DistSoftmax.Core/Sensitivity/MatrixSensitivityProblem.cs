using DistSoftmax.Core;
using System.Diagnostics;
using System.Numerics.Tensors;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// A multiple softmax regression (tensor trick) whose matrices named in <see cref="Parts"/> ("A1", "A2", "B") are
/// perturbed. Output: the attention matrix, row j = softmax(z_j) of M = A1 X A2ᵀ (both matrix families fit each
/// row's normalised exp to B_j), m×n values row-major.
/// </summary>
public sealed record MatrixSensitivityProblem(MatrixProblem Problem, IReadOnlyList<string> Parts) : ISensitivityProblem
{
    public static readonly string[] AllParts = { "A1", "A2", "B" };

    public string Name => Problem.Name;
    public long Rows => Problem.Rows;
    public int Dimension => Problem.Side * Problem.Side;
    public IObjective Objective => Problem.Objective;
    public IReadOnlyList<string> PerturbedParts => Parts;
    public double DataNorm => Math.Sqrt(Parts.Sum(p => Math.Pow(TensorPrimitives.Norm<double>(Part(p).Data), 2)));

    /// <summary>
    /// The problem's shards on an in-process driver. One shard reads the problem's own matrices (no copy of the m×n B:
    /// 512 MiB for an n = 8192 attention head); several own copies of their rows (<see cref="MatrixProblemShards.Shards"/>).
    /// </summary>
    public InProcessDriver Driver(int shards, ShardComputeOptions? compute = null) => shards == 1
        ? new(new IShard[] { new MatrixShard(Problem.RowFamily, Problem.A1, Problem.A2, Problem.B, Problem.W, 0, compute) })
        : new(Problem.Shards(shards, compute));

    public ProblemSource Register(InMemoryShardLoader loader, string name) => loader.RegisterMatrix(name, Problem);

    private DenseMatrix Part(string name) => name switch
    {
        "A1" => Problem.A1,
        "A2" => Problem.A2,
        "B" => Problem.B,
        _ => throw new ParameterException(nameof(Parts), name, $"unknown matrix '{name}'", AllParts),
    };

    public Perturbation Direction(ulong seed, int k)
    {
        var parts = new List<IRowMatrix>();
        double total = 0;
        for (int i = 0; i < Parts.Count; i++)
        {
            var m = Part(Parts[i]);
            var data = new double[m.Data.Length];
            Rng.ForStream(seed, 6, (ulong)k, (ulong)i).FillNormal(data);
            total += TensorPrimitives.Dot<double>(data, data);
            parts.Add(new DenseMatrix(m.Rows, m.Cols, data));
        }
        double scale = 1.0 / Math.Sqrt(total);
        foreach (DenseMatrix p in parts) TensorPrimitives.Multiply(p.Data, scale, p.Data);
        return new Perturbation(parts);
    }

    public ISensitivityProblem Perturbed(Perturbation delta, double t)
    {
        DenseMatrix a1 = Problem.A1, a2 = Problem.A2, b = Problem.B;
        for (int i = 0; i < Parts.Count; i++)
        {
            var moved = (DenseMatrix)SensitivityAnalysis.Add(Part(Parts[i]), delta.Parts[i], t);
            switch (Parts[i]) { case "A1": a1 = moved; break; case "A2": a2 = moved; break; default: b = moved; break; }
        }
        return this with { Problem = new MatrixProblem(Problem.Name, Problem.RowFamily, a1, a2, b, Problem.W) };
    }

    public DataLinearization Linearize(double[] x) => new MatrixLinearization(Problem, Parts, x);

    /// <summary>The parts' entries, concatenated into one preallocated array (a lazy concatenation would grow by doubling).</summary>
    public double[] Flatten(Perturbation delta)
    {
        var parts = delta.Parts.Select(SensitivityAnalysis.Dense).ToArray();
        var flat = new double[parts.Sum(p => (long)p.Data.Length)];
        long offset = 0;
        foreach (var p in parts)
        {
            Array.Copy(p.Data, 0, flat, offset, p.Data.Length);
            offset += p.Data.Length;
        }
        return flat;
    }

    public Perturbation FromFlat(ReadOnlySpan<double> flat)
    {
        var parts = new List<IRowMatrix>();
        int offset = 0;
        foreach (var name in Parts)
        {
            var m = Part(name);
            parts.Add(new DenseMatrix(m.Rows, m.Cols, flat.Slice(offset, m.Data.Length).ToArray()));
            offset += m.Data.Length;
        }
        if (offset != flat.Length) throw new ArgumentException($"a flattened perturbation of {string.Join(", ", Parts)} has {offset} entries, got {flat.Length}");
        return new Perturbation(parts);
    }

    public double[] Output(double[] x)
    {
        int m = Problem.Rows, n = Problem.A2.Rows, d = Problem.Side;
        var a1x = new double[m * d];
        for (int j = 0; j < m; j++)
            for (int p = 0; p < d; p++)
            {
                double s = 0;
                for (int q = 0; q < d; q++) s += Problem.A1[j, q] * x[q * d + p];
                a1x[j * d + p] = s;
            }
        var z = new double[m * n];
        for (int j = 0; j < m; j++)
        {
            for (int i = 0; i < n; i++) z[j * n + i] = TensorPrimitives.Dot(a1x.AsSpan(j * d, d), Problem.A2.Row(i));
            SensitivityAnalysis.SoftmaxInPlace(z.AsSpan(j * n, n));
        }
        return z;
    }
}
