using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// A problem's derivatives in its data θ (the perturbed matrices, flattened: each row-major, in the order of
/// <see cref="ISensitivityProblem.PerturbedParts"/>; p = <see cref="ParameterCount"/> entries) at a fixed x
/// (docs/MATH.md, "Sensitivity: derivatives in the data"). Every map comes with its adjoint, so operator norms
/// over ‖Δθ‖ = 1 (the joint Frobenius norm) follow by Lanczos without forming a Jacobian.
/// </summary>
public abstract class DataLinearization
{
    /// <summary>p: entries of the perturbed matrices.</summary>
    public abstract int ParameterCount { get; }

    /// <summary>Unknowns of x (d, or d² for a matrix problem).</summary>
    public abstract int Dimension { get; }

    /// <summary>Entries of the model output f (n, or m·n for a matrix problem).</summary>
    public abstract int OutputCount { get; }

    /// <summary>Shapes (rows, columns) of the perturbed matrices, in order: the blocks of Δθ.</summary>
    public abstract IReadOnlyList<(int Rows, int Cols)> PartShapes { get; }

    /// <summary>The mixed derivative (∂∇L/∂θ)[Δθ] ∈ R^Dimension.</summary>
    public abstract double[] Mixed(ReadOnlySpan<double> delta);

    /// <summary>Its adjoint (∂∇L/∂θ)ᵀ v ∈ R^p, for v ∈ R^Dimension.</summary>
    public abstract double[] MixedAdjoint(ReadOnlySpan<double> v);

    /// <summary>
    /// The same (∂∇L/∂θ)ᵀ v as the perturbed matrices (new dense ones, in order); by default <see cref="MixedAdjoint"/>
    /// split into copies. A linearization may write the matrices directly.
    /// </summary>
    public virtual Perturbation MixedAdjointParts(ReadOnlySpan<double> v) => Split(MixedAdjoint(v));

    /// <summary>A flattened Δθ as its matrices (<see cref="PartShapes"/>; copies).</summary>
    public Perturbation Split(ReadOnlySpan<double> flat)
    {
        if (flat.Length != ParameterCount) throw new ArgumentException($"Δθ has {flat.Length} entries, expected {ParameterCount}");
        var parts = new List<Linear.IRowMatrix>();
        int offset = 0;
        foreach (var (rows, cols) in PartShapes)
        {
            parts.Add(new Linear.DenseMatrix(rows, cols, flat.Slice(offset, rows * cols).ToArray()));
            offset += rows * cols;
        }
        return new Perturbation(parts);
    }

    /// <summary>
    /// The mixed derivative of a perturbation held as its matrices (one per perturbed part, in order); by default of
    /// its flattened copy (<see cref="Flatten"/>). A linearization may read the matrices in place.
    /// </summary>
    public virtual double[] Mixed(Perturbation delta) => Mixed(Flatten(delta));

    /// <summary>
    /// (∂∇L/∂θ)(∂∇L/∂θ)ᵀ v ∈ R^Dimension (the Gram operator of the mixed derivative on the unknowns); by default
    /// <see cref="Mixed(ReadOnlySpan{double})"/> of <see cref="MixedAdjoint"/>, which holds the p-entry Δθ in between. A
    /// linearization may stream it.
    /// </summary>
    public virtual double[] MixedGram(ReadOnlySpan<double> v) => Mixed(MixedAdjoint(v));

    /// <summary>(∂f/∂θ)[Δθ] ∈ R^OutputCount at fixed x.</summary>
    public abstract double[] Output(ReadOnlySpan<double> delta);

    /// <summary>Its adjoint (∂f/∂θ)ᵀ u ∈ R^p.</summary>
    public abstract double[] OutputAdjoint(ReadOnlySpan<double> u);

    /// <summary>
    /// ‖∂f/∂θ‖₂ (the fixed-x output constant) and the Lanczos steps taken; by default <see cref="OperatorNorm.Largest"/>
    /// on <see cref="Output"/> and <see cref="OutputAdjoint"/>. A linearization may restrict it to the parameters the
    /// output depends on (a matrix problem's f does not depend on B).
    /// </summary>
    public virtual (double Norm, int Steps) OutputNorm(ulong seed)
    {
        var (norm, _, steps) = OperatorNorm.Largest(v => Output(v), u => OutputAdjoint(u), ParameterCount, OutputCount, seed);
        return (norm, steps);
    }

    /// <summary>∂L/∂θ ∈ R^p at fixed x (the loss is a scalar: its operator norm is this vector's norm).</summary>
    public abstract double[] LossGradient();

    /// <summary>‖∂L/∂θ‖ (the fixed-x loss constant); by default the norm of <see cref="LossGradient"/>. A linearization may stream it.</summary>
    public virtual double LossGradientNorm() => SpanMath.Norm(LossGradient());

    /// <summary>The matrices of a perturbation concatenated in order, each dense and row-major (Δθ as the maps take it).</summary>
    public static double[] Flatten(Perturbation delta)
    {
        var parts = delta.Parts.Select(SensitivityAnalysis.Dense).ToArray();
        if (parts.Length == 1) return parts[0].Data;
        var flat = new double[parts.Sum(p => (long)p.Data.Length)];
        long offset = 0;
        foreach (var p in parts)
        {
            Array.Copy(p.Data, 0, flat, offset, p.Data.Length);
            offset += p.Data.Length;
        }
        return flat;
    }
}
