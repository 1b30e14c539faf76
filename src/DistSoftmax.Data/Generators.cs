using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Data;

/// <summary>
/// Reproducible synthetic instances. All randomness comes from <see cref="Rng"/> streams derived from the given seed,
/// so the same arguments give bit-identical arrays on every machine. Streams used:
/// row i of A (and of A1) is drawn from <c>Rng.ForStream(seed, 1, i)</c>, so the first rows do not depend on n;
/// x_true / X_true from <c>ForStream(seed, 2)</c> (redraws for the sinh guard from <c>ForStream(seed, 2, k)</c>, k ≥ 1);
/// the noise of the vector families from <c>ForStream(seed, 3)</c> and of row j of a multiple instance from
/// <c>ForStream(seed, 3, j)</c>; row k of A2 from <c>ForStream(seed, 4, k)</c>.
/// Invalid sizes or parameters throw <see cref="ArgumentOutOfRangeException"/>.
/// </summary>
public static class Generators
{
    private const ulong StreamA = 1, StreamX = 2, StreamNoise = 3, StreamA2 = 4;

    /// <summary>Redraws of x_true allowed when a rescaled instance (sinh, tanh) has a near-zero ⟨u, 1⟩.</summary>
    private const int MaxRescaledAttempts = 64;

    /// <summary>An n×d dense matrix with independent N(0, 1/d) entries (rows have squared norm ≈ 1).</summary>
    public static DenseMatrix DenseGaussian(int n, int d, ulong seed) => GaussianRows(n, d, seed, StreamA);

    /// <summary>
    /// An n×d CSR matrix: each entry is present independently with probability <paramref name="density"/> and then
    /// N(0, 1/(d·density)) (so rows have squared norm ≈ 1, as in the dense case). A row that comes out empty gets one
    /// entry in a uniformly chosen column, so every row has at least one stored non-zero.
    /// </summary>
    public static CsrMatrix SparseGaussian(int n, int d, double density, ulong seed)
    {
        CheckSize(n, d);
        if (!(density > 0 && density <= 1)) throw new ArgumentOutOfRangeException(nameof(density), density, "density must be in (0, 1]");
        double sd = 1 / Math.Sqrt(d * density);
        double logQ = Math.Log(1 - density); // −∞ when density = 1: every gap is 0
        var rowPtr = new long[n + 1];
        var cols = new List<int>();
        var vals = new List<double>();
        for (int i = 0; i < n; i++)
        {
            var rng = Rng.ForStream(seed, StreamA, (ulong)i);
            // Bernoulli(density) per column by geometric skipping: the gap to the next present column is
            // floor(log(U)/log(1−density)) with U uniform in (0, 1], so the cost is proportional to the non-zeros.
            long before = cols.Count;
            double j = -1;
            while (true)
            {
                double gap = density >= 1 ? 0 : Math.Floor(Math.Log(1 - rng.NextDouble()) / logQ);
                j += 1 + gap;
                if (j >= d) break;
                cols.Add((int)j);
                vals.Add(sd * rng.NextNormal());
            }
            if (cols.Count == before)
            {
                cols.Add(rng.NextInt(d));
                double v;
                do v = sd * rng.NextNormal(); while (v == 0);
                vals.Add(v);
            }
            rowPtr[i + 1] = cols.Count;
        }
        return new CsrMatrix(n, d, rowPtr, cols.ToArray(), vals.ToArray());
    }

