using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The worst direction Δ* = Jᵀy/‖Jᵀy‖ (p entries, unit norm; J = dx*/dθ = −H⁻¹ (∂∇L/∂θ), y the top eigenvector of
/// J Jᵀ), held small and formed when needed. With Jᵀy = −(∂∇L/∂θ)ᵀ s, s = H⁻¹ y (d² entries), it keeps s and the
/// norm ‖Jᵀy‖ (taken once, over the whole vector, when the worst case ends) and forms Δ* again from them by one
/// adjoint product (<see cref="DataLinearization.MixedAdjoint"/>, no Hessian solve): the same numbers each time, as
/// Δ* is −(∂∇L/∂θ)ᵀ s scaled by 1/‖Jᵀy‖ entry by entry. So the p-entry vector (553 MB at an n = 8192, d = 128
/// attention head) exists only while it is used. When Lanczos ran on JᵀJ instead (p below the unknowns), Δ* is its
/// eigenvector and is held as it is.
/// </summary>
public sealed class WorstDirection
{
    private readonly DataLinearization _linearization;
    private readonly double[]? _solved, _held;
    private readonly double _norm;

    private WorstDirection(DataLinearization linearization, double[]? solved, double norm, double[]? held)
    {
        _linearization = linearization;
        _solved = solved;
        _norm = norm;
        _held = held;
    }

    /// <summary>Δ* = −(∂∇L/∂θ)ᵀ s / ‖(∂∇L/∂θ)ᵀ s‖ for s = H⁻¹ y, kept as s and that norm (computed here, over the whole vector).</summary>
    public static WorstDirection FromSolved(DataLinearization linearization, double[] solved)
    {
        var u = Unscaled(linearization, solved);
        return new WorstDirection(linearization, (double[])solved.Clone(), SpanMath.Norm(u), null);
    }

    /// <summary>Δ* given whole (a unit p-vector), held as it is.</summary>
    public static WorstDirection Held(DataLinearization linearization, double[] direction) => new(linearization, null, 0, direction);

    /// <summary>−(∂∇L/∂θ)ᵀ s, flattened (p entries).</summary>
    private static double[] Unscaled(DataLinearization linearization, double[] solved)
    {
        var u = linearization.MixedAdjoint(solved);
        SpanMath.Negate(u, u);
        return u;
    }

    /// <summary>Δ* flattened (p entries, a new array each call).</summary>
    public double[] Flat()
    {
        if (_held is not null) return (double[])_held.Clone();
        var u = Unscaled(_linearization, _solved!);
        if (_norm > 0) SpanMath.Multiply(u, 1.0 / _norm, u);
        else u[0] = 1; // J = 0: every direction attains 0 (as OperatorNorm.Largest)
        return u;
    }

    /// <summary>
    /// Δ* as the perturbed matrices (new arrays each call, which the caller may move:
    /// <see cref="ISensitivityProblem.PerturbedInPlace"/>); the same numbers as the blocks of <see cref="Flat"/>.
    /// </summary>
    public Perturbation Parts()
    {
        if (_held is not null) return _linearization.Split(_held);
        var parts = _linearization.MixedAdjointParts(_solved!);
        foreach (var part in parts.Parts)
        {
            var data = SensitivityAnalysis.Dense(part).Data;
            SpanMath.Negate(data, data);
            if (_norm > 0) SpanMath.Multiply(data, 1.0 / _norm, data);
        }
        if (!(_norm > 0)) SensitivityAnalysis.Dense(parts.Parts[0]).Data[0] = 1;
        return parts;
    }
}
