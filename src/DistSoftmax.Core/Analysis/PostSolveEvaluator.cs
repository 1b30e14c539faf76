using System.Numerics.Tensors;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Analysis;

/// <summary>
/// Evaluates a solved problem at one point x through the same shard requests the solvers use (an
/// <see cref="InProcessDriver"/> over shards loaded in this process), plus the rows themselves for the fitted values:
///   loss and globals   ScalarsRequest                                  L(x) = ℓ(Ax) + ½‖diag(w)Ax‖²
///   gradient           GradientRequest (with the low-rank vectors)     ∇L = Aᵀ(g + w²∘z)          (d)
///   Hessian            GramRequest + Σ C_jk l_j l_kᵀ                   ∇²L exact (HessianKind.Exact), d×d
///   H·v                HessianVectorRequest + the low-rank part        (Lanczos, above the Hessian limit)
///   fitted, residual   z = Ax (VectorShard.Products) or M = A1 X A2ᵀ (MatrixShard.Products) and b (FittedModel)
/// For a matrix problem "d" is d² (x = row-major vec(X)) and the Hessian is d²×d².
/// </summary>
public sealed class PostSolveEvaluator
{
    /// <summary>
    /// Most unknowns whose exact Hessian is formed (d×d doubles: 32 MB at 2000) — hessian.npy, its eigenvalues, exact λ_min/λ_max,
    /// and the data Gram AᵀA of σ_min(A). Above it the regime's λ's come from <see cref="Kernels.ExtremeEigenvalues"/>.
    /// </summary>
    public const int MaxHessianUnknowns = 2000;

    private readonly IReadOnlyList<IShard> _shards;
    private readonly InProcessDriver _driver;

    public IObjective Objective { get; }
    public int Unknowns => Objective.Dimension;

    /// <param name="shards">Every shard of the problem, in row order.</param>
    /// <param name="parallelShards">Evaluate the shards side by side (shards each loaded for a share of the cores, as a
    /// solve's workers load them); replies are merged in shard order either way.</param>
    public PostSolveEvaluator(IReadOnlyList<IShard> shards, IObjective objective, bool parallelShards = false)
    {
        if (shards.Count == 0) throw new ArgumentException("at least one shard is needed");
        if (shards.Any(s => s is not VectorShard and not MatrixShard))
            throw new NotSupportedException("post-solve analysis needs vector or matrix shards");
        _shards = shards.OrderBy(s => s.RowOffset).ToArray();
        _driver = new InProcessDriver(_shards, parallelShards);
        Objective = objective;
    }

    public bool IsMatrix => _shards[0] is MatrixShard;

    /// <summary>The family of a row (the vector family, or a matrix problem's row family).</summary>
    public IVectorFamily Family => _shards[0] switch
    {
        VectorShard v => v.Family,
        MatrixShard m => m.Family,
        _ => throw new InvalidOperationException(),
    };

    /// <summary>L(x) and the globals at x (one pass).</summary>
    public PointEvaluation Evaluate(double[] x) => Objective.Evaluate(x, (ScalarsReply)_driver.Evaluate(new ScalarsRequest(x)));

    /// <summary>∇L at the evaluated point and the low-rank vectors l_j = Aᵀq_j of the exact Hessian (LowRankCount×d).</summary>
    public (double[] Gradient, double[] LowRank) Gradient(PointEvaluation point)
    {
        var reply = (GradientReply)_driver.Evaluate(new GradientRequest(point.X, point.Globals, HessianKind.Exact, Objective.LowRankCount > 0));
        return (reply.Gradient, reply.LowRank);
    }

    /// <summary>The exact Hessian at the point, d×d row-major (d ≤ <see cref="MaxHessianUnknowns"/>).</summary>
    public double[] Hessian(PointEvaluation point, double[] lowRank)
    {
        int d = Unknowns;
        if (d > MaxHessianUnknowns)
            throw new ArgumentException($"the exact Hessian is formed only up to {MaxHessianUnknowns} unknowns; this problem has {d}");
        var gram = (GramReply)_driver.Evaluate(new GramRequest(point.X, point.Globals, HessianKind.Exact));
        return DenseCurvature.Assemble(gram.PackedUpper, d, lowRank, Objective.LowRankCoefficients(point.Globals, HessianKind.Exact));
    }