    /// <summary>
    /// Normalized softmax regression (MATH.md): A (dense N(0, 1/d), or sparse as in <see cref="SparseGaussian"/>),
    /// x_true with N(0, xScale²) entries, and b = (1 − noise)·softmax(A x_true) + noise·w with one Dirichlet(1, …, 1)
    /// draw w, so b is a probability vector. <paramref name="planted"/> forces noise = 0: b = softmax(A x_true) exactly,
    /// a zero of the loss. The softmax is computed max-shifted.
    /// </summary>
    public static VectorInstance Normalized(int n, int d, ulong seed, bool sparse = false, double density = 0.1,
        double xScale = 3.0, double noise = 0.1, bool planted = false)
    {
        CheckScale(xScale);
        if (!(noise >= 0 && noise <= 1)) throw new ArgumentOutOfRangeException(nameof(noise), noise, "noise must be in [0, 1]");
        IRowMatrix a = sparse ? SparseGaussian(n, d, density, seed) : DenseGaussian(n, d, seed);
        double[] x = NormalVector(d, xScale, Rng.ForStream(seed, StreamX));
        double[] b = Softmax(Finite(Multiply(a, x), "A x_true", nameof(xScale)));
        if (!planted && noise > 0)
        {
            double[] w = Rng.ForStream(seed, StreamNoise).NextDirichlet(n);
            for (int i = 0; i < n; i++) b[i] = (1 - noise) * b[i] + noise * w[i];
        }
        return new VectorInstance(a, b, x);
    }

    /// <summary>
    /// Hyperbolic regression (MATH.md): b = u(A x_true), plus, when <paramref name="noise"/> &gt; 0, noise·ε_i·mean|u(A x_true)|
    /// with ε_i standard normal. x_true has N(0, xScale²) entries; the default xScale = 1 keeps A x_true of order 1.
    /// With noise = 0 the instance is planted: x_true is an exact zero of the loss.
    /// </summary>
    public static VectorInstance Hyperbolic(int n, int d, Unit unit, ulong seed, bool sparse = false,
        double density = 0.1, double xScale = 1.0, double noise = 0.0)
    {
        CheckScale(xScale);
        if (!(noise >= 0 && double.IsFinite(noise))) throw new ArgumentOutOfRangeException(nameof(noise), noise, "noise must be finite and non-negative");
        IRowMatrix a = sparse ? SparseGaussian(n, d, density, seed) : DenseGaussian(n, d, seed);
        double[] x = NormalVector(d, xScale, Rng.ForStream(seed, StreamX));
        double[] b = Apply(unit, Multiply(a, x), nameof(xScale));
        if (noise > 0)
        {
            double meanAbs = b.Average(Math.Abs);
            var rng = Rng.ForStream(seed, StreamNoise);
            for (int i = 0; i < n; i++) b[i] += noise * rng.NextNormal() * meanAbs;
        }
        return new VectorInstance(a, b, x);
    }

    /// <summary>
    /// Rescaled regression (MATH.md): b = u(A x_true) / ⟨u(A x_true), 1⟩, so that u − ⟨u, 1⟩ b = 0 at x_true (a planted
    /// exact zero of ½‖u − ⟨u,1⟩b‖²). For a unit that changes sign (sinh, tanh), whose sum can nearly cancel, x_true is
    /// redrawn from the next stream while |⟨u, 1⟩| &lt; ‖u‖₂ / 4 (which keeps ‖b‖₁ ≤ 4√n); exp and cosh are positive and
    /// never need it.
    /// </summary>
    public static VectorInstance Rescaled(int n, int d, Unit unit, ulong seed, bool sparse = false,
        double density = 0.1, double xScale = 1.0)
    {
        CheckScale(xScale);
        IRowMatrix a = sparse ? SparseGaussian(n, d, density, seed) : DenseGaussian(n, d, seed);
        for (int attempt = 0; attempt < MaxRescaledAttempts; attempt++)
        {
            var rng = attempt == 0 ? Rng.ForStream(seed, StreamX) : Rng.ForStream(seed, StreamX, (ulong)attempt);
            double[] x = NormalVector(d, xScale, rng);
            double[] u = Apply(unit, Multiply(a, x), nameof(xScale));
            double sum = 0, sumSq = 0;
            foreach (double v in u) { sum += v; sumSq += v * v; }
            if (sum == 0 || Math.Abs(sum) < 0.25 * Math.Sqrt(sumSq)) continue;
            for (int i = 0; i < n; i++) u[i] /= sum;
            return new VectorInstance(a, u, x);
        }
        throw new InvalidOperationException($"no x_true with ⟨u(Ax), 1⟩ away from zero in {MaxRescaledAttempts} draws (unit {unit}, seed {seed})");
    }

