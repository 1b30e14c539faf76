using DistSoftmax.Core.Solvers;

namespace DistSoftmax;

/// <summary>
/// How <see cref="SoftmaxRegression"/> solves: the solver and its settings, the start, and where it runs. The defaults
/// are the command line's (<c>dist-softmax solve</c>): solver chosen automatically, tolerance 1e-8, 4 shards, the local
/// actor simulation.
/// </summary>
public sealed record SoftmaxSolveOptions
{
    /// <summary><c>auto</c> (a cost model of n, d and nnz for vector problems; exact Newton up to d² = 1024, else
    /// Newton-CG, for matrix problems), or <c>approx-newton</c>, <c>newton</c>, <c>newton-cg</c>, <c>lbfgs</c>, <c>gd</c>.</summary>
    public string Solver { get; init; } = "auto";
    /// <summary>Tolerances, iteration limits, seed, Hessian mode, sampling parameters, globalisation.</summary>
    public SolverOptions Settings { get; init; } = new();
    /// <summary>Whether <see cref="SolverOptions.Hessian"/> was chosen by the caller; when false, matrix problems use the
    /// Hessian their automatic solver choice recommends (as <c>solve</c> does without <c>--hessian</c>).</summary>
    public bool HessianGiven { get; init; }
    /// <summary>The start: d values (vector problems) or d² values, row-major (matrix problems). Null: zeros, except for
    /// cosh problems, which start at small random values drawn from the seed (x = 0 is a stationary point of their loss).
    /// Given, the relative tolerance is measured at that default start, not at X0 (<see cref="Core.Solvers.SolverOptions.ToleranceReference"/>).</summary>
    public double[]? X0 { get; init; }
    /// <summary>Row shards, one per worker; null: one per core of this machine, at most 4 (in process, local simulation),
    /// 4 on a cluster (<c>ShardLayout.DefaultShards</c>, as the command line's <c>--workers</c>).</summary>
    public int? Workers { get; init; }
    /// <summary>Where the shards are evaluated.</summary>
    public SoftmaxBackend Backend { get; init; } = SoftmaxBackend.LocalSimulation;
    /// <summary>Cluster: seed nodes as HOST:PORT or akka.tcp://distsoftmax@HOST:PORT.</summary>
    public IReadOnlyList<string>? Seeds { get; init; }
    /// <summary>Cluster: worker nodes to wait for before the solve starts.</summary>
    public int MinWorkers { get; init; } = 1;
    /// <summary>Cluster: a directory every worker node sees at the same path; the problem's .npy files go into a new
    /// folder inside it for the duration of the solve.</summary>
    public string? SharedDirectory { get; init; }
    /// <summary>Cluster: how long to wait for a seed node to answer (null: 5 s, <c>distsoftmax.cluster.seed-timeout</c>).</summary>
    public TimeSpan? SeedTimeout { get; init; }
}
