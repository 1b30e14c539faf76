using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Networks;

/// <summary>
/// The neural tangent kernel (NTK) Gram matrix of a two-layer network on s points, K = J Jᵀ with J the (s·k)×(d·m)
/// Jacobian of the outputs F_r(W, x_i) with respect to vec(W). J is never formed: with g_ir = ∂F_r(x_i)/∂h ∈ R^m
/// (<see cref="NetworkModel.HiddenJacobians"/>) and ∂F_r(x_i)/∂W = x_i g_irᵀ,
///
///   K((i, r), (i′, r′)) = ⟨x_i, x_i′⟩ · ⟨g_ir, g_i′r′⟩,
///
/// an (s·k)×(s·k) symmetric positive semi-definite matrix, row-major, row index i·k + r. Cost O(s²k²(d + m)).
/// </summary>
public static class TangentKernel
{
    /// <summary>
    /// The default number of points the Gram matrix is computed on: all n rows when n ≤ this, else this many
    /// evenly spaced rows (<see cref="EvenlySpacedRows"/>). A 512·k square matrix keeps the eigen-decomposition well
    /// under a second.
    /// </summary>
    public const int DefaultMaxPoints = 512;

    /// <summary>K(X, X) for the s rows of X (s×d): (s·k)×(s·k).</summary>
    public static double[] Gram(NetworkModel model, ReadOnlySpan<double> w, ReadOnlySpan<double> x, int s) =>
        Cross(model, w, x, s, x, s);

    /// <summary>
    /// K(A, B) between the rows of A (a×d) and of B (b×d): (a·k)×(b·k) row-major, entry ((i, r), (i′, r′)) =
    /// ⟨a_i, b_i′⟩⟨g_r(a_i), g_r′(b_i′)⟩.
    /// </summary>
    public static double[] Cross(NetworkModel model, ReadOnlySpan<double> w, ReadOnlySpan<double> a, int na, ReadOnlySpan<double> b, int nb)
    {
        int d = model.InputDim, m = model.Width, k = model.Outputs;
        var ga = model.HiddenJacobians(w, a, na);
        var gb = model.HiddenJacobians(w, b, nb);
        int cols = nb * k;
        var result = new double[checked(na * k * cols)];
        for (int i = 0; i < na; i++)
        {
            var ai = a.Slice(i * d, d);
            for (int j = 0; j < nb; j++)
            {
                double inner = SpanMath.Dot(ai, b.Slice(j * d, d));
                for (int r = 0; r < k; r++)
                {
                    var gir = ga.AsSpan((i * k + r) * m, m);
                    for (int q = 0; q < k; q++)
                        result[(i * k + r) * cols + j * k + q] = inner * SpanMath.Dot(gir, gb.AsSpan((j * k + q) * m, m));
                }
            }
        }
        return result;
    }

    /// <summary>λ_min and λ_max of a symmetric size×size Gram matrix (dense eigen-decomposition).</summary>
    public static (double Min, double Max) Spectrum(double[] gram, int size) => DenseAlgebra.EigenvalueRange(gram, size);

    /// <summary>‖K_t − K_0‖_F / ‖K_0‖_F: how far the kernel moved during training (small in the lazy/NTK regime).</summary>
    public static double RelativeMovement(double[] k0, double[] kt)
    {
        if (k0.Length != kt.Length) throw new ArgumentException($"kernels of {k0.Length} and {kt.Length} entries");
        double norm0 = SpanMath.Norm(k0);
        var diff = new double[k0.Length];
        SpanMath.Subtract(kt, k0, diff);
        return SpanMath.Norm(diff) / norm0;
    }

    /// <summary>
    /// The rows a Gram matrix over n points is computed on: all of them when n ≤ max, else ⌊i·n/max⌋ for
    /// i = 0..max−1 (evenly spaced, so sorted data are still covered end to end).
    /// </summary>
    public static long[] EvenlySpacedRows(long n, int max)
    {
        if (max < 1) throw new ParameterException(nameof(max), max, "must be at least 1");
        if (n <= max) return Enumerable.Range(0, (int)n).Select(i => (long)i).ToArray();
        var rows = new long[max];
        for (int i = 0; i < max; i++) rows[i] = (long)((double)i * n / max);
        return rows;
    }

    /// <summary>
    /// λ_max of the n-point Gram matrix estimated from an s-point one: (n/s)·λ_max(K_s). For kernels whose top
    /// eigenvector is spread over the data (a near-constant mode, as for every network here) the eigenvalues of K_n/n
    /// converge to those of the kernel's integral operator, so K_n's top eigenvalue grows like n; with s = n it is exact.
    /// </summary>
    public static double ScaledMaxEigenvalue(double maxOfSubsample, int s, long n) => maxOfSubsample * n / s;

    /// <summary>
    /// The automatic learning rate η = 1 / (max(λ̂_max(K), (1/f)·max_i tr K_ii) + 2λ) for gradient descent on the summed
    /// loss ½Σ‖F − y‖² + λ‖W − W0‖². The Gauss–Newton part of the loss's Hessian is JᵀJ, whose non-zero eigenvalues
    /// are those of K = JJᵀ, and the penalty adds 2λI; on the linearised network the residual evolves as
    /// r ← (I − ηK) r, stable for η &lt; 2/λ_max and with the top mode removed in one step at η = 1/λ_max.
    /// A mini-batch step with fraction f applies (1/f)·K_b, whose top eigenvalue is on average near λ_max(K) but is at
    /// least (1/f)·tr K_ii for any row i of the batch (K_ii its k×k diagonal block): a row with a large tangent
    /// (exp networks) would make one batch unstable, so that bound enters the maximum (for f = 1 it never exceeds λ_max).
    /// </summary>
    /// <param name="maxRowTrace">max_i Σ_r K((i, r), (i, r)) over every training row (<see cref="NetworkModel.RowTangentNorms"/>; <see cref="MaxRowTrace"/> when the Gram matrix covers them all).</param>
    public static double AutoLearningRate(double lambdaMax, double lambda, double maxRowTrace = 0, double batchFraction = 1)
    {
        double curvature = Math.Max(lambdaMax, maxRowTrace / batchFraction) + 2 * lambda;
        if (!(curvature > 0) || !double.IsFinite(curvature))
            throw new ArgumentException($"cannot derive a learning rate from the tangent kernel (λ_max = {lambdaMax:G4}); give a learning rate");
        return 1.0 / curvature;
    }

    /// <summary>max_i Σ_r K((i, r), (i, r)) = max_i ‖∂F(x_i)/∂W‖²_F over the points of a Gram matrix with k outputs.</summary>
    public static double MaxRowTrace(double[] gram, int points, int outputs)
    {
        int size = points * outputs;
        double max = 0;
        for (int i = 0; i < points; i++)
        {
            double t = 0;
            for (int r = 0; r < outputs; r++) t += gram[(i * outputs + r) * size + i * outputs + r];
            max = Math.Max(max, t);
        }
        return max;
    }
}