    /// <summary>H·v at the point (one pass): Aᵀ((D + w²)∘Av) + Σ_ab C_ab l_a ⟨q_b, Av⟩.</summary>
    public double[] HessianVector(PointEvaluation point, double[] lowRank, double[] v)
    {
        int d = Unknowns, lr = Objective.LowRankCount;
        var c = Objective.LowRankCoefficients(point.Globals, HessianKind.Exact);
        var reply = (HessianVectorReply)_driver.Evaluate(new HessianVectorRequest(point.X, point.Globals, HessianKind.Exact, (double[])v.Clone()));
        var hv = (double[])reply.Product.Clone();
        for (int a = 0; a < lr; a++)
        {
            double s = 0;
            for (int b = 0; b < lr; b++) s += c[a * lr + b] * reply.LowRankDots[b];
            if (s != 0) TensorPrimitives.MultiplyAdd(lowRank.AsSpan(a * d, d), s, hv, hv);
        }
        return hv;
    }

    /// <summary>
    /// The fitted values and the residual at x (<see cref="FittedModel"/>): n values for a vector problem (the row z = Ax),
    /// m×n' row-major for a matrix problem (one row per row of M = A1 X A2ᵀ), with their shape.
    /// </summary>
    public (double[] Fitted, double[] Residual, long[] Shape) FittedAndResidual(double[] x)
    {
        var family = Family;
        if (!FittedModel.Supports(family)) throw new NotSupportedException($"no fitted model for the family {family.Name}");
        if (_shards[0] is VectorShard)
        {
            long n = _shards.Sum(s => (long)s.Rows);
            var z = new double[n];
            var b = new double[n];
            foreach (VectorShard s in _shards)
            {
                s.Products(x, z.AsSpan((int)s.RowOffset, s.Rows));
                s.Targets.CopyTo(b.AsSpan((int)s.RowOffset, s.Rows));
            }
            var fitted = new double[n];
            var residual = new double[n];
            FittedModel.Fitted(family, z, fitted);
            FittedModel.Residual(family, z, b, residual);
            return (fitted, residual, [n]);
        }
        int columns = ((MatrixShard)_shards[0]).Columns;
        long rows = _shards.Sum(s => (long)s.Rows);
        var fit = new double[rows * columns];
        var res = new double[rows * columns];
        foreach (MatrixShard s in _shards)
        {
            var m = new double[(long)s.Rows * columns];
            s.Products(x, m);
            var targets = s.Targets;
            for (int j = 0; j < s.Rows; j++)
            {
                long at = (s.RowOffset + j) * columns;
                var zj = m.AsSpan(j * columns, columns);
                FittedModel.Fitted(family, zj, fit.AsSpan((int)at, columns));
                FittedModel.Residual(family, zj, targets.Slice(j * columns, columns), res.AsSpan((int)at, columns));
            }
        }
        return (fit, res, [rows, columns]);
    }

    /// <summary>‖b‖₁ over every row (vector problems; a matrix problem's B entries likewise).</summary>
    public double TargetL1Norm() => _shards.Sum(s => s switch
    {
        VectorShard v => (double)TensorPrimitives.SumOfMagnitudes(v.Targets),
        MatrixShard m => (double)TensorPrimitives.SumOfMagnitudes(m.Targets),
        _ => 0.0,
    });

    /// <summary>min_i w_i² over the rows of a vector problem (0 without a regulariser); null for a matrix problem.</summary>
    public double? MinSquaredWeight()
    {
        if (IsMatrix) return null;
        double min = double.PositiveInfinity;
        foreach (VectorShard s in _shards)
            for (int i = 0; i < s.Rows; i++) min = Math.Min(min, s.Regularizer.SquaredWeight(i));
        return double.IsPositiveInfinity(min) ? 0.0 : min;
    }

    /// <summary>AᵀA (d×d row-major, symmetric) of a vector problem, d ≤ <see cref="MaxHessianUnknowns"/>.</summary>
    public double[] DataGram()
    {
        if (IsMatrix) throw new NotSupportedException("the data Gram is for vector problems");
        int d = Unknowns;
        if (d > MaxHessianUnknowns)
            throw new ArgumentException($"the data Gram is formed only up to {MaxHessianUnknowns} columns; A has {d}");
        var total = new double[d * d];
        foreach (VectorShard s in _shards) TensorPrimitives.Add(total, s.DataGramUpper(), total);
        return Packed.ToSymmetric(Packed.FromUpper(total, d), d);
    }
}
