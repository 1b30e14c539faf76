using System.Numerics.Tensors;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The Lipschitz constants of docs/MATH.md ("Sensitivity: derivatives in the data") from a
/// <see cref="DataLinearization"/> at x* and the Hessian there.
/// </summary>
public static class LipschitzAnalysis
{
    /// <summary>
    /// ‖dx*/dθ‖₂ and its direction. Differentiating ∇L(x*(θ); θ) = 0 gives H dx + (∂∇L/∂θ)Δ = 0, so
    /// J = dx*/dθ = −H⁻¹ (∂∇L/∂θ) (d × p, never formed) and Jᵀ u = −(∂∇L/∂θ)ᵀ H⁻¹ u; Lanczos on
    /// J Jᵀ u = H⁻¹ (∂∇L/∂θ)(∂∇L/∂θ)ᵀ H⁻¹ u (d×d; the middle product streamed by <see cref="DataLinearization.MixedGram"/>,
    /// so no p-entry Δθ per step) gives ‖J‖₂² and the unit Δ* = Jᵀ y/‖Jᵀ y‖ for its top eigenvector y (the one p-entry
    /// vector). Costs two Hessian solves and one Gram product of the mixed derivative per step.
    /// </summary>
    /// <param name="progress">Called after every Lanczos step (step count, current estimate of ‖J‖₂²), or null.</param>
    public static (double Constant, double[] Direction, int Steps) WorstCase(DataLinearization linearization, HessianSolve hessian, ulong seed = 1,
        Action<int, double>? progress = null, int maxSteps = OperatorNorm.MaxSteps)
    {
        double[] Apply(double[] delta)
        {
            var y = hessian.Solve(linearization.Mixed(delta));
            TensorPrimitives.Negate(y, y);
            return y;
        }
        double[] Adjoint(double[] u)
        {
            var y = linearization.MixedAdjoint(hessian.Solve(u));
            TensorPrimitives.Negate(y, y);
            return y;
        }
        // J Jᵀ u = (−H⁻¹ M)(−Mᵀ H⁻¹ u) = H⁻¹ (M Mᵀ) H⁻¹ u with M = ∂∇L/∂θ: the two signs cancel exactly.
        double[] Gram(double[] u) => hessian.Solve(linearization.MixedGram(hessian.Solve(u)));
        return OperatorNorm.Largest(Apply, Adjoint, linearization.ParameterCount, linearization.Dimension, seed, progress, maxSteps, Gram);
    }

    /// <summary>
    /// The fixed-x constants: ‖∂f/∂θ‖₂ and ‖∂∇L/∂θ‖₂ by Lanczos (<see cref="OperatorNorm"/>; the latter on the streamed
    /// Gram operator <see cref="DataLinearization.MixedGram"/>, with no direction formed); ‖∂L/∂θ‖ in closed form
    /// (L is a scalar, so the operator norm is the Frobenius norm of its gradient, e.g. ‖r‖‖x‖ for a vector problem).
    /// </summary>
    /// <param name="progress">Called after every Lanczos step of ‖∂∇L/∂θ‖₂, or null.</param>
    public static FixedXLipschitz FixedX(DataLinearization linearization, ulong seed = 1, Action<int, double>? progress = null)
    {
        var output = linearization.OutputNorm(seed);
        var gradient = OperatorNorm.Norm(v => linearization.Mixed(v), u => linearization.MixedAdjoint(u), linearization.ParameterCount,
            linearization.Dimension, seed, progress, outputGram: v => linearization.MixedGram(v));
        double loss = linearization.LossGradientNorm();
        return new FixedXLipschitz(new LipschitzConstant(output.Norm, Lanczos, output.Steps), new LipschitzConstant(loss, ClosedForm, 0),
            new LipschitzConstant(gradient.Norm, Lanczos, gradient.Steps));
    }

    public const string Lanczos = "lanczos";
    public const string ClosedForm = "closed-form";
}
