using DistSoftmax.Core.Linear;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// A whole multiple softmax regression held in memory (docs/MATH.md, "Multiple softmax regression (tensor trick)"):
///   X d×d, A1 m×d, A2 n×d, B m×n (m = n in the seed), optional per-entry weights W m×n,
///   L(X) = Σ_j ℓ(z_j; B_j) + ½‖W∘M‖²_F,  M = A1 X A2ᵀ,  z_j = row j of M,
/// with ℓ the per-row vector family named by the problem:
///   "multiple-normalized"  ℓ = ½‖softmax(z_j) − B_j‖²
///   "multiple-rescaled"    ℓ = ½‖exp(z_j) − ⟨exp(z_j),1⟩ B_j‖²
/// Matrices are used as given (not copied); treat them as immutable once the problem is built. Its shards are cut by
/// <c>MatrixProblemShards</c> (namespace Shards, a layer above this one).
/// </summary>
public sealed class MatrixProblem
{
    public static readonly string[] Names = [.. Families.MatrixNames];

    public string Name { get; }
    public IVectorFamily RowFamily { get; }
    public DenseMatrix A1 { get; }
    public DenseMatrix A2 { get; }
    public DenseMatrix B { get; }
    public DenseMatrix? W { get; }
    /// <summary>Side d of X.</summary>
    public int Side => A1.Cols;
    /// <summary>Rows j of M (and of A1, B).</summary>
    public int Rows => A1.Rows;

    public MatrixProblem(string name, IVectorFamily rowFamily, DenseMatrix a1, DenseMatrix a2, DenseMatrix b, DenseMatrix? w = null)
    {
        if (a1.Cols < 1) throw new ArgumentException("A1 must have at least one column (d ≥ 1)");
        if (a1.Cols != a2.Cols) throw new ArgumentException($"A1 has {a1.Cols} columns but A2 has {a2.Cols}: both must have d columns");
        if (b.Rows != a1.Rows || b.Cols != a2.Rows)
            throw new ArgumentException($"B must be {a1.Rows}×{a2.Rows} (rows of A1 × rows of A2), got {b.Rows}×{b.Cols}");
        if (w is not null && (w.Rows != b.Rows || w.Cols != b.Cols))
            throw new ArgumentException($"W must have the shape of B ({b.Rows}×{b.Cols}), got {w.Rows}×{w.Cols}");
        Name = name; RowFamily = rowFamily; A1 = a1; A2 = a2; B = b; W = w;
    }

    /// <summary>The problem named on the command line ("multiple-normalized" or "multiple-rescaled").</summary>
    public static MatrixProblem Create(string problem, DenseMatrix a1, DenseMatrix a2, DenseMatrix b, DenseMatrix? w = null)
    {
        string name = problem.ToLowerInvariant();
        return new MatrixProblem(name, RowFamilyOf(name), a1, a2, b, w);
    }

    /// <summary>The per-row vector family of a matrix problem name.</summary>
    public static IVectorFamily RowFamilyOf(string problem) => problem.ToLowerInvariant() switch
    {
        Families.MultipleNormalized => NormalizedSoftmax.Instance,
        Families.MultipleRescaled => new RescaledRegression(UnitCatalog.Default),
        _ => throw new ArgumentException($"unknown matrix problem '{problem}' (allowed: {string.Join(", ", Names)})"),
    };

    public static bool IsMatrixProblem(string problem) => Names.Contains(problem.ToLowerInvariant());

    public MatrixObjective Objective => new(Name, RowFamily, Side, Rows);
}
