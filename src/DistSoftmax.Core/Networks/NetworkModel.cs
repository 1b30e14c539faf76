using System.Numerics;
using System.Runtime.CompilerServices;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Core.Networks;

/// <summary>The hidden-layer map of a two-layer network.</summary>
public enum Activation { Softmax, Relu, Exp }

public static class Activations
{
    public static readonly string[] Names = { "softmax", "relu", "exp" };

    /// <summary>The neutral name of the activation parameter in <see cref="ParameterException"/>s.</summary>
    public const string ActivationParameter = "Activation";

    public static Activation Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "softmax" => Activation.Softmax,
        "relu" => Activation.Relu,
        "exp" => Activation.Exp,
        _ => throw new ParameterException(ActivationParameter, name, $"unknown activation '{name}'", Names),
    };

    public static string Name(this Activation a) => a.ToString().ToLowerInvariant();
}

/// <summary>
/// A two-layer network F(W, x, a) ∈ R^k with trained first layer W (d×m) and fixed second layer a (m×k).
/// With h = Wᵀx ∈ R^m (h_j = ⟨w_j, x⟩, w_j the j-th column of W):
///
///   softmax: F = m · aᵀ s,           s = exp(h − max h) / ⟨exp(h − max h), 1⟩   (= m⟨a, exp(h)⟩/⟨exp(h), 1⟩)
///   relu:    F = (1/√m) · aᵀ max(h, 0)                                            (the NTK scaling of Du et al. / Arora et al.)
///   exp:     F = (1/√m) · aᵀ exp(h)                                               (over-parameterised exponential regression)
///
/// The softmax is shifted by max h, so any size of pre-activation stays finite; the plain exp network has no
/// normaliser to shift by and overflows to ∞ once some h_j &gt; 709 (a trainer reports that as divergence).
///
/// Per-row loss ℓ = ½‖F − y‖² with residual r = F − y; its h-gradient δ = ∂ℓ/∂h is
///
///   softmax: δ_j = s_j (m ⟨a_j, r⟩ − ⟨F, r⟩)        (∂F/∂h_j = s_j (m a_j − F))
///   relu:    δ_j = (1/√m) 1[h_j &gt; 0] ⟨a_j, r⟩
///   exp:     δ_j = (1/√m) exp(h_j) ⟨a_j, r⟩
///
/// and ∂ℓ/∂W = x δᵀ. Parameters travel as x = vec(W) row-major: W[p, j] is x[p·m + j].
/// Thread-safe: the model is immutable and the kernels take their workspace as an argument.
/// </summary>
public sealed class NetworkModel
{
    /// <summary>The neutral name of the width (hidden units m) in <see cref="ParameterException"/>s.</summary>
    public const string WidthParameter = "Width";

    public Activation Activation { get; }
    /// <summary>Input dimension d.</summary>
    public int InputDim { get; }
    /// <summary>Hidden width m.</summary>
    public int Width { get; }
    /// <summary>Output dimension k.</summary>
    public int Outputs { get; }
    /// <summary>The fixed second layer a, m×k row-major (a[j·k + r]).</summary>
    public double[] OutputWeights { get; }
    /// <summary>m for the softmax network, 1/√m for relu and exp.</summary>
    public double OutputScale { get; }
    /// <summary>Number of trained parameters, d·m.</summary>
    public int ParameterCount => InputDim * Width;

    private readonly double[] _aT; // k×m: row r is column r of a

    public NetworkModel(Activation activation, int inputDim, int width, int outputs, double[] outputWeights)
    {
        if (inputDim < 1) throw new ArgumentException("a network needs at least one input feature");
        if (width < 1) throw new ParameterException(WidthParameter, width, "must be at least 1");
        if (outputs < 1) throw new ArgumentException("a network needs at least one output");
        if (outputWeights.Length != width * outputs)
            throw new ArgumentException($"the output layer a must be {width}×{outputs} ({width * outputs} values), got {outputWeights.Length}");
        Activation = activation;
        InputDim = inputDim;
        Width = width;
        Outputs = outputs;
        OutputWeights = outputWeights;
        OutputScale = activation == Activation.Softmax ? width : 1.0 / Math.Sqrt(width);
        _aT = new double[outputs * width];
        for (int j = 0; j < width; j++)
            for (int r = 0; r < outputs; r++) _aT[r * width + j] = outputWeights[j * outputs + r];
    }

