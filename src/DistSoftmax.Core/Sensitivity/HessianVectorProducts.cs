using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The exact Hessian of L at a fixed x as an operator v ↦ H v (dim values in and out; dim = d, or d² row-major vec(X)
/// for a matrix problem), never formed: H = Aᵀ diag(D + w²) A + Σ_jk C_jk (Aᵀq_j)(Aᵀq_k)ᵀ. Each product is one
/// <see cref="HessianVectorRequest"/> through the problem's shards — the request Newton-CG uses — whose reply brings
/// Aᵀ((D + w²)∘Av) and the dots ⟨q_k, Av⟩; the coordinator's low-rank part Σ_jk C_jk l_j ⟨q_k, Av⟩ (l_j = Aᵀq_j,
/// asked for once here) is added as in <see cref="HessianVectorCurvature"/>. A matrix problem applies its per-row
/// low-rank parts inside the shards (LowRankCount = 0), streaming its rows in chunks, so a product needs no m×n
/// temporary. Not thread-safe: one product at a time.
/// </summary>
public sealed class HessianVectorProducts
{
    private readonly InProcessDriver _driver;
    private readonly IObjective _objective;
    private readonly double[] _x, _globals, _lowRank, _coefficients;
    private readonly int _k;

    public HessianVectorProducts(ISensitivityProblem problem, double[] x, int shards, ShardComputeOptions? compute = null)
    {
        _objective = problem.Objective;
        Dimension = _objective.Dimension;
        if (x.Length != Dimension) throw new ArgumentException($"x has {x.Length} entries, the problem {Dimension} unknowns");
        _driver = problem.Driver(shards, compute ?? ShardComputeOptions.Default);
        _x = (double[])x.Clone();
        var point = _objective.Evaluate(_x, (ScalarsReply)_driver.Evaluate(new ScalarsRequest(_x)));
        _globals = point.Globals;
        _k = _objective.LowRankCount;
        _coefficients = _objective.LowRankCoefficients(_globals, HessianKind.Exact);
        _lowRank = _k > 0
            ? ((GradientReply)_driver.Evaluate(new GradientRequest(_x, _globals, HessianKind.Exact, true))).LowRank
            : Array.Empty<double>();
    }

    /// <summary>dim: the unknowns.</summary>
    public int Dimension { get; }

    /// <summary>Products computed so far.</summary>
    public long Products { get; private set; }

    /// <summary>Whether the problem is a multiple softmax regression (its shards answer the Kronecker-factor request).</summary>
    public bool IsMatrix => _objective is MatrixObjective;

    /// <summary>H v.</summary>
    public double[] Multiply(double[] v)
    {
        if (v.Length != Dimension) throw new ArgumentException($"v has {v.Length} entries, the Hessian is {Dimension}×{Dimension}");
        var reply = (HessianVectorReply)_driver.Evaluate(new HessianVectorRequest(_x, _globals, HessianKind.Exact, (double[])v.Clone()));
        Products++;
        var hv = (double[])reply.Product.Clone();
        int d = Dimension;
        for (int a = 0; a < _k; a++)
        {
            double c = 0;
            for (int b = 0; b < _k; b++) c += _coefficients[a * _k + b] * reply.LowRankDots[b];
            if (c != 0) SpanMath.MultiplyAdd(_lowRank.AsSpan(a * d, d), c, hv, hv);
        }
        return hv;
    }

    /// <summary>
    /// For a matrix problem, the Kronecker-factored curvature F ⊗ G at x (Gauss–Newton row terms, positive definite
    /// after damping; <see cref="KroneckerPreconditioner"/>) whose inverse preconditions CG:
    /// M⁻¹ vec(R) = vec(F⁻¹ R G⁻¹), O(d³) per application. Null for a vector problem (no preconditioner).
    /// </summary>
    public KroneckerPreconditioner? KroneckerPreconditioner()
    {
        if (!IsMatrix) return null;
        var reply = (KroneckerFactorsReply)_driver.Evaluate(new KroneckerFactorsRequest(_x, HessianKind.GaussNewton));
        return Core.Solvers.Curvature.KroneckerPreconditioner.FromReply(reply);
    }
}