    /// <summary>
    /// Multiple softmax regression (MATH.md, tensor trick): A1, A2 n×d with N(0, 1/d) entries, X_true d×d with
    /// N(0, xScale²) entries, and B n×n whose row j is softmax of row j of M = A1 X_true A2ᵀ, mixed as
    /// (1 − noise)·softmax + noise·(a Dirichlet(1, …, 1) draw for that row) unless <paramref name="planted"/>.
    /// Cost O(n²d + nd²) time and O(n²) memory.
    /// </summary>
    public static MatrixInstance Multiple(int n, int d, ulong seed, bool planted, double xScale = 1.0, double noise = 0.1)
    {
        CheckScale(xScale);
        if (!(noise >= 0 && noise <= 1)) throw new ArgumentOutOfRangeException(nameof(noise), noise, "noise must be in [0, 1]");
        if ((long)n * n > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(n), n, "the n×n target matrix is too large");
        DenseMatrix a1 = GaussianRows(n, d, seed, StreamA);
        DenseMatrix a2 = GaussianRows(n, d, seed, StreamA2);
        var x = new DenseMatrix(d, d, NormalVector(d * d, xScale, Rng.ForStream(seed, StreamX)));

        // T = A1 X (n×d); then row j of M is A2 t_j, i.e. M[j, k] = ⟨t_j, a2_k⟩.
        var t = new DenseMatrix(n, d);
        for (int j = 0; j < n; j++)
        {
            var aRow = a1.Row(j);
            var tRow = t.RowMutable(j);
            for (int l = 0; l < d; l++)
            {
                double s = aRow[l];
                if (s == 0) continue;
                var xRow = x.Row(l);
                for (int m = 0; m < d; m++) tRow[m] += s * xRow[m];
            }
        }
        var b = new DenseMatrix(n, n);
        var z = new double[n];
        for (int j = 0; j < n; j++)
        {
            var tRow = t.Row(j);
            for (int k = 0; k < n; k++) z[k] = Dot(tRow, a2.Row(k));
            double[] f = Softmax(Finite(z, "A1 X_true A2ᵀ", nameof(xScale)));
            if (!planted && noise > 0)
            {
                double[] w = Rng.ForStream(seed, StreamNoise, (ulong)j).NextDirichlet(n);
                for (int k = 0; k < n; k++) f[k] = (1 - noise) * f[k] + noise * w[k];
            }
            f.CopyTo(b.RowMutable(j));
        }
        return new MatrixInstance(a1, a2, b, x);
    }

    /// <summary>The instance <c>solve</c> uses when given no data: normalized, n = 20000, d = 50, dense, xScale 3, noise 0.1.</summary>
    public static VectorInstance Demo(ulong seed = 42) => Normalized(n: 20000, d: 50, seed: seed, noise: 0.1);

    /// <summary>Parses a unit's name (<see cref="UnitCatalog.Parse"/>: case-insensitive, blanks ignored).</summary>
    public static Unit ParseUnit(string name) => UnitCatalog.Parse(name);

    // ------------------------------------------------------------------ instance directories

    /// <summary>File names used in an instance directory.</summary>
    public const string AFileDense = "A.npy", AFileSparse = "A.mtx", BFile = "b.npy", XTrueFile = "x_true.npy",
        A1File = "A1.npy", A2File = "A2.npy", BMatrixFile = "B.npy", XTrueMatrixFile = "X_true.npy";

    /// <summary>
    /// Writes a vector instance into <paramref name="dir"/> (created if needed): A.npy for a dense A or A.mtx for a sparse
    /// one, b.npy, and x_true.npy when known. A stale A file of the other format, or a stale x_true.npy when x_true is
    /// unknown, is deleted so the directory describes exactly this instance. Returns the paths written.
    /// </summary>
    public static IReadOnlyList<string> WriteVectorInstance(string dir, VectorInstance inst)
    {
        CreateDirectory(dir);
        var written = new List<string>();
        string aPath;
        switch (inst.A)
        {
            case DenseMatrix dense:
                aPath = Path.Combine(dir, AFileDense);
                Npy.Write(aPath, dense);
                DeleteStale(Path.Combine(dir, AFileSparse));
                break;
            case CsrMatrix csr:
                aPath = Path.Combine(dir, AFileSparse);
                MatrixMarket.Write(aPath, csr);
                DeleteStale(Path.Combine(dir, AFileDense));
                break;
            default:
                throw new ArgumentException($"cannot write a {inst.A.GetType().Name}", nameof(inst));
        }
        written.Add(aPath);
        string bPath = Path.Combine(dir, BFile);
        Npy.Write(bPath, inst.B);
        written.Add(bPath);
        string xPath = Path.Combine(dir, XTrueFile);
        if (inst.XTrue is not null) { Npy.Write(xPath, inst.XTrue); written.Add(xPath); }
        else DeleteStale(xPath);
        return written;
    }