    /// <summary>The same architecture with another activation (the comparisons of equal width).</summary>
    public NetworkModel With(Activation activation) => new(activation, InputDim, Width, Outputs, OutputWeights);

    /// <summary>
    /// A network whose second layer is random ±1 (stream (seed, 1)). With <paramref name="paired"/> the width must be
    /// even and a_{j+m/2} = −a_j: together with <see cref="InitialWeights"/>(paired) this makes F(W0, x) = 0 for every x
    /// (the symmetric initialisation of NTK analyses), so training starts from a zero output instead of O(√m).
    /// </summary>
    public static NetworkModel Create(Activation activation, int inputDim, int width, int outputs, ulong seed, bool paired = false) =>
        new(activation, inputDim, width, outputs, RandomOutputWeights(width, outputs, seed, paired));

    public static double[] RandomOutputWeights(int width, int outputs, ulong seed, bool paired)
    {
        CheckPaired(width, paired);
        var rng = Rng.ForStream(seed, 1);
        var a = new double[width * outputs];
        int free = paired ? width / 2 : width;
        for (int j = 0; j < free; j++)
            for (int r = 0; r < outputs; r++)
            {
                double v = (rng.NextUInt64() & 1) == 0 ? 1.0 : -1.0;
                a[j * outputs + r] = v;
                if (paired) a[(j + free) * outputs + r] = -v;
            }
        return a;
    }

    /// <summary>W0 with N(0, scale²) entries (stream (seed, 2)); with <paramref name="paired"/> column j+m/2 equals column j.</summary>
    public static double[] InitialWeights(int inputDim, int width, ulong seed, bool paired = false, double scale = 1.0)
    {
        CheckPaired(width, paired);
        var rng = Rng.ForStream(seed, 2);
        var w = new double[inputDim * width];
        int free = paired ? width / 2 : width;
        for (int p = 0; p < inputDim; p++)
            for (int j = 0; j < free; j++)
            {
                double v = scale * rng.NextNormal();
                w[p * width + j] = v;
                if (paired) w[p * width + j + free] = v;
            }
        return w;
    }

    private static void CheckPaired(int width, bool paired)
    {
        if (paired && width % 2 != 0) throw new ParameterException(WidthParameter, width, $"must be even for the paired initialisation, got {width}");
    }

    public void CheckParameters(ReadOnlySpan<double> w)
    {
        if (w.Length != ParameterCount)
            throw new ArgumentException($"the weights have {w.Length} values but a {InputDim}×{Width} first layer needs {ParameterCount}");
    }

    /// <summary>Scratch arrays for <see cref="Accumulate"/> and <see cref="Predict"/> (one per thread).</summary>
    public sealed class Workspace
    {
        internal readonly double[] X, H, Phi, Delta, F, R;
        internal readonly int[] Index = new int[Tile];

        public Workspace(NetworkModel model)
        {
            X = new double[Tile * model.InputDim];
            H = new double[Tile * model.Width];
            Phi = new double[Tile * model.Width];
            Delta = new double[Tile * model.Width];
            F = new double[Tile * model.Outputs];
            R = new double[Tile * model.Outputs];
        }
    }

    /// <summary>Rows processed together: each row of W and of the gradient is read once per tile.</summary>
    internal const int Tile = 4;

