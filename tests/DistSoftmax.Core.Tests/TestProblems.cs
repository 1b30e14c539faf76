using System.Numerics.Tensors;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>A small problem with helpers that evaluate loss, gradient and Hessian through the shard protocol.</summary>
public sealed class TestProblem
{
    public IVectorFamily Family { get; }
    public IRowMatrix A { get; }
    public double[] B { get; }
    public Regularizer Reg { get; }
    public int D => A.Cols;
    public int N => A.Rows;

    public TestProblem(IVectorFamily family, IRowMatrix a, double[] b, Regularizer reg)
    {
        Family = family; A = a; B = b; Reg = reg;
    }

    public VectorObjective Objective => new(Family, D, N);

    public InProcessDriver Driver(int shards = 1, ShardComputeOptions? compute = null) =>
        new(ShardLayout.VectorShards(Family, A, B, Reg, shards, compute));

    public static DenseMatrix Gaussian(int n, int d, ulong seed, double scale = 1.0)
    {
        var rng = new Rng(seed);
        var m = new DenseMatrix(n, d);
        rng.FillNormal(m.Data, scale / Math.Sqrt(d));
        return m;
    }

    public static double[] Vector(int n, ulong seed, double scale = 1.0)
    {
        var v = new double[n];
        new Rng(seed).FillNormal(v, scale);
        return v;
    }

    public static double[] Softmax(DenseMatrix a, double[] x)
    {
        var z = new double[a.Rows];
        for (int i = 0; i < a.Rows; i++) z[i] = TensorPrimitives.Dot(a.Row(i), x);
        double m = z.Max();
        var e = z.Select(v => Math.Exp(v - m)).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    /// <summary>A distribution b: a Dirichlet draw.</summary>
    public static double[] Distribution(int n, ulong seed) => new Rng(seed).NextDirichlet(n);

    public static IEnumerable<IVectorFamily> AllFamilies()
    {
        yield return NormalizedSoftmax.Instance;
        foreach (var u in UnitCatalog.All)
        {
            yield return new RescaledRegression(u);
            yield return new HyperbolicRegression(u);
        }
    }

    public static IVectorFamily FamilyNamed(string name) => AllFamilies().Single(f => f.Name == name);
}

/// <summary>Loss, gradient, Hessian and H·v of a problem at x, evaluated through a driver.</summary>
public sealed record Evaluation(double Loss, double[] Gradient, double[] Hessian, double[] LowRank, double[] Globals)
{
    public static Evaluation At(InProcessDriver driver, IObjective objective, double[] x, HessianKind kind = HessianKind.Exact)
    {
        var scalars = (ScalarsReply)driver.Evaluate(new ScalarsRequest(x));
        var point = objective.Evaluate(x, scalars);
        var grad = (GradientReply)driver.Evaluate(new GradientRequest(x, point.Globals, kind, true));
        var gram = (GramReply)driver.Evaluate(new GramRequest(x, point.Globals, kind));
        int d = objective.Dimension;
        var h = Packed.ToSymmetric(gram.PackedUpper, d);
        var c = objective.LowRankCoefficients(point.Globals, kind);
        int k = objective.LowRankCount;
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++)
                        h[i * d + j] += c[a * k + b] * grad.LowRank[a * d + i] * grad.LowRank[b * d + j];
        return new Evaluation(point.Loss, grad.Gradient, h, grad.LowRank, point.Globals);
    }

    public static double LossAt(InProcessDriver driver, IObjective objective, double[] x) =>
        objective.Evaluate(x, (ScalarsReply)driver.Evaluate(new ScalarsRequest(x))).Loss;
}

public static class Assertions
{
    public static double RelativeError(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected)
    {
        var diff = new double[actual.Length];
        TensorPrimitives.Subtract(actual, expected, diff);
        return TensorPrimitives.Norm<double>(diff) / Math.Max(TensorPrimitives.Norm(expected), 1e-300);
    }
}
