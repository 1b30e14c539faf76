using DistSoftmax.Core.Random;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// What a <see cref="Statistics.SampledGramRequest"/> samples rows by: leverage estimates through Yᵀ = (R⁻¹G)ᵀ (k×d) and
/// their total ‖G‖²_F, from a triangle R with RᵀR ≈ Aᵀ diag(|D|) A (<see cref="Sketching.LeverageProjection.FromTriangle"/>);
/// or uniform scores (τ_i = 1, total n) where no triangle is at hand or uniform sampling was asked for. Both sampled
/// forms of approx-newton choose their scores this way (<see cref="SampledGramCurvature"/>, <see cref="SampledGramPreconditioner"/>).
/// </summary>
internal readonly record struct SampleScores(double[] ProjectionT, int K, double Total, bool Uniform)
{
    /// <param name="triangle">The packed R the estimates come from, or null (the first sample).</param>
    /// <param name="rng">The stream of the Gaussian G.</param>
    public static SampleScores For(double[]? triangle, int d, long rows, SolverOptions options, Rng rng)
    {
        if (options.UniformSampling || triangle is null) return new SampleScores(Array.Empty<double>(), 0, rows, true);
        int k = options.ProjectionColumnsFor(rows);
        var (projT, total) = Sketching.LeverageProjection.FromTriangle(triangle, d, k, rng);
        return new SampleScores(projT, k, total, false);
    }
}