    /// <summary>Reads a directory written by <see cref="WriteVectorInstance"/> (A.npy or A.mtx, b.npy, optional x_true.npy), checking the shapes agree.</summary>
    public static VectorInstance ReadVectorInstance(string dir)
    {
        if (!Directory.Exists(dir)) throw new DataFormatException(dir, "directory not found");
        string dense = Path.Combine(dir, AFileDense), sparse = Path.Combine(dir, AFileSparse);
        bool hasDense = File.Exists(dense), hasSparse = File.Exists(sparse);
        if (hasDense && hasSparse) throw new DataFormatException(dir, $"holds both {AFileDense} and {AFileSparse}; keep only one");
        if (!hasDense && !hasSparse) throw new DataFormatException(dir, $"holds neither {AFileDense} nor {AFileSparse}");
        IRowMatrix a = hasDense ? Npy.ReadMatrix(dense) : MatrixMarket.Read(sparse);
        string bPath = Path.Combine(dir, BFile);
        double[] b = Npy.ReadVector(bPath);
        if (b.Length != a.Rows) throw new DataFormatException(bPath, $"has {b.Length} entries but A has {a.Rows} rows");
        string xPath = Path.Combine(dir, XTrueFile);
        double[]? x = null;
        if (File.Exists(xPath))
        {
            x = Npy.ReadVector(xPath);
            if (x.Length != a.Cols) throw new DataFormatException(xPath, $"has {x.Length} entries but A has {a.Cols} columns");
        }
        return new VectorInstance(a, b, x);
    }

    /// <summary>Writes A1.npy, A2.npy, B.npy and (when known) X_true.npy into <paramref name="dir"/> (created if needed). Returns the paths written.</summary>
    public static IReadOnlyList<string> WriteMatrixInstance(string dir, MatrixInstance inst)
    {
        CreateDirectory(dir);
        var written = new List<string>();
        void Put(string name, DenseMatrix m) { string p = Path.Combine(dir, name); Npy.Write(p, m); written.Add(p); }
        Put(A1File, inst.A1);
        Put(A2File, inst.A2);
        Put(BMatrixFile, inst.B);
        if (inst.XTrue is not null) Put(XTrueMatrixFile, inst.XTrue);
        else DeleteStale(Path.Combine(dir, XTrueMatrixFile));
        return written;
    }

