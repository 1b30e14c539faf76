using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Kernels;

/// <summary>
/// The eigen-decomposition H = V Λ Vᵀ of a symmetric n×n matrix: <see cref="Values"/> ascending and the orthonormal
/// eigenvectors by rows of <see cref="Vectors"/> (eigenvector e is Vectors[e·n … e·n + n), with eigenvalue Values[e]).
/// Computed by OpenBLAS's dsyevd where Debian's libopenblas is present (<see cref="NativeBlas.SymmetricEigenDecomposition"/>),
/// else by MathNet's managed decomposition: `bench … algebra` measured the managed one at 1.5 s for d = 1000 and
/// 0.1 s for d = 400, about 5× the native one with vectors (README, "Dependency decisions"), and on a saddle-free
/// Newton solve it was the coordinator's largest cost while the workers waited.
/// </summary>
public sealed class SymmetricEigen
{
    private SymmetricEigen(double[] values, double[] vectors, int n) { Values = values; Vectors = vectors; N = n; }

    /// <summary>The order n.</summary>
    public int N { get; }

    /// <summary>The n eigenvalues, ascending.</summary>
    public double[] Values { get; }

    /// <summary>The n eigenvectors, one per row (n×n row-major).</summary>
    public double[] Vectors { get; }

    /// <summary>The decomposition of the symmetric n×n row-major <paramref name="h"/> (natively unless <paramref name="managed"/>).</summary>
    public static SymmetricEigen Of(ReadOnlySpan<double> h, int n, bool managed = false)
    {
        if (h.Length < (long)n * n) throw new ArgumentException($"a {n}×{n} matrix has {(long)n * n} entries, got {h.Length}");
        for (int i = 0; i < n * n; i++)
            if (!double.IsFinite(h[i])) throw new ArgumentException("the matrix has non-finite entries");
        if (!managed && NativeBlas.SymmetricEigenDecomposition(h, n) is var (values, vectors)) return new SymmetricEigen(values, vectors, n);
        return Managed(h, n);
    }

    private static SymmetricEigen Managed(ReadOnlySpan<double> h, int n)
    {
        var copy = h[..(n * n)].ToArray();
        var evd = Matrix<double>.Build.Dense(n, n, (i, j) => copy[i * n + j]).Evd(Symmetricity.Symmetric);
        var raw = evd.EigenValues.Select(e => e.Real).ToArray();
        var order = Enumerable.Range(0, n).OrderBy(e => raw[e]).ToArray();
        var values = new double[n];
        var vectors = new double[n * n];
        for (int k = 0; k < n; k++)
        {
            int e = order[k];
            values[k] = raw[e];
            for (int i = 0; i < n; i++) vectors[k * n + i] = evd.EigenVectors[i, e];
        }
        return new SymmetricEigen(values, vectors, n);
    }

    /// <summary>Eigenvector e as a span of n entries.</summary>
    public ReadOnlySpan<double> Vector(int e) => Vectors.AsSpan(e * N, N);

    /// <summary>The coordinates Vᵀv of v in the eigenvector basis (c_e = ⟨v_e, v⟩).</summary>
    public double[] Coordinates(ReadOnlySpan<double> v)
    {
        if (v.Length != N) throw new ArgumentException($"a vector of {N} entries expected, got {v.Length}");
        var c = new double[N];
        for (int e = 0; e < N; e++) c[e] = SpanMath.Dot(Vector(e), v);
        return c;
    }

    /// <summary>V c = Σ_e c_e v_e, the vector with coordinates c.</summary>
    public double[] Combine(ReadOnlySpan<double> c)
    {
        if (c.Length != N) throw new ArgumentException($"{N} coordinates expected, got {c.Length}");
        var v = new double[N];
        for (int e = 0; e < N; e++)
            if (c[e] != 0) SpanMath.MultiplyAdd(Vector(e), c[e], v, v);
        return v;
    }
}
