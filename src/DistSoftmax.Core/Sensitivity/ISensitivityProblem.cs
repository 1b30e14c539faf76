using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>A problem whose data can be perturbed, seen by <see cref="SensitivityAnalysis"/>.</summary>
public interface ISensitivityProblem
{
    string Name { get; }
    int Dimension { get; }
    long Rows { get; }
    IObjective Objective { get; }
    /// <summary>Names of the perturbed matrices, in the order of <see cref="Perturbation.Parts"/>.</summary>
    IReadOnlyList<string> PerturbedParts { get; }
    /// <summary>√(Σ‖M_i‖²_F) over the perturbed matrices (the scale of the finite-difference step).</summary>
    double DataNorm { get; }
    InProcessDriver Driver(int shards, ShardComputeOptions? compute = null);
    /// <summary>Registers the whole problem with an in-memory loader (for solves run by worker actors).</summary>
    ProblemSource Register(InMemoryShardLoader loader, string name);
    /// <summary>A random perturbation with N(0,1) entries (CSR: on the non-zeros) scaled to norm 1, stream (seed, 6, k).</summary>
    Perturbation Direction(ulong seed, int k);
    /// <summary>The problem with every perturbed matrix M_i replaced by M_i + t Δ_i.</summary>
    ISensitivityProblem Perturbed(Perturbation delta, double t);
    /// <summary>
    /// <see cref="Perturbed(Perturbation, double)"/>, the same numbers, computed into Δ's own matrices (M_i + tΔ_i as
    /// Δ_i·t + M_i), which the perturbed problem takes over: only one copy of the data exists, not the copy and Δ.
    /// Δ must not be used afterwards. (A vector problem, small, may copy.)
    /// </summary>
    ISensitivityProblem PerturbedInPlace(Perturbation delta, double t);
    /// <summary>The model output at x (the attention row or rows).</summary>
    double[] Output(double[] x);
    /// <summary>
    /// ‖f_other(x_other) − f(x)‖: how far <paramref name="other"/>'s output (a perturbed copy of this problem) at
    /// <paramref name="xOther"/> is from this one's at <paramref name="x"/>. A matrix problem streams it by row blocks
    /// (no m×n output held).
    /// </summary>
    double OutputDistance(double[] x, ISensitivityProblem other, double[] xOther);
    /// <summary>
    /// ‖f(θ + tΔ; x₊) − f(θ − tΔ; x₋)‖, the central difference of the output along a perturbation (its numerator). A
    /// matrix problem moves only the matrices f depends on (A1, A2, not B) and streams it by row blocks.
    /// </summary>
    double OutputCentralDifference(Perturbation delta, double t, double[] xPlus, double[] xMinus);
    /// <summary>The derivatives in the perturbed data at a fixed x (<see cref="DataLinearization"/>).</summary>
    DataLinearization Linearize(double[] x);
    /// <summary>Shapes (rows, columns) of the perturbed matrices, in order: the blocks of a flattened Δθ.</summary>
    IReadOnlyList<(int Rows, int Cols)> PartShapes { get; }
    /// <summary>The perturbation of a flattened Δθ (dense parts; a copy).</summary>
    Perturbation FromFlat(ReadOnlySpan<double> flat);
}
