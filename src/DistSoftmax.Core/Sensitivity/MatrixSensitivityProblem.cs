using DistSoftmax.Core;
using System.Diagnostics;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// A multiple softmax regression (tensor trick) whose matrices named in <see cref="Parts"/> ("A1", "A2", "B") are
/// perturbed. Output: the attention matrix, row j = softmax(z_j) of M = A1 X A2ᵀ (both matrix families fit each
/// row's normalised exp to B_j), m×n values row-major; compared between problems by blocks of rows
/// (<see cref="OutputDistance(double[], ISensitivityProblem, double[])"/>), so the analysis holds no m×n output.
/// </summary>
public sealed record MatrixSensitivityProblem(MatrixProblem Problem, IReadOnlyList<string> Parts) : ISensitivityProblem
{
    public static readonly string[] AllParts = { "A1", "A2", "B" };

    public string Name => Problem.Name;
    public long Rows => Problem.Rows;
    public int Dimension => Problem.Side * Problem.Side;
    public IObjective Objective => Problem.Objective;
    public IReadOnlyList<string> PerturbedParts => Parts;
    public double DataNorm => Math.Sqrt(Parts.Sum(p => Math.Pow(SpanMath.Norm(Part(p).Data), 2)));

    /// <summary>
    /// The problem's shards on an in-process driver. One shard reads the problem's own matrices (no copy of the m×n B:
    /// 512 MiB for an n = 8192 attention head); several own copies of their rows (<see cref="MatrixProblemShards.Shards"/>).
    /// </summary>
    public InProcessDriver Driver(int shards, ShardComputeOptions? compute = null) => shards == 1
        ? new(new IShard[] { new MatrixShard(Problem.RowFamily, Problem.A1, Problem.A2, Problem.B, Problem.W, 0, compute) })
        : new(Problem.Shards(shards, compute));

    public ProblemSource Register(InMemoryShardLoader loader, string name) => loader.RegisterMatrix(name, Problem);

    private DenseMatrix Part(string name) => name switch
    {
        "A1" => Problem.A1,
        "A2" => Problem.A2,
        "B" => Problem.B,
        _ => throw new ParameterException(nameof(Parts), name, $"unknown matrix '{name}'", AllParts),
    };

    public Perturbation Direction(ulong seed, int k)
    {
        var parts = new List<IRowMatrix>();
        double total = 0;
        for (int i = 0; i < Parts.Count; i++)
        {
            var m = Part(Parts[i]);
            var data = new double[m.Data.Length];
            Rng.ForStream(seed, 6, (ulong)k, (ulong)i).FillNormal(data);
            total += SpanMath.Dot(data, data);
            parts.Add(new DenseMatrix(m.Rows, m.Cols, data));
        }
        double scale = 1.0 / Math.Sqrt(total);
        foreach (DenseMatrix p in parts) SpanMath.Multiply(p.Data, scale, p.Data);
        return new Perturbation(parts);
    }

    public ISensitivityProblem Perturbed(Perturbation delta, double t)
    {
        var moved = new DenseMatrix[Parts.Count];
        for (int i = 0; i < Parts.Count; i++) moved[i] = (DenseMatrix)SensitivityAnalysis.Add(Part(Parts[i]), delta.Parts[i], t);
        return With(moved);
    }

    /// <summary>M_i + t Δ_i computed into Δ_i's own array (Δ_i·t + M_i, as <see cref="SensitivityAnalysis.Add"/> computes it into a new one).</summary>
    public ISensitivityProblem PerturbedInPlace(Perturbation delta, double t)
    {
        if (delta.Parts.Count != Parts.Count) throw new ArgumentException($"a perturbation of {string.Join(", ", Parts)} has {Parts.Count} matrices, got {delta.Parts.Count}");
        var moved = new DenseMatrix[Parts.Count];
        for (int i = 0; i < Parts.Count; i++)
        {
            var m = Part(Parts[i]);
            if (delta.Parts[i] is not DenseMatrix part || part.Rows != m.Rows || part.Cols != m.Cols)
                throw new ArgumentException($"Δ{Parts[i]} must be a dense {m.Rows}×{m.Cols} matrix");
            SpanMath.MultiplyAdd(part.Data, t, m.Data, part.Data);
            moved[i] = part;
        }
        return With(moved);
    }

    /// <summary>This problem with the perturbed parts replaced by <paramref name="moved"/> (in the order of <see cref="Parts"/>).</summary>
    private MatrixSensitivityProblem With(DenseMatrix[] moved)
    {
        DenseMatrix a1 = Problem.A1, a2 = Problem.A2, b = Problem.B;
        for (int i = 0; i < Parts.Count; i++)
            switch (Parts[i]) { case "A1": a1 = moved[i]; break; case "A2": a2 = moved[i]; break; default: b = moved[i]; break; }
        return this with { Problem = new MatrixProblem(Problem.Name, Problem.RowFamily, a1, a2, b, Problem.W) };
    }

    public DataLinearization Linearize(double[] x) => new MatrixLinearization(Problem, Parts, x);

    public IReadOnlyList<(int Rows, int Cols)> PartShapes => Parts.Select(p => (Part(p).Rows, Part(p).Cols)).ToArray();

    public Perturbation FromFlat(ReadOnlySpan<double> flat)
    {
        var parts = new List<IRowMatrix>();
        int offset = 0;
        foreach (var name in Parts)
        {
            var m = Part(name);
            parts.Add(new DenseMatrix(m.Rows, m.Cols, flat.Slice(offset, m.Data.Length).ToArray()));
            offset += m.Data.Length;
        }
        if (offset != flat.Length) throw new ArgumentException($"a flattened perturbation of {string.Join(", ", Parts)} has {offset} entries, got {flat.Length}");
        return new Perturbation(parts);
    }

