using System.Text.Json;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// The products of a matrix shard (rows of A1 and B, n columns, X d×d) through <see cref="MatrixProducts.Gemm"/>,
/// rows split into one block per core as the shard splits them, against NumPy's matmul on the same shapes
/// (bench/scipy/matmul_shapes.py, its BLAS on both cores) — the README's GEMM comparison. Prints one JSON line.
/// Usage: gemm ROWS N D [REPEATS]
/// </summary>
public static class GemmShapes
{
    public static int Run(string[] args)
    {
        int rows = int.Parse(args[0]), n = int.Parse(args[1]), d = int.Parse(args[2]);
        int repeats = args.Length > 3 ? int.Parse(args[3]) : 5;
        var rng = new Rng(1);
        double[] Fill(long count) { var a = new double[count]; rng.FillNormal(a, 1.0); return a; }
        var a1 = Fill((long)rows * d); var x = Fill(d * d); var a2T = Fill((long)d * n); var g = Fill((long)rows * n);
        var a2 = MatrixProducts.Transpose(a2T, d, n); var a1T = MatrixProducts.Transpose(a1, rows, d); var p = Fill((long)rows * d);
        var t = new double[(long)rows * d]; var m = new double[(long)rows * n]; var back = new double[(long)rows * d];
        int blocks = Environment.ProcessorCount;
        (int S, int E) Block(int k) => (rows * k / blocks, rows * (k + 1) / blocks);
        void RowBlocks(Action<int, int> body) => Parallel.For(0, blocks, k => { var (s, e) = Block(k); body(s, e); });
        var dd = new double[blocks][];
        for (int k = 0; k < blocks; k++) dd[k] = new double[d * d];
        var products = new (string Name, Action Run, double Flops)[]
        {
            ("A1*X", () => RowBlocks((s, e) => MatrixProducts.Gemm(e - s, d, d, a1.AsSpan(s * d), d, x, d, t.AsSpan(s * d), d, false)), 2.0 * rows * d * d),
            ("T*A2t", () => RowBlocks((s, e) => MatrixProducts.Gemm(e - s, n, d, a1.AsSpan(s * d), d, a2T, n, m.AsSpan(s * n), n, false)), 2.0 * rows * d * n),
            ("G*A2", () => RowBlocks((s, e) => MatrixProducts.Gemm(e - s, d, n, g.AsSpan(s * n), n, a2, d, back.AsSpan(s * d), d, false)), 2.0 * rows * n * d),
            ("A1t*P", () => Parallel.For(0, blocks, k => { var (s, e) = Block(k); MatrixProducts.Gemm(d, d, e - s, a1T.AsSpan(s), rows, p.AsSpan(s * d), d, dd[k], d, false); }), 2.0 * rows * d * d),
        };
        var result = new Dictionary<string, object>();
        foreach (var (name, run, flops) in products)
        {
            run();
            var times = new List<double>();
            for (int r = 0; r < repeats; r++)
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                run();
                times.Add(sw.Elapsed.TotalSeconds);
            }
            double median = times.Order().ElementAt(times.Count / 2);
            result[name] = new { seconds = median, gflops = flops / median / 1e9 };
        }
        Console.WriteLine(JsonSerializer.Serialize(new { rows, n, d, threads = blocks, products = result }));
        return 0;
    }
}