    /// <summary>Reads a directory written by <see cref="WriteMatrixInstance"/>, checking A1, A2 are n×d, B is n×n and X_true d×d.</summary>
    public static MatrixInstance ReadMatrixInstance(string dir)
    {
        if (!Directory.Exists(dir)) throw new DataFormatException(dir, "directory not found");
        string p1 = Path.Combine(dir, A1File), p2 = Path.Combine(dir, A2File), pb = Path.Combine(dir, BMatrixFile), px = Path.Combine(dir, XTrueMatrixFile);
        DenseMatrix a1 = Npy.ReadMatrix(p1), a2 = Npy.ReadMatrix(p2), b = Npy.ReadMatrix(pb);
        if (a2.Rows != a1.Rows || a2.Cols != a1.Cols)
            throw new DataFormatException(p2, $"is {a2.Rows}×{a2.Cols} but A1 is {a1.Rows}×{a1.Cols}; they must have the same shape");
        if (b.Rows != a1.Rows || b.Cols != a1.Rows)
            throw new DataFormatException(pb, $"is {b.Rows}×{b.Cols} but must be {a1.Rows}×{a1.Rows} (n×n with n = rows of A1)");
        DenseMatrix? x = null;
        if (File.Exists(px))
        {
            x = Npy.ReadMatrix(px);
            if (x.Rows != a1.Cols || x.Cols != a1.Cols)
                throw new DataFormatException(px, $"is {x.Rows}×{x.Cols} but must be {a1.Cols}×{a1.Cols} (d×d with d = columns of A1)");
        }
        return new MatrixInstance(a1, a2, b, x);
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>softmax(z)_i = exp(z_i − max z) / Σ_k exp(z_k − max z).</summary>
    internal static double[] Softmax(ReadOnlySpan<double> z)
    {
        double m = double.NegativeInfinity;
        foreach (double v in z) m = Math.Max(m, v);
        var f = new double[z.Length];
        double s = 0;
        for (int i = 0; i < z.Length; i++) { f[i] = Math.Exp(z[i] - m); s += f[i]; }
        for (int i = 0; i < f.Length; i++) f[i] /= s;
        return f;
    }

    /// <summary>z = A x for a dense or CSR A.</summary>
    internal static double[] Multiply(IRowMatrix a, double[] x)
    {
        var z = new double[a.Rows];
        switch (a)
        {
            case DenseMatrix d:
                for (int i = 0; i < d.Rows; i++) z[i] = Dot(d.Row(i), x);
                break;
            case CsrMatrix c:
                for (int i = 0; i < c.Rows; i++)
                {
                    double s = 0;
                    for (long k = c.RowPointers[i]; k < c.RowPointers[i + 1]; k++) s += c.Values[k] * x[c.ColumnIndices[k]];
                    z[i] = s;
                }
                break;
            default:
                throw new ArgumentException($"unsupported matrix type {a.GetType().Name}", nameof(a));
        }
        return z;
    }

    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>
    /// z itself, checked: a non-finite entry means the products overflowed (xScale far too large) and would make the
    /// softmax NaN, so it is rejected before anything is written.
    /// </summary>
    private static double[] Finite(double[] z, string what, string scaleName)
    {
        for (int i = 0; i < z.Length; i++)
            if (!double.IsFinite(z[i])) throw new ArgumentOutOfRangeException(scaleName, $"{what} overflows at row {i}; use a smaller {scaleName}");
        return z;
    }

    /// <summary>u(z) elementwise; rejects overflow (which means xScale is too large for this unit).</summary>
    private static double[] Apply(Unit unit, double[] z, string scaleName)
    {
        for (int i = 0; i < z.Length; i++) z[i] = UnitCatalog.Evaluate(unit, z[i]).U;
        return Finite(z, "u(A x_true)", scaleName);
    }

    private static DenseMatrix GaussianRows(int n, int d, ulong seed, ulong stream)
    {
        CheckSize(n, d);
        var m = new DenseMatrix(n, d);
        double sd = 1 / Math.Sqrt(d);
        for (int i = 0; i < n; i++) Rng.ForStream(seed, stream, (ulong)i).FillNormal(m.RowMutable(i), sd);
        return m;
    }

    private static double[] NormalVector(int length, double scale, Rng rng)
    {
        var v = new double[length];
        rng.FillNormal(v, scale);
        return v;
    }

    private static void CheckSize(int n, int d)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "n must be at least 1");
        if (d < 1) throw new ArgumentOutOfRangeException(nameof(d), d, "d must be at least 1");
        if ((long)n * d > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(n), $"an {n}×{d} matrix is too large");
    }

    private static void CheckScale(double xScale)
    {
        if (!(xScale >= 0 && double.IsFinite(xScale))) throw new ArgumentOutOfRangeException(nameof(xScale), xScale, "xScale must be finite and non-negative");
    }

    private static void CreateDirectory(string dir)
    {
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        { throw new DataFormatException(dir, $"cannot create directory: {FileIo.OneLine(e.Message)}", e); }
    }

    private static void DeleteStale(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new DataFormatException(path, $"cannot delete the stale file: {FileIo.OneLine(e.Message)}", e); }
    }
}
