using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// The log-linear start of multiple normalized softmax regression (docs/MATH.md, "The log-linear start"). A row's
/// softmax f_j = exp(z_j)/⟨exp(z_j), 1⟩ has log f_j = z_j − log⟨exp(z_j), 1⟩·1, so where B_j ≈ f_j the centred
/// ℓ_j = log B_j − mean(log B_j)·1 is z_j centred: Z P = A1 X Ã2ᵀ with P = I − 11ᵀ/n and Ã2 = P A2. The start is the
/// least-squares X of A1 X Ã2ᵀ ≈ L over the rows whose entries are all positive:
///   X₀ = (A1ᵀA1)⁻¹ A1ᵀ L A2 (Ã2ᵀÃ2)⁻¹   (A1ᵀ L Ã2 = A1ᵀ L A2 as L's rows are centred),
/// one pass over the data on the workers (<see cref="LogLinearStartRequest"/>) and two d×d solves. Measured on the
/// generated instances (seed 7): 13 → 8 Newton iterations at 4096×128, 13 → 9 at 2048×128, 12 → 10 at 2048×64, to
/// the same minimiser.
/// </summary>
public static class LogLinearStart
{
    /// <summary>Most evaluations of φ(t) = L(t·X₀) while fitting the start's scale.</summary>
    public const int MaxScaleEvaluations = 4;

    /// <summary>
    /// The scale search stops at an evaluated t whose Gauss–Newton step in t predicts a decrease ½φ′²/φ″_GN of at most
    /// this share of φ(t): the Newton iterations that follow remove such a remainder in passing. On the generated
    /// instances (seed 7, 2048–8192 × 64–128) 2 % stopped after two requests at t = 1.148–1.149 with the same Newton
    /// iterations and CG products as 1 % after three at t = 1.141–1.142 (at 2048×128 one iteration fewer, at 8192×64
    /// one product fewer); 5 % stopped at the same t as 2 %.
    /// </summary>
    public const double ScaleTolerance = 0.02;

    /// <summary>
    /// The factor t of the start t·X₀ (docs/MATH.md, "The log-linear start", its scale). On noisy B the least-squares
    /// fit in the log domain is shrunk: a row's small entries are lifted by the noise (log(b + ε) &gt; log b where b ≪ ε),
    /// which flattens the fitted logits. On the generated 4096×128 instance L(X₀) = 3.46e-2, L(1.14·X₀) = 6.8e-3 and the
    /// minimum 6.54e-3. Gauss–Newton in t from t = 1 (φ is a sum of squares: its Gauss–Newton curvature Σ‖∂f_j/∂t‖² is
    /// never negative, and there it overshoots less than φ″: 1 → 1.148 against Newton's 1.188, the minimum at 1.1405),
    /// each step one request (<see cref="StartScaleRequest"/>: φ, φ′ and the curvatures from the rows alone, M =
    /// A1 X₀ A2ᵀ formed once), at most <see cref="MaxScaleEvaluations"/>, stopping at <see cref="ScaleTolerance"/>, a step
    /// that raised φ halved back towards the best t; the result is the evaluated t of least φ (1 when nothing beat it:
    /// on exact softmax targets φ′(1) = 0 and the start stays the planted X).
    /// </summary>
    public static IEnumerable<ShardRequest> FitScale(SolveRun run, double[] x0, Out<double> scale)
    {
        double t = 1, bestT = 1, bestLoss = double.PositiveInfinity;
        for (int k = 0; k < MaxScaleEvaluations; k++)
        {
            yield return new StartScaleRequest(x0, t);
            var ray = run.Reply<StartScaleReply>();
            if (!double.IsFinite(ray.Loss)) break;
            if (ray.Loss >= bestLoss)
            {
                // Worse than the best so far: half way back towards it.
                t = bestT + 0.5 * (t - bestT);
                continue;
            }
            (bestT, bestLoss) = (t, ray.Loss);
            double slope = ray.Slope, curvature = ray.GaussNewtonCurvature;
            if (!(double.IsFinite(slope) && double.IsFinite(curvature) && curvature > 0)) break;
            if (0.5 * slope * slope / curvature <= ScaleTolerance * ray.Loss) break;
            // At most a factor 2 either way.
            t = Math.Clamp(t - slope / curvature, 0.5 * t, 2 * t);
        }
        scale.Value = bestT;
    }

    /// <summary>t·x, a new array.</summary>
    public static double[] Scaled(double[] x, double t)
    {
        var scaled = new double[x.Length];
        SpanMath.Multiply(x, t, scaled);
        return scaled;
    }

    /// <summary>X₀ (d×d row-major) from the merged sums; zeros when no row of B is usable (all have a non-positive entry).</summary>
    public static double[] FromSums(LogLinearStartReply sums, int d)
    {
        if (sums.Gram.Length != d * d || sums.Projected.Length != d * d)
            throw new ArgumentException($"the log-linear start's sums have {sums.Gram.Length} and {sums.Projected.Length} entries, not d² = {d * d}");
        if (sums.UsableRows == 0) return new double[d * d];
        return DenseAlgebra.CholeskyLeftSolve(DenseAlgebra.DampedCholesky(sums.Gram, d), d, sums.Projected);
    }
}
