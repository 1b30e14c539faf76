using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Networks;

/// <summary>
/// Kernel regression with the initial tangent kernel K0: f(x) = F(W0, x) + K0(x, X) α with K0(X, X) α = Y − F(W0, X)
/// (the linearised network F(W0, x) + J0(x)(W − W0) trained by gradient descent to convergence from W0 — the
/// infinite-width limit of training). With the paired initialisation F(W0, ·) = 0 and this is K0 α = Y exactly.
/// α is the minimum-norm (pseudo-inverse) solution: eigenvalues of K0 below <see cref="RelativeCutoff"/>·λ_max are
/// dropped, so a singular K0 (more points than parameters, s·k &gt; d·m, or repeated points) gives the minimum-norm
/// least-squares fit instead of amplified round-off.
/// </summary>
public sealed class KernelRegression
{
    private readonly NetworkModel _model;
    private readonly double[] _w0, _x, _alpha;
    private readonly int _points;

    /// <param name="x">s×d training inputs, <paramref name="y">s×k targets.</param>
    public KernelRegression(NetworkModel model, double[] w0, double[] x, double[] y, int s)
    {
        _model = model;
        _w0 = w0;
        _x = x;
        _points = s;
        int size = s * model.Outputs;
        var f0 = new double[size];
        model.Predict(w0, x, s, f0);
        var residual = new double[size];
        SpanMath.Subtract(y.AsSpan(0, size), f0, residual);
        _alpha = PseudoInverseSolve(TangentKernel.Gram(model, w0, x, s), size, residual);
    }

    /// <summary>Eigenvalues below this fraction of λ_max(K0) count as zero in the pseudo-inverse.</summary>
    public const double RelativeCutoff = 1e-10;

    /// <summary>α = K⁺ r = Σ_{λ_i &gt; c·λ_max} v_i (v_iᵀ r) / λ_i for a symmetric positive semi-definite K (size×size).</summary>
    private static double[] PseudoInverseSolve(double[] k, int size, double[] r)
    {
        // A kernel that overflowed (an exp network at a large W0) has no pseudo-inverse: the regression's losses read NaN.
        if (!k.All(double.IsFinite)) return Enumerable.Repeat(double.NaN, size).ToArray();
        var eigen = SymmetricEigen.Of(k, size);
        var values = eigen.Values;
        double cutoff = RelativeCutoff * values[^1];
        var coords = eigen.Coordinates(r);
        for (int i = 0; i < size; i++) coords[i] = values[i] > cutoff ? coords[i] / values[i] : 0.0;
        return eigen.Combine(coords);
    }

    /// <summary>Predictions for the n rows of X (n×d): n×k row-major.</summary>
    public double[] Predict(double[] x, int n)
    {
        int k = _model.Outputs;
        var f = new double[n * k];
        _model.Predict(_w0, x, n, f);
        var cross = TangentKernel.Cross(_model, _w0, x, n, _x, _points);
        int cols = _points * k;
        for (int row = 0; row < n * k; row++) f[row] += SpanMath.Dot(cross.AsSpan(row * cols, cols), _alpha);
        return f;
    }

    /// <summary>Mean per-row loss (1/n) Σ_i ½‖f(x_i) − y_i‖² on n rows (n×d inputs, n×k targets).</summary>
    public double MeanLoss(double[] x, double[] y, int n) => MeanSquaredLoss(Predict(x, n), y, n);

    /// <summary>(1/n) Σ_i ½‖f_i − y_i‖² for n×k predictions and targets.</summary>
    public static double MeanSquaredLoss(ReadOnlySpan<double> f, ReadOnlySpan<double> y, int n)
    {
        var diff = new double[f.Length];
        SpanMath.Subtract(f, y.Slice(0, f.Length), diff);
        return 0.5 * SpanMath.Dot(diff, diff) / n;
    }
}
