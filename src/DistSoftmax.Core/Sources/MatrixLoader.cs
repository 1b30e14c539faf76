using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;

namespace DistSoftmax.Core.Sources;

/// <summary>Registers multiple softmax regressions with the in-memory loader (source kind "memory").</summary>
public static class MatrixLoader
{
    /// <summary>Registers a matrix problem under a name; workers load their rows of A1, B, W with all of A2.</summary>
    public static ProblemSource RegisterMatrix(this InMemoryShardLoader loader, string name, MatrixProblem problem) =>
        loader.Register(name, new ProblemShape(problem.Objective, problem.Rows), (range, compute) => problem.Shard(range, compute));

    /// <summary>
    /// Registers "multiple-normalized" or "multiple-rescaled" with A1 m×d, A2 n×d, B m×n and optional weights W m×n
    /// (regulariser ½‖W∘M‖²_F).
    /// </summary>
    public static ProblemSource RegisterMatrix(this InMemoryShardLoader loader, string name, string problem,
        DenseMatrix a1, DenseMatrix a2, DenseMatrix b, DenseMatrix? w = null) =>
        loader.RegisterMatrix(name, MatrixProblem.Create(problem, a1, a2, b, w));
}
