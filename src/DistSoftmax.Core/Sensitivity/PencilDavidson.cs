using DistSoftmax.Core.Kernels;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// The worst case's eigenproblem without Hessian solves. Lanczos on J Jᵀ = H⁻¹ K H⁻¹ (K = (∂∇L/∂θ)(∂∇L/∂θ)ᵀ, the
/// streamed <see cref="DataLinearization.MixedGram"/>) costs two Hessian solves a step, i.e. two runs of conjugate
/// gradients of 20–30 Hessian-vector products each. With w = H⁻¹y the same eigenpair is the largest of the pencil
///   K w = θ H² w,   θ = max_w wᵀKw / ‖Hw‖²,
/// which needs only products. Generalised Davidson (Crouzeix, Philippe and Sadkane 1994): a basis V, orthonormal in
/// the pencil's inner product ⟨a, b⟩ = (Ha)ᵀ(Hb), grows each step by the preconditioned residual z = M⁻¹M⁻¹ r of the
/// top Ritz pair (r = Kw − θH²w), where M ≈ H is the Hessian solve's own preconditioner (the Kronecker factors of a
/// matrix problem), so M⁻² ≈ (H²)⁻¹; θ and w = V s come from the top eigenpair of VᵀKV. A step costs one K product and
/// two Hessian-vector products (H z, then H(Hz); a third when orthogonalisation cancels most of z); the images of V
/// under H, H² and K are kept (4·dim doubles a basis vector) and the basis restarts from the current Ritz vector and
/// the last step's at <see cref="MaxBasis"/> vectors.
/// Single-vector LOBPCG (the same subspace but only {w, z, previous step}) took 279 steps where Lanczos with solves
/// took 49 (n = 512, d = 16), and the K products made it slower overall.
/// Stopped as <see cref="OperatorNorm"/>'s Lanczos is: the Ritz residual of y = Hw (‖Hw‖ = 1) for J Jᵀ is
/// ‖H⁻¹KH⁻¹y − θy‖ = ‖H⁻¹r‖, which must be at most <see cref="OperatorNorm.RelativeTolerance"/>·θ. Each step
/// estimates it by ‖M⁻¹r‖ (the first half of z, so free); when the estimate passes, one Hessian solve gives ‖H⁻¹r‖
/// itself, and the iteration stops if that passes too — else the estimate's threshold is scaled by the ratio found.
/// θ is a Rayleigh quotient, so a step limit reached first gives a lower bound.
/// </summary>
public static class PencilDavidson
{
    /// <summary>Basis vectors kept before a restart.</summary>
    public const int MaxBasis = 128;

    /// <summary>A new direction whose H-norm falls below this fraction in orthogonalisation adds nothing to the basis.</summary>
    public const double DependenceTolerance = 1e-10;

    /// <summary>
    /// When orthogonalisation leaves less than this fraction of a direction's H-norm, its H image is formed again from
    /// the direction (one more product) rather than kept as a difference. Without it, directions cancelled to 1e-9 of
    /// their norm carried rounding amplified 1e9 into K's image, and θ rose 7e-5 above λ_max at n = 2048, d = 64.
    /// </summary>
    public const double RecomputeBelow = 0.01;

    /// <summary>Random stream purpose of the start vector (see <see cref="LanczosBasis.UnitStart"/>).</summary>
    private const ulong StartStream = 8;

    /// <summary>A vector with its images under H, H² and K.</summary>
    private sealed record Imaged(double[] V, double[] H, double[] B, double[] K)
    {
        public static Imaged Zero(int n) => new(new double[n], new double[n], new double[n], new double[n]);

        /// <summary>this += c·other, images included.</summary>
        public void Add(Imaged other, double c)
        {
            SpanMath.MultiplyAdd(other.V, c, V, V);
            SpanMath.MultiplyAdd(other.H, c, H, H);
            SpanMath.MultiplyAdd(other.B, c, B, B);
            SpanMath.MultiplyAdd(other.K, c, K, K);
        }

        public void Scale(double c)
        {
            SpanMath.Multiply(V, c, V);
            SpanMath.Multiply(H, c, H);
            SpanMath.Multiply(B, c, B);
            SpanMath.Multiply(K, c, K);
        }

        /// <summary>Σ s_i basis_i.</summary>
        public static Imaged Combine(IReadOnlyList<Imaged> basis, Vector<double> s)
        {
            var result = Zero(basis[0].V.Length);
            for (int i = 0; i < basis.Count; i++) result.Add(basis[i], s[i]);
            return result;
        }
    }