    /// <summary>Entries of one block of output rows that <see cref="OutputDistance"/> and <see cref="OutputCentralDifference"/> hold (2 MiB).</summary>
    public const int OutputBlockEntries = 1 << 18;

    public double[] Output(double[] x)
    {
        int m = Problem.Rows, n = Problem.A2.Rows;
        var z = new double[m * n];
        OutputRows(Problem.A1, Problem.A2, x, 0, m, z, new double[Problem.Side]);
        return z;
    }

    /// <summary>
    /// Rows [start, start + len) of the attention matrix softmax(A1 X A2ᵀ) (A1 m×d, A2 n×d, X d×d) into
    /// <paramref name="rows"/> (len×n): (A1 X)_j into <paramref name="a1x"/> (d), z_ji = ⟨(A1 X)_j, A2_i⟩, then softmax
    /// of each row. Row j's values do not depend on the block it is computed in.
    /// </summary>
    private static void OutputRows(DenseMatrix a1, DenseMatrix a2, ReadOnlySpan<double> x, int start, int len, Span<double> rows, double[] a1x)
    {
        int n = a2.Rows, d = a1.Cols;
        for (int jj = 0; jj < len; jj++)
        {
            int j = start + jj;
            for (int p = 0; p < d; p++)
            {
                double s = 0;
                for (int q = 0; q < d; q++) s += a1[j, q] * x[q * d + p];
                a1x[p] = s;
            }
            var z = rows.Slice(jj * n, n);
            for (int i = 0; i < n; i++) z[i] = SpanMath.Dot(a1x, a2.Row(i));
            SensitivityAnalysis.SoftmaxInPlace(z);
        }
    }

    /// <summary>
    /// ‖softmax(A1' X' A2'ᵀ) − softmax(A1 X A2ᵀ)‖_F by blocks of about <paramref name="blockEntries"/> entries (at least
    /// one row): both blocks computed (<see cref="OutputRows"/>), subtracted and their squares summed, so no m×n array
    /// exists. Equal to the norm of the difference of the whole outputs up to the order of the sum.
    /// </summary>
    internal static double OutputDistance(DenseMatrix a1, DenseMatrix a2, double[] x, DenseMatrix a1Other, DenseMatrix a2Other, double[] xOther,
        int blockEntries = OutputBlockEntries)
    {
        if (a1Other.Rows != a1.Rows || a2Other.Rows != a2.Rows || a1Other.Cols != a1.Cols || x.Length != xOther.Length)
            throw new ArgumentException("the two outputs differ in shape");
        int m = a1.Rows, n = a2.Rows, d = a1.Cols;
        int rows = Math.Max(1, Math.Min(m, blockEntries / Math.Max(n, 1)));
        double[] f = new double[rows * n], g = new double[rows * n], a1x = new double[d];
        double squares = 0;
        for (int start = 0; start < m; start += rows)
        {
            int len = Math.Min(rows, m - start);
            Span<double> fb = f.AsSpan(0, len * n), gb = g.AsSpan(0, len * n);
            OutputRows(a1, a2, x, start, len, fb, a1x);
            OutputRows(a1Other, a2Other, xOther, start, len, gb, a1x);
            SpanMath.Subtract(gb, fb, gb);
            squares += SpanMath.SumOfSquares(gb);
        }
        return Math.Sqrt(squares);
    }

    public double OutputDistance(double[] x, ISensitivityProblem other, double[] xOther) => other is MatrixSensitivityProblem o
        ? OutputDistance(Problem.A1, Problem.A2, x, o.Problem.A1, o.Problem.A2, xOther)
        : throw new ArgumentException($"the output of a {other.GetType().Name} cannot be compared with a matrix problem's");

    /// <summary>
    /// ‖f(θ + tΔ; x₊) − f(θ − tΔ; x₋)‖ with A1 ± tΔA1 and A2 ± tΔA2 (m×d, n×d: small) formed as <see cref="Perturbed(Perturbation, double)"/>
    /// forms them and B left alone (the attention matrix does not depend on it), streamed by <see cref="OutputDistance(DenseMatrix, DenseMatrix, double[], DenseMatrix, DenseMatrix, double[], int)"/>.
    /// </summary>
    public double OutputCentralDifference(Perturbation delta, double t, double[] xPlus, double[] xMinus)
    {
        DenseMatrix a1Plus = Problem.A1, a1Minus = Problem.A1, a2Plus = Problem.A2, a2Minus = Problem.A2;
        for (int i = 0; i < Parts.Count; i++)
            switch (Parts[i])
            {
                case "A1":
                    a1Plus = (DenseMatrix)SensitivityAnalysis.Add(Problem.A1, delta.Parts[i], t);
                    a1Minus = (DenseMatrix)SensitivityAnalysis.Add(Problem.A1, delta.Parts[i], -t);
                    break;
                case "A2":
                    a2Plus = (DenseMatrix)SensitivityAnalysis.Add(Problem.A2, delta.Parts[i], t);
                    a2Minus = (DenseMatrix)SensitivityAnalysis.Add(Problem.A2, delta.Parts[i], -t);
                    break;
            }
        return OutputDistance(a1Minus, a2Minus, xMinus, a1Plus, a2Plus, xPlus);
    }
}
