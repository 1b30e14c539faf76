using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The data derivatives of a multiple softmax regression L(X) = Σ_j ℓ(z_j; B_j) + ½‖W∘M‖²_F, M = A1 X A2ᵀ (A1 m×d,
/// A2 n×d, B m×n, X d×d) in the perturbed matrices among A1, A2, B at fixed X. With G (m×n) the rows r_j = ∂L/∂z_j,
/// K_j the row curvature and T_j = ∂r_j/∂b_j (<see cref="RowCurvature"/>):
///   ∇_X L = A1ᵀ G A2,   δM = ΔA1 X A2ᵀ + A1 X ΔA2ᵀ,   δG_j = K_j δM_j + T_j ΔB_j
///   (∂∇L/∂θ)[Δ]  = ΔA1ᵀ G A2 + A1ᵀ G ΔA2 + A1ᵀ δG A2                                    (d×d)
///   adjoint of V (d×d), Z = A1 V A2ᵀ, Y_j = K_j Z_j:
///       ΔA1 ← G A2 Vᵀ + Y A2 Xᵀ,   ΔA2 ← Gᵀ A1 V + Yᵀ A1 X,   ΔB_j ← T_jᵀ Z_j
///   (∂f/∂θ)[Δ]_j = J_f,j δM_j;  adjoint of U (m×n), Y'_j = J_f,jᵀ U_j: ΔA1 ← Y' A2 Xᵀ, ΔA2 ← Y'ᵀ A1 X, ΔB ← 0
///   ∂L/∂θ: ΔA1 ← G A2 Xᵀ,  ΔA2 ← Gᵀ A1 X,  ΔB_j ← ∂ℓ_j/∂b_j
/// Dense products of O(m·n·d) each.
/// </summary>
public sealed class MatrixLinearization : DataLinearization
{
    private readonly MatrixProblem _p;
    private readonly IReadOnlyList<string> _parts;
    private readonly int _m, _n, _d;
    private readonly double[] _x, _xA2t, _a1X, _gA2, _gtA1;
    private readonly double[] _g;
    private readonly RowCurvature[] _rows;

    public MatrixLinearization(MatrixProblem problem, IReadOnlyList<string> parts, ReadOnlySpan<double> x)
    {
        _p = problem;
        _parts = parts;
        _m = problem.Rows; _n = problem.A2.Rows; _d = problem.Side;
        _x = x.ToArray();
        _xA2t = Mul(_x, _d, _d, MatrixProducts.Transpose(problem.A2.Data, _n, _d), _n);   // X A2ᵀ (d×n)
        _a1X = Mul(problem.A1.Data, _m, _d, _x, _d);                                       // A1 X (m×d)
        var mm = Mul(problem.A1.Data, _m, _d, _xA2t, _n);                                   // M (m×n)
        _rows = new RowCurvature[_m];
        _g = new double[_m * _n];
        var w2 = problem.W is null ? null : new double[_n];
        for (int j = 0; j < _m; j++)
        {
            if (w2 is not null) for (int i = 0; i < _n; i++) w2[i] = problem.W![j, i] * problem.W[j, i];
            _rows[j] = new RowCurvature(problem.RowFamily, mm.AsSpan(j * _n, _n), problem.B.Row(j), w2);
            _rows[j].Residual.CopyTo(_g, j * _n);
        }
        _gA2 = Mul(_g, _m, _n, problem.A2.Data, _d);                                         // G A2 (m×d)
        _gtA1 = Mul(MatrixProducts.Transpose(_g, _m, _n), _n, _m, problem.A1.Data, _d);     // Gᵀ A1 (n×d)
    }

    public override int ParameterCount => _parts.Sum(PartSize);
    public override int Dimension => _d * _d;
    public override int OutputCount => _m * _n;

    private int PartSize(string part) => part switch { "A1" => _m * _d, "A2" => _n * _d, _ => _m * _n };

    /// <summary>C = A B for row-major A (r×k) and B (k×c).</summary>
    private static double[] Mul(ReadOnlySpan<double> a, int r, int k, ReadOnlySpan<double> b, int c)
    {
        var result = new double[r * c];
        MatrixProducts.Gemm(r, c, k, a, k, b, c, result, c, accumulate: false);
        return result;
    }

    private static double[] T(ReadOnlySpan<double> a, int rows, int cols) => MatrixProducts.Transpose(a, rows, cols);

    /// <summary>The slices of Δθ for A1, A2, B (null when not perturbed).</summary>
    private (double[]? A1, double[]? A2, double[]? B) Split(ReadOnlySpan<double> delta)
    {
        double[]? a1 = null, a2 = null, b = null;
        int offset = 0;
        foreach (var part in _parts)
        {
            var slice = delta.Slice(offset, PartSize(part)).ToArray();
            offset += slice.Length;
            switch (part) { case "A1": a1 = slice; break; case "A2": a2 = slice; break; default: b = slice; break; }
        }
        return (a1, a2, b);
    }

    private double[] Join(double[]? a1, double[]? a2, double[]? b)
    {
        var result = new double[ParameterCount];
        int offset = 0;
        foreach (var part in _parts)
        {
            var source = part switch { "A1" => a1, "A2" => a2, _ => b };
            if (source is not null) source.CopyTo(result, offset);
            offset += PartSize(part);
        }
        return result;
    }

    /// <summary>δM = ΔA1 X A2ᵀ + A1 X ΔA2ᵀ (m×n).</summary>
    private double[] DeltaM(double[]? a1, double[]? a2)
    {
        var dm = new double[_m * _n];
        if (a1 is not null) MatrixProducts.Gemm(_m, _n, _d, a1, _d, _xA2t, _n, dm, _n, accumulate: true);
        if (a2 is not null) MatrixProducts.Gemm(_m, _n, _d, _a1X, _d, T(a2, _n, _d), _n, dm, _n, accumulate: true);
        return dm;
    }

    public override double[] Mixed(ReadOnlySpan<double> delta)
    {
        var (a1, a2, b) = Split(delta);
        var dm = DeltaM(a1, a2);
        var dg = new double[_m * _n];
        var scratch = new double[_n];
        for (int j = 0; j < _m; j++)
        {
            var row = dg.AsSpan(j * _n, _n);
            _rows[j].Curvature(dm.AsSpan(j * _n, _n), row);
            if (b is not null)
            {
                _rows[j].TargetDerivative(b.AsSpan(j * _n, _n), scratch);
                for (int i = 0; i < _n; i++) row[i] += scratch[i];
            }
        }
        var result = Mul(T(_p.A1.Data, _m, _d), _d, _m, Mul(dg, _m, _n, _p.A2.Data, _d), _d); // A1ᵀ δG A2
        if (a1 is not null) MatrixProducts.Gemm(_d, _d, _m, T(a1, _m, _d), _m, _gA2, _d, result, _d, accumulate: true);   // + ΔA1ᵀ (G A2)
        if (a2 is not null) MatrixProducts.Gemm(_d, _d, _n, T(_gtA1, _n, _d), _n, a2, _d, result, _d, accumulate: true); // + (A1ᵀ G) ΔA2
        return result;
    }

    public override double[] MixedAdjoint(ReadOnlySpan<double> v)
    {
        var z = Mul(Mul(_p.A1.Data, _m, _d, v, _d), _m, _d, T(_p.A2.Data, _n, _d), _n);     // Z = A1 V A2ᵀ
        var y = new double[_m * _n];
        double[]? b = _parts.Contains("B") ? new double[_m * _n] : null;
        for (int j = 0; j < _m; j++)
        {
            _rows[j].Curvature(z.AsSpan(j * _n, _n), y.AsSpan(j * _n, _n));
            if (b is not null) _rows[j].TargetDerivative(z.AsSpan(j * _n, _n), b.AsSpan(j * _n, _n), transpose: true);
        }
        double[]? a1 = null, a2 = null;
        if (_parts.Contains("A1"))
        {
            a1 = Mul(_gA2, _m, _d, T(v, _d, _d), _d);                                                           // G A2 Vᵀ
            MatrixProducts.Gemm(_m, _d, _d, Mul(y, _m, _n, _p.A2.Data, _d), _d, T(_x, _d, _d), _d, a1, _d, accumulate: true); // + Y A2 Xᵀ
        }
        if (_parts.Contains("A2"))
        {
            a2 = Mul(_gtA1, _n, _d, v, _d);                                                                       // Gᵀ A1 V
            MatrixProducts.Gemm(_n, _d, _m, T(y, _m, _n), _m, _a1X, _d, a2, _d, accumulate: true);              // + Yᵀ A1 X
        }
        return Join(a1, a2, b);
    }

    public override double[] Output(ReadOnlySpan<double> delta)
    {
        var (a1, a2, _) = Split(delta);
        var dm = DeltaM(a1, a2);
        var result = new double[_m * _n];
        for (int j = 0; j < _m; j++) _rows[j].OutputJacobian(dm.AsSpan(j * _n, _n), result.AsSpan(j * _n, _n));
        return result;
    }

    public override double[] OutputAdjoint(ReadOnlySpan<double> u)
    {
        var y = new double[_m * _n];
        for (int j = 0; j < _m; j++) _rows[j].OutputJacobian(u.Slice(j * _n, _n), y.AsSpan(j * _n, _n), transpose: true);
        return FromZSpace(y, null);
    }

    /// <summary>(ΔA1, ΔA2, ΔB) ← (Y A2 Xᵀ, Yᵀ A1 X, rows of <paramref name="b"/>) for a z-space gradient Y (m×n).</summary>
    private double[] FromZSpace(double[] y, double[]? b)
    {
        double[]? a1 = _parts.Contains("A1") ? Mul(Mul(y, _m, _n, _p.A2.Data, _d), _m, _d, T(_x, _d, _d), _d) : null;
        double[]? a2 = _parts.Contains("A2") ? Mul(T(y, _m, _n), _n, _m, _a1X, _d) : null;
        return Join(a1, a2, b);
    }

    public override double[] LossGradient()
    {
        double[]? b = null;
        if (_parts.Contains("B"))
        {
            b = new double[_m * _n];
            for (int j = 0; j < _m; j++) _rows[j].TargetGradient().CopyTo(b, j * _n);
        }
        return FromZSpace(_g, b);
    }
}