    /// <summary>
    /// Σ_i ½‖F(W, x_i) − y_i‖² over the listed rows of X (n×d row-major) and Y (n×k); when <paramref name="gradient"/>
    /// is not empty (d·m), adds Σ_i x_i δ_iᵀ to it. Rows are taken in list order, four at a time.
    /// </summary>
    public double Accumulate(ReadOnlySpan<double> x, ReadOnlySpan<double> y, ReadOnlySpan<int> rows, ReadOnlySpan<double> w,
        Span<double> gradient, Workspace ws)
    {
        int d = InputDim, k = Outputs;
        bool withGradient = !gradient.IsEmpty;
        double loss = 0;
        for (int t0 = 0; t0 < rows.Length; t0 += Tile)
        {
            int c = Math.Min(Tile, rows.Length - t0);
            ws.X.AsSpan().Clear();
            for (int t = 0; t < c; t++) x.Slice(rows[t0 + t] * d, d).CopyTo(ws.X.AsSpan(t * d, d));
            Forward(w, c, ws);
            for (int t = 0; t < c; t++)
            {
                var f = ws.F.AsSpan(t * k, k);
                var r = ws.R.AsSpan(t * k, k);
                SpanMath.Subtract(f, y.Slice(rows[t0 + t] * k, k), r);
                loss += 0.5 * SpanMath.Dot(r, r);
                if (withGradient) HiddenGradient(t, ws);
            }
            if (withGradient) AddOuterProducts(c, ws, gradient);
        }
        return loss;
    }

    /// <summary>F(W, x_i) for the n rows of X (n×d row-major) into output (n×k row-major).</summary>
    public void Predict(ReadOnlySpan<double> w, ReadOnlySpan<double> x, int n, Span<double> output, Workspace? workspace = null)
    {
        CheckParameters(w);
        if (x.Length < n * InputDim || output.Length < n * Outputs) throw new ArgumentException("input or output array too short");
        var ws = workspace ?? new Workspace(this);
        int d = InputDim, k = Outputs;
        for (int i0 = 0; i0 < n; i0 += Tile)
        {
            int c = Math.Min(Tile, n - i0);
            ws.X.AsSpan().Clear();
            x.Slice(i0 * d, c * d).CopyTo(ws.X);
            Forward(w, c, ws);
            ws.F.AsSpan(0, c * k).CopyTo(output.Slice(i0 * k, c * k));
        }
    }

    /// <summary>F(W, x) for one input.</summary>
    public double[] Predict(ReadOnlySpan<double> w, ReadOnlySpan<double> x)
    {
        var f = new double[Outputs];
        Predict(w, x, 1, f);
        return f;
    }

    /// <summary>
    /// Σ_i ‖∂F(W, x_i)/∂W‖²_F over the n rows of X (n×d): the trace of the tangent kernel (and of the Gauss–Newton
    /// matrix JᵀJ) at W. With ∂F_r/∂W = x δ_rᵀ, ‖∂F/∂W‖²_F = ‖x‖² Σ_r ‖∂F_r/∂h‖², where ∂F_r/∂h_j is s_j(m a_jr − F_r)
    /// (softmax), a_jr 1[h_j &gt; 0]/√m (relu) or a_jr exp(h_j)/√m (exp). Gradient descent on the summed loss of the
    /// linearised network is stable for η &lt; 2/λ_max(JᵀJ), and λ_max ≤ this trace, so η = c / trace with c &lt; 2 is a
    /// safe, architecture-independent learning rate (<see cref="NormalizedLearningRate"/>).
    /// </summary>
    public double TangentKernelTrace(ReadOnlySpan<double> w, ReadOnlySpan<double> x, int n) => RowTangentNorms(w, x, n).Sum();

    /// <summary>
    /// ‖∂F(W, x_i)/∂W‖²_F for each of the n rows of X (n×d): the traces of the k×k diagonal blocks of the tangent
    /// kernel, ‖x_i‖² Σ_r ‖∂F_r/∂h‖² (see <see cref="TangentKernelTrace"/>).
    /// </summary>
    public double[] RowTangentNorms(ReadOnlySpan<double> w, ReadOnlySpan<double> x, int n)
    {
        CheckParameters(w);
        var ws = new Workspace(this);
        int d = InputDim, m = Width, k = Outputs;
        var jac = new double[m];
        var norms = new double[n];
        for (int i0 = 0; i0 < n; i0 += Tile)
        {
            int c = Math.Min(Tile, n - i0);
            ws.X.AsSpan().Clear();
            x.Slice(i0 * d, c * d).CopyTo(ws.X);
            Forward(w, c, ws);
            for (int t = 0; t < c; t++)
            {
                var xt = ws.X.AsSpan(t * d, d);
                double sum = 0;
                for (int r = 0; r < k; r++)
                {
                    HiddenJacobian(t, r, ws, jac);
                    sum += SpanMath.Dot(jac, jac);
                }
                norms[i0 + t] = SpanMath.Dot(xt, xt) * sum;
            }
        }
        return norms;
    }

