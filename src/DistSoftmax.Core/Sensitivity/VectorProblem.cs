using DistSoftmax.Core;
using System.Diagnostics;
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

/// <summary>A vector problem L(x; A) = ℓ(Ax) + ½‖diag(w)Ax‖² held whole in memory; A is perturbed.</summary>
public sealed record VectorProblem(IVectorFamily Family, IRowMatrix A, double[] B, Regularizer Regularizer) : ISensitivityProblem
{
    public string Name => Family.Name;
    public long Rows => A.Rows;
    public int Dimension => A.Cols;
    public IObjective Objective => new VectorObjective(Family, A.Cols, A.Rows, A.StoredEntries);
    public IReadOnlyList<string> PerturbedParts => new[] { "A" };
    public double DataNorm => SensitivityAnalysis.FrobeniusNorm(A);

    public InProcessDriver Driver(int shards, ShardComputeOptions? compute = null) =>
        new(ShardLayout.VectorShards(Family, A, B, Regularizer, shards, compute));

    public ProblemSource Register(InMemoryShardLoader loader, string name) => loader.RegisterVector(name, Family, A, B, Regularizer);

    public Perturbation Direction(ulong seed, int k) => new(new[] { SensitivityAnalysis.Direction(A, seed, k) });

    public ISensitivityProblem Perturbed(Perturbation delta, double t) => this with { A = SensitivityAnalysis.Add(A, delta.Parts[0], t) };

    /// <summary>A + tΔ as a new matrix (n×d: small, so Δ is left as it is).</summary>
    public ISensitivityProblem PerturbedInPlace(Perturbation delta, double t) => Perturbed(delta, t);

    /// <summary>‖f_other(x_other) − f(x)‖ of the two n-entry outputs.</summary>
    public double OutputDistance(double[] x, ISensitivityProblem other, double[] xOther)
    {
        var f = other.Output(xOther);
        SpanMath.Subtract(f, Output(x), f);
        return SpanMath.Norm(f);
    }

    public double OutputCentralDifference(Perturbation delta, double t, double[] xPlus, double[] xMinus)
    {
        var fp = Perturbed(delta, t).Output(xPlus);
        var fm = Perturbed(delta, -t).Output(xMinus);
        SpanMath.Subtract(fp, fm, fp);
        return SpanMath.Norm(fp);
    }

    public DataLinearization Linearize(double[] x) => new VectorLinearization(Family, A, B, Regularizer, x);

    public IReadOnlyList<(int Rows, int Cols)> PartShapes => new[] { (A.Rows, A.Cols) };

    public Perturbation FromFlat(ReadOnlySpan<double> flat) => new(new IRowMatrix[] { new DenseMatrix(A.Rows, A.Cols, flat.ToArray()) });

    /// <summary>
    /// softmax(Ax) (normalized: the attention row), u(Ax)/⟨u(Ax), 1⟩ (rescaled: the row its loss fits to b) or u(Ax)
    /// (hyperbolic); the exp-normalised rows max-shifted.
    /// </summary>
    public double[] Output(double[] x)
    {
        var z = new double[A.Rows];
        RowAccess.For(A).MultiplyRows(0, A.Rows, x, z);
        switch (Family)
        {
            case NormalizedSoftmax:
                SensitivityAnalysis.SoftmaxInPlace(z);
                return z;
            case RescaledRegression r:
            {
                for (int i = 0; i < z.Length; i++) z[i] = UnitCatalog.Evaluate(r.Unit, z[i]).U;
                SpanMath.Multiply(z, 1.0 / SpanMath.Sum(z), z);
                return z;
            }
            case HyperbolicRegression hyp:
                for (int i = 0; i < z.Length; i++) z[i] = UnitCatalog.Evaluate(hyp.Unit, z[i]).U;
                return z;
            default:
                throw new NotSupportedException($"no model output is defined for family {Family.Name}");
        }
    }
}
