using DistSoftmax.Core;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax;

/// <summary>
/// A vector softmax-regression problem held in memory: the family (<c>normalized</c>, <c>rescaled</c> or
/// <c>hyperbolic</c>), its unit u (rescaled and hyperbolic only), the n×d matrix A, the target b of length n and an
/// optional regulariser ½‖diag(w)Ax‖² (per-row weights or one weight for every row). The arrays are copied, so the
/// caller may reuse its own; every value is checked to be finite.
/// </summary>
public sealed class SoftmaxProblem
{
    /// <summary>The family: <c>normalized</c>, <c>rescaled</c> or <c>hyperbolic</c>.</summary>
    public string Family { get; }
    /// <summary>u of the rescaled and hyperbolic families; <see cref="Unit.Exp"/> for normalized.</summary>
    public Unit Unit { get; }
    /// <summary>Rows n of A.</summary>
    public int Rows => A.Rows;
    /// <summary>Columns d of A, the unknowns.</summary>
    public int Columns => A.Cols;

    internal DenseMatrix A { get; }
    internal double[] B { get; }
    internal double[]? WeightsPerRow { get; }
    internal double? WeightScalar { get; }

    private SoftmaxProblem(string family, Unit unit, DenseMatrix a, double[] b, double[]? w, double? wScalar)
    {
        Families.Check(family, matrix: false);
        family = family.Trim().ToLowerInvariant();
        if (!Families.HasUnit(family) && unit != UnitCatalog.Default)
            throw new ParameterException(nameof(Unit), unit.Name(), $"must be exp for the {family} family (only rescaled and hyperbolic have a unit)");
        if (a.Rows < 1 || a.Cols < 1) throw new ParameterException(nameof(A), $"{a.Rows}×{a.Cols}", "must have at least one row and one column");
        if (b.Length != a.Rows) throw new ParameterException(nameof(B), b.Length, $"must have one entry per row of A ({a.Rows})");
        if (w is not null && w.Length != a.Rows) throw new ParameterException("Weights", w.Length, $"must have one entry per row of A ({a.Rows})");
        if (w is not null && wScalar is not null) throw new ParameterException("Weights", "both", "give per-row weights or one weight, not both");
        if (wScalar is double s && !double.IsFinite(s)) throw new ParameterException("Weight", s, "must be a finite number");
        CheckFinite(nameof(A), a.Data);
        CheckFinite(nameof(B), b);
        if (w is not null) CheckFinite("Weights", w);
        (Family, Unit, A, B, WeightsPerRow, WeightScalar) = (family, unit, a, b, w, wScalar);
    }

    /// <summary>A problem from a two-dimensional array A (n×d) and b (length n).</summary>
    /// <param name="family"><c>normalized</c>, <c>rescaled</c> or <c>hyperbolic</c>.</param>
    /// <param name="unit">u of rescaled and hyperbolic regression; leave <see cref="Unit.Exp"/> for normalized.</param>
    /// <param name="weights">Per-row regulariser weights w (length n), or null.</param>
    /// <param name="weight">One regulariser weight for every row (instead of <paramref name="weights"/>), or null.</param>
    public static SoftmaxProblem Create(string family, double[,] a, ReadOnlySpan<double> b, Unit unit = Unit.Exp,
        double[]? weights = null, double? weight = null)
    {
        int n = a.GetLength(0), d = a.GetLength(1);
        var data = new double[(long)n * d];
        Buffer.BlockCopy(a, 0, data, 0, data.Length * sizeof(double)); // a double[,] is stored row-major
        return new(family, unit, new DenseMatrix(n, d, data), b.ToArray(), weights?.ToArray(), weight);
    }

    /// <summary>A problem from A stored row-major (n·d values, <paramref name="columns"/> = d per row) and b.</summary>
    public static SoftmaxProblem Create(string family, ReadOnlyMemory<double> a, int columns, ReadOnlySpan<double> b,
        Unit unit = Unit.Exp, double[]? weights = null, double? weight = null)
    {
        if (columns < 1 || a.Length % columns != 0)
            throw new ParameterException(nameof(columns), columns, $"must be at least 1 and divide the {a.Length} values of A");
        return new(family, unit, new DenseMatrix(a.Length / columns, columns, a.ToArray()), b.ToArray(), weights?.ToArray(), weight);
    }

    /// <summary>A problem from MathNet.Numerics' matrix A and vector b.</summary>
    public static SoftmaxProblem Create(string family, Matrix<double> a, Vector<double> b, Unit unit = Unit.Exp,
        Vector<double>? weights = null, double? weight = null) =>
        new(family, unit, new DenseMatrix(a.RowCount, a.ColumnCount, a.ToRowMajorArray()), b.ToArray(), weights?.ToArray(), weight);

    internal static void CheckFinite(string name, double[] values)
    {
        for (long i = 0; i < values.LongLength; i++)
            if (!double.IsFinite(values[i]))
                throw new ParameterException(name, values[i], $"must hold finite numbers only (entry {i} is {values[i]})");
    }
}