    /// <summary>
    /// θ = the largest eigenvalue of K w = θ H² w, and w = H⁻¹y scaled to ‖Hw‖ = 1 (y the unit top eigenvector of
    /// H⁻¹KH⁻¹), the steps taken, and whether the stopping test was met.
    /// </summary>
    /// <param name="gram">v ↦ K v, K symmetric positive semidefinite.</param>
    /// <param name="hessian">v ↦ H v, H symmetric positive definite.</param>
    /// <param name="precondition">r ↦ M⁻¹r for a symmetric positive definite M ≈ H.</param>
    /// <param name="solve">r ↦ H⁻¹r, for the stopping test's confirmation.</param>
    /// <param name="progress">Called after every step with the step count and θ, or null.</param>
    public static (double Value, double[] Solved, int Steps, bool Converged) Largest(Func<double[], double[]> gram,
        Func<double[], double[]> hessian, Func<double[], double[]> precondition, Func<double[], double[]> solve, int dim, ulong seed = 1,
        Action<int, double>? progress = null, int maxSteps = OperatorNorm.MaxSteps)
    {
        if (dim < 1) throw new ArgumentException("the operator needs at least one dimension");
        if (maxSteps < 1) throw new ParameterException(nameof(maxSteps), maxSteps, "must be at least 1");
        var basis = new List<Imaged>();
        Append(basis, LanczosBasis.UnitStart(dim, seed, StartStream), hessian, gram);
        var r = new double[dim];
        double theta = 0;
        Imaged w = basis[0], previous = basis[0];
        // ‖H⁻¹r‖ / ‖M⁻¹r‖ as last measured: the estimate must pass tol·θ / this.
        double estimateRatio = 1;
        double Target() => OperatorNorm.RelativeTolerance * Math.Max(theta, NumericLimits.Tiny);
        for (int step = 0; ; step++)
        {
            (theta, w) = TopRitzPair(basis);
            SpanMath.MultiplyAdd(w.B, -theta, w.K, r);
            var half = precondition(r);
            double estimate = SpanMath.Norm(half);
            bool last = step == maxSteps;
            if (estimate * estimateRatio <= Target() || last)
            {
                double exact = SpanMath.Norm(solve(r));
                if (exact <= Target()) return (theta, w.V, step, true);
                if (last) return (theta, w.V, step, false);
                estimateRatio = Math.Max(estimateRatio, exact / Math.Max(estimate, NumericLimits.Tiny));
            }
            if (basis.Count >= MaxBasis)
            {
                // Restart from the Ritz vector and the one before it (the last step's direction, as LOBPCG keeps).
                basis.Clear();
                basis.Add(w);
                AppendImaged(basis, previous);
            }
            previous = w;
            if (!Append(basis, precondition(half), hessian, gram))
            {
                // The new direction lies in the basis: the Ritz pair is as good as this space gives; confirm it once.
                double exact = SpanMath.Norm(solve(r));
                return (theta, w.V, step + 1, exact <= Target());
            }
            progress?.Invoke(step + 1, theta);
        }
    }

    /// <summary>
    /// Appends z made orthonormal to the basis in ⟨a, b⟩ = (Ha)ᵀ(Hb): Gram–Schmidt twice on z and Hz together, with Hz
    /// formed again from z when the passes cancelled most of it (<see cref="RecomputeBelow"/>); then H²z and Kz are
    /// formed from the final z, so the images the Ritz values rest on carry no cancellation. False, and nothing
    /// appended, when nothing of z is left.
    /// </summary>
    private static bool Append(List<Imaged> basis, double[] z, Func<double[], double[]> hessian, Func<double[], double[]> gram)
    {
        var hz = hessian(z);
        double before = SpanMath.Norm(hz);
        if (!(before > 0)) return false;
        for (int round = 0; round < 2; round++)
        {
            for (int pass = 0; pass < 2; pass++)
                foreach (var b in basis)
                {
                    double c = SpanMath.Dot(hz, b.H);
                    SpanMath.MultiplyAdd(b.V, -c, z, z);
                    SpanMath.MultiplyAdd(b.H, -c, hz, hz);
                }
            double after = SpanMath.Norm(hz);
            if (!(after > DependenceTolerance * before)) return false;
            if (after >= RecomputeBelow * before) break;
            hz = hessian(z);
            before = SpanMath.Norm(hz);
        }
        double scale = 1 / SpanMath.Norm(hz);
        SpanMath.Multiply(z, scale, z);
        SpanMath.Multiply(hz, scale, hz);
        basis.Add(new Imaged(z, hz, hessian(hz), gram(z)));
        return true;
    }

    /// <summary>Appends a vector whose images are known (a restart's previous Ritz vector), orthonormalised the same way.</summary>
    private static void AppendImaged(List<Imaged> basis, Imaged v)
    {
        var u = Imaged.Zero(v.V.Length);
        u.Add(v, 1);
        double before = SpanMath.Norm(u.H);
        for (int pass = 0; pass < 2; pass++)
            foreach (var b in basis)
                u.Add(b, -SpanMath.Dot(u.H, b.H));
        double after = SpanMath.Norm(u.H);
        // Only a well-separated direction keeps combined images: a cancelled one would carry their rounding.
        if (!(after > RecomputeBelow * before)) return;
        u.Scale(1 / after);
        basis.Add(u);
    }

    /// <summary>The top eigenpair (θ, w = V s) of VᵀKV over the H-orthonormal basis V, w with ‖Hw‖ = 1.</summary>
    private static (double Value, Imaged Vector) TopRitzPair(List<Imaged> basis)
    {
        int m = basis.Count;
        var a = Matrix<double>.Build.Dense(m, m);
        for (int i = 0; i < m; i++)
            for (int j = 0; j <= i; j++)
                a[i, j] = a[j, i] = 0.5 * (SpanMath.Dot(basis[i].V, basis[j].K) + SpanMath.Dot(basis[j].V, basis[i].K));
        var evd = a.Evd(Symmetricity.Symmetric);
        int top = 0;
        for (int k = 1; k < m; k++) if (evd.EigenValues[k].Real > evd.EigenValues[top].Real) top = k;
        var w = Imaged.Combine(basis, evd.EigenVectors.Column(top));
        double norm = SpanMath.Norm(w.H);
        if (norm > 0) w.Scale(1 / norm);
        return (evd.EigenValues[top].Real, w);
    }
}
