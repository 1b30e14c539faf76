using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The Lipschitz constants of docs/MATH.md ("Sensitivity: derivatives in the data") from a
/// <see cref="DataLinearization"/> at x* and the Hessian there.
/// </summary>
public static class LipschitzAnalysis
{
    /// <summary>
    /// ‖dx*/dθ‖₂ and its direction, flattened (<see cref="WorstCaseDirection"/> with Δ* formed).
    /// </summary>
    public static (double Constant, double[] Direction, int Steps) WorstCase(DataLinearization linearization, HessianSolve hessian, ulong seed = 1,
        Action<int, double>? progress = null, int maxSteps = OperatorNorm.MaxSteps)
    {
        var (constant, direction, steps, _) = WorstCaseDirection(linearization, hessian, seed, progress, maxSteps);
        return (constant, direction.Flat(), steps);
    }

    /// <summary>The eigensolver <see cref="WorstCaseDirection"/> uses for this linearization and Hessian solve (<see cref="WorstCaseSensitivity.Eigensolver"/>'s names).</summary>
    public static string WorstCaseMethod(DataLinearization linearization, HessianSolve hessian) =>
        PencilPreconditioner(linearization, hessian) is not null ? WorstCaseSensitivity.Davidson : WorstCaseSensitivity.Lanczos;

    /// <summary>
    /// The preconditioner M ≈ H of the pencil's iteration when the worst case takes it — J Jᵀ is the smaller Gram
    /// operator and H is solved by CG with a preconditioner — else null (Lanczos).
    /// </summary>
    private static Func<double[], double[]>? PencilPreconditioner(DataLinearization linearization, HessianSolve hessian) =>
        linearization.Dimension <= linearization.ParameterCount && hessian is ConjugateGradientHessianSolve { Preconditioner: { } m } ? m : null;

    /// <summary>
    /// ‖dx*/dθ‖₂ and its direction. Differentiating ∇L(x*(θ); θ) = 0 gives H dx + (∂∇L/∂θ)Δ = 0, so
    /// J = dx*/dθ = −H⁻¹ (∂∇L/∂θ) (d × p, never formed) and Jᵀ u = −(∂∇L/∂θ)ᵀ H⁻¹ u. As <see cref="OperatorNorm.Largest"/>
    /// does, Lanczos runs on the smaller Gram operator: usually J Jᵀ u = H⁻¹ (∂∇L/∂θ)(∂∇L/∂θ)ᵀ H⁻¹ u (d×d; the middle
    /// product streamed by <see cref="DataLinearization.MixedGram"/>, so no p-entry Δθ per step; the two minus signs
    /// cancel), giving ‖J‖₂² and Δ* = Jᵀ y/‖Jᵀ y‖ for its top eigenvector y, kept as s = H⁻¹ y and formed when needed
    /// (<see cref="WorstDirection"/>). Costs two Hessian solves and one Gram product of the mixed derivative per step.
    /// Where the Hessian is solved iteratively with a preconditioner (<see cref="ConjugateGradientHessianSolve"/> of a
    /// matrix problem, the Kronecker factors), the same eigenpair comes from the pencil K w = θ H² w without solves
    /// (<see cref="PencilDavidson"/>: per step two Hessian-vector products instead of two runs of CG), and s = w. Without a
    /// preconditioner the pencil's iteration converges as κ(H)², too slowly: Lanczos with solves is kept there.
    /// With fewer data entries than unknowns (p &lt; d), Lanczos runs on JᵀJ and Δ* is its eigenvector.
    /// Converged is false when the step limit came first (then the constant is a lower bound).
    /// </summary>
    /// <param name="progress">Called after every step (step count, current estimate of ‖J‖₂²), or null.</param>
    public static (double Constant, WorstDirection Direction, int Steps, bool Converged) WorstCaseDirection(DataLinearization linearization,
        HessianSolve hessian, ulong seed = 1, Action<int, double>? progress = null, int maxSteps = OperatorNorm.MaxSteps)
    {
        int inputs = linearization.ParameterCount, outputs = linearization.Dimension;
        if (PencilPreconditioner(linearization, hessian) is { } precondition)
        {
            var iterative = (ConjugateGradientHessianSolve)hessian;
            var (value, solved, steps, converged) = PencilDavidson.Largest(v => linearization.MixedGram(v), iterative.Multiply,
                precondition, r => iterative.Solve(r), outputs, seed, progress, maxSteps);
            return (Math.Sqrt(Math.Max(value, 0)), WorstDirection.FromSolved(linearization, solved), steps, converged);
        }
        // Lanczos on the smaller Gram operator (min(p, dim) dimensions): its step limit reached below that counts as not
        // converged (conservatively, also when the tolerance happened to be met at the last step).
        bool LanczosConverged(int steps) => !(steps >= maxSteps && maxSteps < Math.Min(inputs, outputs));
        if (outputs <= inputs)
        {
            double[] Gram(double[] u) => hessian.Solve(linearization.MixedGram(hessian.Solve(u)));
            var (value, y, steps) = OperatorNorm.LargestEigenpair(Gram, outputs, seed, progress, maxSteps);
            return (Math.Sqrt(Math.Max(value, 0)), WorstDirection.FromSolved(linearization, hessian.Solve(y)), steps, LanczosConverged(steps));
        }
        double[] Apply(double[] delta)
        {
            var y = hessian.Solve(linearization.Mixed(delta));
            SpanMath.Negate(y, y);
            return y;
        }
        double[] Adjoint(double[] u)
        {
            var y = linearization.MixedAdjoint(hessian.Solve(u));
            SpanMath.Negate(y, y);
            return y;
        }
        var (norm, direction, count) = OperatorNorm.Largest(Apply, Adjoint, inputs, outputs, seed, progress, maxSteps);
        return (norm, WorstDirection.Held(linearization, direction), count, LanczosConverged(count));
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
