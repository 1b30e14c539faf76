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

/// <summary>Random multiple softmax regressions and an explicit-Kronecker reference for them.</summary>
public static class MatrixTestProblems
{
    /// <summary>
    /// A1, A2 n×d Gaussian (entries N(0, 1/d), so z_j entries are O(‖X‖_F/d)), B n×n with Dirichlet rows,
    /// optional W n×n with entries N(0, 0.3²).
    /// </summary>
    public static MatrixProblem Random(string problem, int n, int d, bool weighted, ulong seed)
    {
        var a1 = TestProblem.Gaussian(n, d, seed + 1);
        var a2 = TestProblem.Gaussian(n, d, seed + 2);
        var b = new DenseMatrix(n, n);
        var rng = new Rng(seed + 3);
        for (int j = 0; j < n; j++) rng.NextDirichlet(n).CopyTo(b.RowMutable(j));
        DenseMatrix? w = null;
        if (weighted)
        {
            w = new DenseMatrix(n, n);
            new Rng(seed + 4).FillNormal(w.Data, 0.3);
        }
        return MatrixProblem.Create(problem, a1, a2, b, w);
    }

    /// <summary>
    /// Columns of unequal scale: A1, A2 n×d Gaussian (seeds 61, 62) with column k scaled by 10^(−1 + 2k/(d − 1)), so H
    /// inherits κ(A1)²κ(A2)², which the Kronecker factors capture exactly; B the row softmax of A1 X A2ᵀ at a random X
    /// (seed 63, entries N(0, 0.3²)).
    /// </summary>
    public static MatrixProblem UnequalColumnScales(int n, int d)
    {
        var a1 = TestProblem.Gaussian(n, d, 61);
        var a2 = TestProblem.Gaussian(n, d, 62);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < d; k++)
            {
                double scale = Math.Pow(10, -1 + 2.0 * k / (d - 1));
                a1[i, k] *= scale;
                a2[i, k] *= scale;
            }
        var b = new DenseMatrix(n, n, RowSoftmax(a1, a2, RandomX(d, 63, 0.3)));
        return MatrixProblem.Create("multiple-normalized", a1, a2, b);
    }

    /// <summary>
    /// A planted problem: A1, A2 n×d Gaussian (seeds seed, seed + 1; A2's column <paramref name="onesColumn"/> all ones
    /// when ≥ 0), X_true with N(0, scale²) entries (seed + 2) and B = the row softmax of A1 X_true A2ᵀ, so the loss is 0 at X_true.
    /// </summary>
    public static MatrixProblem Planted(string problem, int n, int d, ulong seed, out double[] xTrue, int onesColumn = -1, double scale = 1.0)
    {
        var a1 = TestProblem.Gaussian(n, d, seed);
        var a2 = TestProblem.Gaussian(n, d, seed + 1);
        if (onesColumn >= 0)
            for (int i = 0; i < n; i++) a2[i, onesColumn] = 1.0;
        xTrue = RandomX(d, seed + 2, scale);
        var b = new DenseMatrix(n, n, RowSoftmax(a1, a2, xTrue));
        return MatrixProblem.Create(problem, a1, a2, b);
    }

    /// <summary>X with N(0, scale²) entries, row-major (d² values).</summary>
    public static double[] RandomX(int d, ulong seed, double scale = 1.0) => TestProblem.Vector(d * d, seed, scale);

    /// <summary>
    /// The explicit Kronecker product K = A1 ⊗ A2 (mn × d²): K[j·n + i, k·d + l] = A1[j,k]·A2[i,l], so that
    /// K vec(X) = vec(A1 X A2ᵀ) for row-major vec. Built entry by entry, independently of the shard's kernels.
    /// </summary>
    public static DenseMatrix Kronecker(DenseMatrix a1, DenseMatrix a2)
    {
        int m = a1.Rows, n = a2.Rows, d = a1.Cols;
        var k = new DenseMatrix(m * n, d * d);
        for (int j = 0; j < m; j++)
            for (int i = 0; i < n; i++)
                for (int p = 0; p < d; p++)
                    for (int l = 0; l < d; l++)
                        k[j * n + i, p * d + l] = a1[j, p] * a2[i, l];
        return k;
    }

    /// <summary>
    /// The reference: row j of the matrix problem as a vector problem of the same family on rows j·n … j·n+n−1 of
    /// A1 ⊗ A2 with b = B_j and per-row weights W_j, evaluated through the existing vector shards; loss, gradient
    /// and the full Hessian (Gram + that row's low-rank part) summed over j.
    /// </summary>
    public static Evaluation KroneckerReference(MatrixProblem p, double[] x, HessianKind kind)
    {
        int n = p.A2.Rows, dd = p.Side * p.Side;
        var kron = Kronecker(p.A1, p.A2);
        double loss = 0;
        var grad = new double[dd];
        var hess = new double[dd * dd];
        for (int j = 0; j < p.Rows; j++)
        {
            var block = kron.SliceDense(j * n, n);
            var reg = p.W is null ? Regularizer.None : Regularizer.PerRow(p.W.Row(j).ToArray());
            var shard = new VectorShard(p.RowFamily, block, p.B.Row(j).ToArray(), reg, 0, ShardComputeOptions.Sequential);
            var e = Evaluation.At(new InProcessDriver(new[] { shard }), new VectorObjective(p.RowFamily, dd, n), x, kind);
            loss += e.Loss;
            TensorPrimitives.Add(grad, e.Gradient, grad);
            TensorPrimitives.Add(hess, e.Hessian, hess);
        }
        return new Evaluation(loss, grad, hess, Array.Empty<double>(), new[] { loss });
    }

    public static InProcessDriver Driver(MatrixProblem p, int shards, ShardComputeOptions? compute = null) =>
        new(p.Shards(shards, compute ?? ShardComputeOptions.Sequential));

    /// <summary>The shards' H·V (V given as d² values).</summary>
    public static double[] HessianVector(InProcessDriver driver, IObjective objective, double[] x, double[] v,
        HessianKind kind = HessianKind.Exact)
    {
        var point = objective.Evaluate(x, (ScalarsReply)driver.Evaluate(new ScalarsRequest(x)));
        var reply = (HessianVectorReply)driver.Evaluate(new HessianVectorRequest(x, point.Globals, kind, v));
        Assert.Empty(reply.LowRankDots);
        return reply.Product;
    }

    public static double[] Gradient(InProcessDriver driver, IObjective objective, double[] x)
    {
        var point = objective.Evaluate(x, (ScalarsReply)driver.Evaluate(new ScalarsRequest(x)));
        return ((GradientReply)driver.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, true))).Gradient;
    }

    /// <summary>Row-wise softmax of M = A1 X A2ᵀ, computed directly (n×n row-major).</summary>
    public static double[] RowSoftmax(DenseMatrix a1, DenseMatrix a2, double[] x)
    {
        int m = a1.Rows, n = a2.Rows, d = a1.Cols;
        var result = new double[m * n];
        for (int j = 0; j < m; j++)
        {
            var z = new double[n];
            for (int i = 0; i < n; i++)
            {
                double s = 0;
                for (int k = 0; k < d; k++)
                    for (int l = 0; l < d; l++) s += a1[j, k] * x[k * d + l] * a2[i, l];
                z[i] = s;
            }
            double max = z.Max(), sum = 0;
            for (int i = 0; i < n; i++) sum += Math.Exp(z[i] - max);
            for (int i = 0; i < n; i++) result[j * n + i] = Math.Exp(z[i] - max) / sum;
        }
        return result;
    }

    public static double[] Unpack(double[] packed, int dim) => Packed.ToSymmetric(packed, dim);
}