    /// <summary>
    /// The output Jacobians with respect to the hidden pre-activations for the n rows of X (n×d):
    /// an (n·k)×m row-major array whose row i·k + r is g_ir = ∂F_r(W, x_i)/∂h (see <see cref="TangentKernelTrace"/>
    /// for its entries). With ∂F_r/∂W = x_i g_irᵀ, the tangent kernel is
    /// K((i, r), (i′, r′)) = ⟨∂F_r(x_i)/∂W, ∂F_r′(x_i′)/∂W⟩ = ⟨x_i, x_i′⟩ ⟨g_ir, g_i′r′⟩.
    /// </summary>
    public double[] HiddenJacobians(ReadOnlySpan<double> w, ReadOnlySpan<double> x, int n)
    {
        CheckParameters(w);
        if (x.Length < n * InputDim) throw new ArgumentException("input array too short");
        var ws = new Workspace(this);
        int d = InputDim, m = Width, k = Outputs;
        var g = new double[checked(n * k * m)];
        for (int i0 = 0; i0 < n; i0 += Tile)
        {
            int c = Math.Min(Tile, n - i0);
            ws.X.AsSpan().Clear();
            x.Slice(i0 * d, c * d).CopyTo(ws.X);
            Forward(w, c, ws);
            for (int t = 0; t < c; t++)
                for (int r = 0; r < k; r++) HiddenJacobian(t, r, ws, g.AsSpan(((i0 + t) * k + r) * m, m));
        }
        return g;
    }

    /// <summary>
    /// ∂F_r/∂h_j for tile row t after <see cref="Forward"/>: s_j(m a_jr − F_r) (softmax), a_jr 1[h_j &gt; 0]/√m (relu),
    /// a_jr exp(h_j)/√m (exp).
    /// </summary>
    private void HiddenJacobian(int t, int r, Workspace ws, Span<double> jac)
    {
        int m = Width;
        var phi = ws.Phi.AsSpan(t * m, m);
        var h = ws.H.AsSpan(t * m, m);
        var a = _aT.AsSpan(r * m, m);
        double fr = ws.F[t * Outputs + r];
        for (int j = 0; j < m; j++)
            jac[j] = Activation switch
            {
                Activation.Softmax => phi[j] * (m * a[j] - fr),
                Activation.Relu => h[j] > 0 ? OutputScale * a[j] : 0.0,
                _ => OutputScale * a[j] * phi[j],
            };
    }

    /// <summary>η = c / Σ_i ‖∂F(W0, x_i)/∂W‖²_F for a normalised rate c (see <see cref="TangentKernelTrace"/>).</summary>
    public double NormalizedLearningRate(double c, ReadOnlySpan<double> w0, ReadOnlySpan<double> x, int n) =>
        c / TangentKernelTrace(w0, x, n);

