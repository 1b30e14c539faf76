using DistSoftmax.Core;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax;

/// <summary>
/// A multiple softmax regression held in memory, <c>min_X ‖D(X)⁻¹exp(A1 X A2ᵀ) − B‖²_F</c> (family
/// <c>multiple-normalized</c>) or its rescaled form (<c>multiple-rescaled</c>): A1 m×d, A2 n×d, B m×n and an optional
/// regulariser ½‖W∘M‖²_F (per-entry weights W m×n or one weight). X is d×d. The arrays are copied and checked.
/// </summary>
public sealed class MultipleSoftmaxProblem
{
    /// <summary><c>multiple-normalized</c> or <c>multiple-rescaled</c>.</summary>
    public string Family { get; }
    /// <summary>d: X is d×d.</summary>
    public int Side => Problem.Side;

    internal MatrixProblem Problem { get; }
    internal double? WeightScalar { get; }

    private MultipleSoftmaxProblem(string family, DenseMatrix a1, DenseMatrix a2, DenseMatrix b, DenseMatrix? w, double? weight)
    {
        Families.Check(family, matrix: true);
        family = family.Trim().ToLowerInvariant();
        foreach (var (name, m) in new[] { ("A1", a1), ("A2", a2), ("B", b) }.Concat(w is null ? [] : [("W", w)]))
            SoftmaxProblem.CheckFinite(name, m.Data);
        if (w is not null && weight is not null) throw new ParameterException("W", "both", "give per-entry weights or one weight, not both");
        if (weight is double s && !double.IsFinite(s)) throw new ParameterException("Weight", s, "must be a finite number");
        // One weight is a W of that value everywhere (the regulariser ½‖W∘M‖²), as the file loader builds it.
        if (weight is double ws)
        {
            w = new DenseMatrix(b.Rows, b.Cols);
            Array.Fill(w.Data, ws);
        }
        Family = family;
        WeightScalar = weight;
        Problem = MatrixProblem.Create(family, a1, a2, b, w); // checks the shapes
    }

    /// <summary>A problem from two-dimensional arrays.</summary>
    /// <param name="family"><c>multiple-normalized</c> or <c>multiple-rescaled</c>.</param>
    public static MultipleSoftmaxProblem Create(string family, double[,] a1, double[,] a2, double[,] b, double[,]? w = null,
        double? weight = null) =>
        new(family, Dense(a1), Dense(a2), Dense(b), w is null ? null : Dense(w), weight);

    /// <summary>A problem from MathNet.Numerics matrices.</summary>
    public static MultipleSoftmaxProblem Create(string family, Matrix<double> a1, Matrix<double> a2, Matrix<double> b,
        Matrix<double>? w = null, double? weight = null) =>
        new(family, Dense(a1), Dense(a2), Dense(b), w is null ? null : Dense(w), weight);

    private static DenseMatrix Dense(double[,] m)
    {
        var data = new double[m.LongLength];
        Buffer.BlockCopy(m, 0, data, 0, data.Length * sizeof(double));
        return new DenseMatrix(m.GetLength(0), m.GetLength(1), data);
    }

    private static DenseMatrix Dense(Matrix<double> m) => new(m.RowCount, m.ColumnCount, m.ToRowMajorArray());
}
