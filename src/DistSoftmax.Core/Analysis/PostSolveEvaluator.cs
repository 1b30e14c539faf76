using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Analysis;

/// <summary>
/// Evaluates a solved problem at one point x through shard requests (an <see cref="IShardEvaluator"/>: shards in this
/// process, or a coordinator's workers, which answer the same requests where the solve left the rows):
///   loss and globals   ScalarsRequest                                  L(x) = ℓ(Ax) + ½‖diag(w)Ax‖²
///   gradient           GradientRequest (with the low-rank vectors)     ∇L = Aᵀ(g + w²∘z)          (d)
///   Hessian            GramRequest + Σ C_jk l_j l_kᵀ                   ∇²L exact (HessianKind.Exact), d×d
///   H·v                HessianVectorRequest + the low-rank part        (Lanczos, above the Hessian limit)
///   ‖b‖₁, min w²       TargetSummaryRequest                            the theorem's conditions
///   AᵀA                DataGramRequest                                 σ_min(A)
///   fitted, residual   RowProductsRequest (z = Ax or M = A1 X A2ᵀ, and b) then <see cref="FittedModel"/>
/// For a matrix problem "d" is d² (x = row-major vec(X)) and the Hessian is d²×d².
/// </summary>
public sealed class PostSolveEvaluator
{
    /// <summary>
    /// Most unknowns whose exact Hessian is formed (d×d doubles: 32 MB at 2000) — hessian.npy, its eigenvalues, exact λ_min/λ_max,
    /// and the data Gram AᵀA of σ_min(A). Above it the regime's λ's come from <see cref="Kernels.ExtremeEigenvalues"/>.
    /// </summary>
    public const int MaxHessianUnknowns = 2000;

    private readonly IShardEvaluator _shards;
    private TargetSummaryReply? _targets;

    public IObjective Objective { get; }
    public int Unknowns => Objective.Dimension;

    /// <param name="shards">Answers each request with every shard's reply merged in shard order.</param>
    /// <param name="objective">A vector or a matrix problem's objective.</param>
    public PostSolveEvaluator(IShardEvaluator shards, IObjective objective)
    {
        if (objective is not VectorObjective and not MatrixObjective)
            throw new NotSupportedException("post-solve analysis needs a vector or a matrix problem");
        _shards = shards;
        Objective = objective;
    }

    /// <summary>On shards of this process.</summary>
    /// <param name="shards">Every shard of the problem.</param>
    /// <param name="parallelShards">Evaluate the shards side by side (shards each loaded for a share of the cores, as a
    /// solve's workers load them); replies are merged in row order either way.</param>
    public PostSolveEvaluator(IReadOnlyList<IShard> shards, IObjective objective, bool parallelShards = false)
        : this(new InProcessDriver(InRowOrder(shards), parallelShards), objective)
    {
    }

    private static IShard[] InRowOrder(IReadOnlyList<IShard> shards)
    {
        if (shards.Count == 0) throw new ArgumentException("at least one shard is needed");
        if (shards.Any(s => s is not VectorShard and not MatrixShard))
            throw new NotSupportedException("post-solve analysis needs vector or matrix shards");
        return shards.OrderBy(s => s.RowOffset).ToArray();
    }

    public bool IsMatrix => Objective is MatrixObjective;

    /// <summary>The family of a row (the vector family, or a matrix problem's row family).</summary>
    public IVectorFamily Family => Objective switch
    {
        VectorObjective v => v.Family,
        MatrixObjective m => m.RowFamily,
        _ => throw new InvalidOperationException(),
    };

    private TReply Ask<TReply>(ShardRequest request) where TReply : ShardReply =>
        _shards.Evaluate(request) as TReply
        ?? throw new InvalidOperationException($"the shards answered {request.GetType().Name} with another kind of reply");

    /// <summary>L(x) and the globals at x (one pass).</summary>
    public PointEvaluation Evaluate(double[] x) => Objective.Evaluate(x, Ask<ScalarsReply>(new ScalarsRequest(x)));

    /// <summary>∇L at the evaluated point and the low-rank vectors l_j = Aᵀq_j of the exact Hessian (LowRankCount×d).</summary>
    public (double[] Gradient, double[] LowRank) Gradient(PointEvaluation point)
    {
        var reply = Ask<GradientReply>(new GradientRequest(point.X, point.Globals, HessianKind.Exact, Objective.LowRankCount > 0));
        return (reply.Gradient, reply.LowRank);
    }

