using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The spectral norm ‖F‖₂ = max over ‖u‖ = 1 of ‖F u‖ of a linear map F: R^p → R^q given only F u and Fᵀ v, by
/// Lanczos with full reorthogonalisation (<see cref="LanczosBasis"/>) on the smaller Gram operator (F Fᵀ, q×q, when q ≤ p; else Fᵀ F):
/// ‖F‖₂² = λ_max. Converged when the Ritz residual β_k |s_k| ≤ <see cref="RelativeTolerance"/>·θ (then θ is exact to
/// about (residual)²/gap), or when the Krylov space is the whole space (exact up to rounding). The matrix is never formed.
/// </summary>
public static class OperatorNorm
{
    /// <summary>Ritz residual at which Lanczos stops, relative to the Ritz value θ.</summary>
    public const double RelativeTolerance = 1e-10;

    /// <summary>Most Lanczos steps (the Krylov dimension).</summary>
    public const int MaxSteps = 300;

    /// <summary>Steps between convergence checks once the Krylov dimension exceeds <see cref="EveryStepUpTo"/>.</summary>
    private const int CheckInterval = 8;
    private const int EveryStepUpTo = 40;

    /// <summary>Random stream purpose of the Lanczos start vectors (see <see cref="Rng.ForStream"/>).</summary>
    private const ulong StartStream = 7;

    /// <summary>
    /// ‖F‖₂, the unit input direction u* with ‖F u*‖ = ‖F‖₂ (p entries), and the Lanczos steps taken.
    /// </summary>
    /// <param name="progress">Called after every Lanczos step with the step count and the current Ritz value (when computed), or null.</param>
    /// <param name="maxSteps">Most Lanczos steps; stopped there before convergence, √θ is a lower bound on ‖F‖₂.</param>
    /// <param name="outputGram">v ↦ F Fᵀ v when it is cheaper than apply of adjoint (it must give the same values), or null.</param>
    public static (double Norm, double[] Direction, int Steps) Largest(Func<double[], double[]> apply, Func<double[], double[]> adjoint,
        int inputs, int outputs, ulong seed = 1, Action<int, double>? progress = null, int maxSteps = MaxSteps,
        Func<double[], double[]>? outputGram = null)
    {
        var (value, vector, steps, onOutputs) = SmallerGram(apply, adjoint, inputs, outputs, seed, progress, maxSteps, outputGram);
        double norm = Math.Sqrt(Math.Max(value, 0));
        if (!onOutputs) return (norm, vector, steps);
        // The eigenvector y of F Fᵀ: the right singular vector is Fᵀ y / ‖Fᵀ y‖.
        var u = adjoint(vector);
        double length = SpanMath.Norm(u);
        if (length > 0) SpanMath.Multiply(u, 1.0 / length, u);
        else u[0] = 1; // F = 0: every direction attains 0
        return (norm, u, steps);
    }

    /// <summary>
    /// ‖F‖₂ and the Lanczos steps taken when the direction attaining it is not needed: the same Lanczos as
    /// <see cref="Largest"/> (so the same value), without the final Fᵀ y, a p-entry vector.
    /// </summary>
    public static (double Norm, int Steps) Norm(Func<double[], double[]> apply, Func<double[], double[]> adjoint,
        int inputs, int outputs, ulong seed = 1, Action<int, double>? progress = null, int maxSteps = MaxSteps,
        Func<double[], double[]>? outputGram = null)
    {
        var (value, _, steps, _) = SmallerGram(apply, adjoint, inputs, outputs, seed, progress, maxSteps, outputGram);
        return (Math.Sqrt(Math.Max(value, 0)), steps);
    }

    /// <summary>
    /// λ_max and its eigenvector of the smaller Gram operator: F Fᵀ on R^q when q ≤ p (<paramref name="outputGram"/>
    /// if given; <c>OnOutputs</c> true), else Fᵀ F on R^p.
    /// </summary>
    private static (double Value, double[] Vector, int Steps, bool OnOutputs) SmallerGram(Func<double[], double[]> apply,
        Func<double[], double[]> adjoint, int inputs, int outputs, ulong seed, Action<int, double>? progress, int maxSteps,
        Func<double[], double[]>? outputGram)
    {
        bool onOutputs = outputs <= inputs;
        var (value, vector, steps) = onOutputs
            ? LargestEigenpair(outputGram ?? (v => apply(adjoint(v))), outputs, seed, progress, maxSteps)
            : LargestEigenpair(v => adjoint(apply(v)), inputs, seed, progress, maxSteps);
        return (value, vector, steps, onOutputs);
    }