    /// <summary>
    /// H_t = W ᵀ x_t for the (zero-padded) tile of four inputs — one sweep over W, four accumulators per vector
    /// of hidden units — then the activation Φ_t and the outputs F_t = scale · aᵀ Φ_t for t &lt; c.
    /// </summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Forward(ReadOnlySpan<double> w, int c, Workspace ws)
    {
        int d = InputDim, m = Width, k = Outputs, vw = Vector<double>.Count;
        var xs = ws.X;
        var h = ws.H.AsSpan();
        int j = 0;
        for (; j + vw <= m; j += vw)
        {
            var s0 = Vector<double>.Zero; var s1 = Vector<double>.Zero; var s2 = Vector<double>.Zero; var s3 = Vector<double>.Zero;
            for (int p = 0; p < d; p++)
            {
                var wv = new Vector<double>(w.Slice(p * m + j, vw));
                s0 += wv * xs[p]; s1 += wv * xs[d + p]; s2 += wv * xs[2 * d + p]; s3 += wv * xs[3 * d + p];
            }
            s0.CopyTo(h.Slice(j)); s1.CopyTo(h.Slice(m + j)); s2.CopyTo(h.Slice(2 * m + j)); s3.CopyTo(h.Slice(3 * m + j));
        }
        for (; j < m; j++)
            for (int t = 0; t < Tile; t++)
            {
                double s = 0;
                for (int p = 0; p < d; p++) s += w[p * m + j] * xs[t * d + p];
                h[t * m + j] = s;
            }

        for (int t = 0; t < c; t++)
        {
            var ht = h.Slice(t * m, m);
            var phi = ws.Phi.AsSpan(t * m, m);
            switch (Activation)
            {
                case Activation.Softmax:
                {
                    double max = SpanMath.Max(ht);
                    SpanMath.Subtract(ht, max, phi);
                    VectorExp.Exp(phi, phi);
                    double sum = SpanMath.Sum(phi);
                    SpanMath.Multiply(phi, 1.0 / sum, phi);
                    break;
                }
                case Activation.Relu:
                    System.Numerics.Tensors.TensorPrimitives.Max(ht, 0.0, phi);   // element-wise (SpanMath has the reduction only)
                    break;
                default:
                    VectorExp.Exp(ht, phi);
                    break;
            }
            for (int r = 0; r < k; r++) ws.F[t * k + r] = OutputScale * SpanMath.Dot(_aT.AsSpan(r * m, m), phi);
        }
    }

    /// <summary>δ_t = ∂ℓ/∂h for tile row t from its residual (see the class summary).</summary>
    private void HiddenGradient(int t, Workspace ws)
    {
        int m = Width, k = Outputs;
        var delta = ws.Delta.AsSpan(t * m, m);
        var r = ws.R.AsSpan(t * k, k);
        // u = a r (u_j = ⟨a_j, r⟩)
        SpanMath.Multiply(_aT.AsSpan(0, m), r[0], delta);
        for (int q = 1; q < k; q++) SpanMath.MultiplyAdd(_aT.AsSpan(q * m, m), r[q], delta, delta);
        var phi = ws.Phi.AsSpan(t * m, m);
        switch (Activation)
        {
            case Activation.Softmax:
            {
                double fr = SpanMath.Dot(ws.F.AsSpan(t * k, k), r);
                // δ = s ∘ (m u − ⟨F, r⟩)
                for (int j = 0; j < m; j++) delta[j] = phi[j] * (m * delta[j] - fr);
                break;
            }
            case Activation.Relu:
            {
                var h = ws.H.AsSpan(t * m, m);
                for (int j = 0; j < m; j++) delta[j] = h[j] > 0 ? OutputScale * delta[j] : 0.0;
                break;
            }
            default:
                SpanMath.Multiply(delta, phi, delta);
                SpanMath.Multiply(delta, OutputScale, delta);
                break;
        }
    }

    /// <summary>G[p, :] += Σ_{t &lt; c} x_tp δ_t — one sweep over G per tile (rows t ≥ c have x_t = 0 and are skipped).</summary>
    // Vector<T> code: compiled at first call, not precompiled (README, "Installing, and start-up time").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddOuterProducts(int c, Workspace ws, Span<double> g)
    {
        int d = InputDim, m = Width, vw = Vector<double>.Count;
        var xs = ws.X;
        var delta = ws.Delta.AsSpan();
        if (c < Tile) delta.Slice(c * m).Clear();
        for (int p = 0; p < d; p++)
        {
            double x0 = xs[p], x1 = xs[d + p], x2 = xs[2 * d + p], x3 = xs[3 * d + p];
            var row = g.Slice(p * m, m);
            int j = 0;
            for (; j + vw <= m; j += vw)
            {
                var s = new Vector<double>(row.Slice(j))
                        + new Vector<double>(delta.Slice(j)) * x0 + new Vector<double>(delta.Slice(m + j)) * x1
                        + new Vector<double>(delta.Slice(2 * m + j)) * x2 + new Vector<double>(delta.Slice(3 * m + j)) * x3;
                s.CopyTo(row.Slice(j));
            }
            for (; j < m; j++) row[j] += x0 * delta[j] + x1 * delta[m + j] + x2 * delta[2 * m + j] + x3 * delta[3 * m + j];
        }
    }
}