    /// <summary>The exact Hessian at the point, d×d row-major (d ≤ <see cref="MaxHessianUnknowns"/>).</summary>
    public double[] Hessian(PointEvaluation point, double[] lowRank)
    {
        int d = Unknowns;
        if (d > MaxHessianUnknowns)
            throw new ArgumentException($"the exact Hessian is formed only up to {MaxHessianUnknowns} unknowns; this problem has {d}");
        var gram = Ask<GramReply>(new GramRequest(point.X, point.Globals, HessianKind.Exact));
        return DenseCurvature.Assemble(gram.PackedUpper, d, lowRank, Objective.LowRankCoefficients(point.Globals, HessianKind.Exact));
    }

    /// <summary>H·v at the point (one pass): Aᵀ((D + w²)∘Av) + Σ_ab C_ab l_a ⟨q_b, Av⟩.</summary>
    public double[] HessianVector(PointEvaluation point, double[] lowRank, double[] v)
    {
        int d = Unknowns, lr = Objective.LowRankCount;
        var c = Objective.LowRankCoefficients(point.Globals, HessianKind.Exact);
        var reply = Ask<HessianVectorReply>(new HessianVectorRequest(point.X, point.Globals, HessianKind.Exact, (double[])v.Clone()));
        var hv = (double[])reply.Product.Clone();
        for (int a = 0; a < lr; a++)
        {
            double s = 0;
            for (int b = 0; b < lr; b++) s += c[a * lr + b] * reply.LowRankDots[b];
            if (s != 0) SpanMath.MultiplyAdd(lowRank.AsSpan(a * d, d), s, hv, hv);
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
        var rows = Ask<RowProductsReply>(new RowProductsRequest(x));
        long count = Objective.Rows;
        long expected = count * rows.Columns;
        if (rows.Products.LongLength != expected || rows.Targets.LongLength != expected)
            throw new InvalidOperationException($"the shards returned {rows.Products.LongLength} model values and {rows.Targets.LongLength} targets for {count} rows of {rows.Columns}");
        var fitted = new double[expected];
        var residual = new double[expected];
        if (!IsMatrix)
        {
            FittedModel.Fitted(family, rows.Products, fitted);
            FittedModel.Residual(family, rows.Products, rows.Targets, residual);
            return (fitted, residual, [count]);
        }
        int columns = rows.Columns;
        for (long j = 0; j < count; j++)
        {
            int at = checked((int)(j * columns));
            var zj = rows.Products.AsSpan(at, columns);
            FittedModel.Fitted(family, zj, fitted.AsSpan(at, columns));
            FittedModel.Residual(family, zj, rows.Targets.AsSpan(at, columns), residual.AsSpan(at, columns));
        }
        return (fitted, residual, [count, columns]);
    }

    /// <summary>‖b‖₁ over every row (vector problems; a matrix problem's B entries likewise).</summary>
    public double TargetL1Norm() => TargetSummary().TargetL1;

    /// <summary>min_i w_i² over the rows of a vector problem (0 without a regulariser); null for a matrix problem.</summary>
    public double? MinSquaredWeight()
    {
        if (IsMatrix) return null;
        double min = TargetSummary().MinSquaredWeight;
        return double.IsPositiveInfinity(min) ? 0.0 : min;
    }

    /// <summary>‖b‖₁ and min w² in one pass over the targets, asked once.</summary>
    private TargetSummaryReply TargetSummary() => _targets ??= Ask<TargetSummaryReply>(new TargetSummaryRequest());

    /// <summary>AᵀA (d×d row-major, symmetric) of a vector problem, d ≤ <see cref="MaxHessianUnknowns"/>.</summary>
    public double[] DataGram()
    {
        if (IsMatrix) throw new NotSupportedException("the data Gram is for vector problems");
        int d = Unknowns;
        if (d > MaxHessianUnknowns)
            throw new ArgumentException($"the data Gram is formed only up to {MaxHessianUnknowns} columns; A has {d}");
        return Packed.ToSymmetric(Ask<GramReply>(new DataGramRequest()).PackedUpper, d);
    }
}