    /// <summary>
    /// The largest eigenvalue θ and a unit eigenvector of a symmetric positive semidefinite operator on R^dim,
    /// by Lanczos from a seeded N(0, 1) start: Q_k orthonormal, T_k = Q_kᵀ Op Q_k tridiagonal (α on the diagonal,
    /// β off it), θ = λ_max(T_k), vector Q_k s.
    /// </summary>
    public static (double Value, double[] Vector, int Steps) LargestEigenpair(Func<double[], double[]> op, int dim, ulong seed = 1,
        Action<int, double>? progress = null, int maxSteps = MaxSteps)
    {
        if (dim < 1) throw new ArgumentException("the operator needs at least one dimension");
        if (maxSteps < 1) throw new ParameterException(nameof(maxSteps), maxSteps, "must be at least 1");
        var lanczos = new LanczosBasis(dim, seed, StartStream);
        double theta = 0;
        double[] s = [1.0];
        int limit = Math.Min(dim, maxSteps);
        for (int k = 0; k < limit; k++)
        {
            var (b, _) = lanczos.Step(op);
            bool last = k + 1 == limit;
            if (last || k < EveryStepUpTo || k % CheckInterval == 0 || !(b > 0))
            {
                (theta, s) = TopOfTridiagonal(lanczos.Alpha, lanczos.Beta);
                double scale = Math.Max(Math.Abs(theta), lanczos.Alpha.Max(Math.Abs));
                // The Krylov space is invariant (b ≈ 0) or the Ritz pair's residual ‖Op y − θ y‖ = b |s_k| is small.
                if (b <= NumericLimits.MachineEpsilon * Math.Max(scale, NumericLimits.Tiny) * dim
                    || b * Math.Abs(s[k]) <= RelativeTolerance * Math.Max(Math.Abs(theta), NumericLimits.Tiny) || last)
                    return (theta, RitzVector(lanczos.Vectors, s, dim), k + 1);
            }
            progress?.Invoke(k + 1, theta);
            lanczos.Advance(b);
        }
        return (theta, RitzVector(lanczos.Vectors, s, dim), lanczos.Vectors.Count);
    }

    /// <summary>
    /// Bytes the Lanczos basis of <see cref="LargestEigenvalue"/> may take (<see cref="MaxSteps"/> vectors); beyond it
    /// the basis is not kept.
    /// </summary>
    public const long BasisBudgetBytes = 256L << 20;

    /// <summary>
    /// The largest eigenvalue of a symmetric positive semidefinite operator on R^dim and the Lanczos steps taken, when
    /// its eigenvector is not needed. With dim·<see cref="MaxSteps"/>·8 bytes ≤ <see cref="BasisBudgetBytes"/> (or
    /// <paramref name="keepBasis"/>) this is <see cref="LargestEigenpair"/>; otherwise the three-term recurrence
    /// β_k q_{k+1} = Op q_k − α_k q_k − β_{k−1} q_{k−1} with only q_{k−1}, q_k held (each new vector reorthogonalised
    /// against those two): orthogonality is lost once Ritz values converge, which only repeats converged values (Paige),
    /// so θ_max = λ_max(T_k) and its residual β_k |s_k| stop the process as before. Memory three dim-vectors.
    /// </summary>
    public static (double Value, int Steps) LargestEigenvalue(Func<double[], double[]> op, int dim, ulong seed = 1, bool? keepBasis = null)
    {
        if (dim < 1) throw new ArgumentException("the operator needs at least one dimension");
        if (keepBasis ?? (long)dim * MaxSteps * sizeof(double) <= BasisBudgetBytes)
        {
            var (value, _, steps) = LargestEigenpair(op, dim, seed);
            return (value, steps);
        }
        var alpha = new List<double>();
        var beta = new List<double>();
        var q = LanczosBasis.UnitStart(dim, seed, StartStream);
        double[]? previous = null;
        double theta = 0;
        int limit = Math.Min(dim, MaxSteps);
        for (int k = 0; k < limit; k++)
        {
            var w = op(q);
            double a = SpanMath.Dot(w, q);
            alpha.Add(a);
            SpanMath.MultiplyAdd(q, -a, w, w);
            if (previous is not null) SpanMath.MultiplyAdd(previous, -beta[^1], w, w);
            // Local reorthogonalisation against the two held vectors.
            SpanMath.MultiplyAdd(q, -SpanMath.Dot(w, q), w, w);
            if (previous is not null) SpanMath.MultiplyAdd(previous, -SpanMath.Dot(w, previous), w, w);
            double b = SpanMath.Norm(w);
            bool last = k + 1 == limit;
            if (last || k < EveryStepUpTo || k % CheckInterval == 0 || !(b > 0))
            {
                double[] s;
                (theta, s) = TopOfTridiagonal(alpha, beta);
                double scale = Math.Max(Math.Abs(theta), alpha.Max(Math.Abs));
                if (b <= NumericLimits.MachineEpsilon * Math.Max(scale, NumericLimits.Tiny) * dim
                    || b * Math.Abs(s[k]) <= RelativeTolerance * Math.Max(Math.Abs(theta), NumericLimits.Tiny) || last)
                    return (theta, k + 1);
            }
            beta.Add(b);
            SpanMath.Multiply(w, 1.0 / b, w);
            previous = q;
            q = w;
        }
        return (theta, limit);
    }

    private static (double Value, double[] Vector) TopOfTridiagonal(List<double> alpha, List<double> beta)
    {
        var (values, vectors) = Kernels.SymmetricTridiagonal.Decompose(alpha, beta);
        int top = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[top]) top = i;
        return (values[top], vectors.Column(top).ToArray());
    }

    private static double[] RitzVector(List<double[]> basis, double[] s, int dim)
    {
        var y = new double[dim];
        for (int i = 0; i < s.Length && i < basis.Count; i++) SpanMath.MultiplyAdd(basis[i], s[i], y, y);
        double norm = SpanMath.Norm(y);
        if (norm > 0) SpanMath.Multiply(y, 1.0 / norm, y);
        return y;
    }
}
