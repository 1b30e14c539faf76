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
    /// <summary>The model output at x (the attention row or rows).</summary>
    double[] Output(double[] x);
    /// <summary>The derivatives in the perturbed data at a fixed x (<see cref="DataLinearization"/>).</summary>
    DataLinearization Linearize(double[] x);
    /// <summary>Δθ flattened as <see cref="DataLinearization"/> orders it (every part dense, row-major, in order).</summary>
    double[] Flatten(Perturbation delta);
    /// <summary>The perturbation of a flattened Δθ (dense parts).</summary>
    Perturbation FromFlat(ReadOnlySpan<double> flat);
}
