using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// Where one worker's share of a multiple softmax regression pass goes (issue 12): a shard of rows = n / shards rows
/// of A1 and B (n columns), one thread, as the local simulation runs each of its workers. Times (medians) the
/// requests a Newton-CG iteration sends — the loss at a new x (forward products and row residuals), the gradient, a
/// Hessian-vector product and the Kronecker factors at the cached x, the loss with ∇L in single precision and anchored,
/// the start's scale — and the log-linear start's pass against their
/// dense products alone (the floor of a pass) and the row exponentials alone.
/// Usage: matrix-passes [n] [d] [shards].
/// </summary>
public static class MatrixPassBreakdown
{
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 4096;
        int d = args.Length > 1 ? int.Parse(args[1]) : 64;
        int shards = args.Length > 2 ? int.Parse(args[2]) : 2;
        int rows = n / shards;
        var rng = new Rng(12);
        var a1 = new DenseMatrix(rows, d); rng.FillNormal(a1.Data, 1 / Math.Sqrt(d));
        var a2 = new DenseMatrix(n, d); rng.FillNormal(a2.Data, 1 / Math.Sqrt(d));
        var b = new DenseMatrix(rows, n); for (int i = 0; i < b.Data.Length; i++) b.Data[i] = rng.NextDouble();
        for (int j = 0; j < rows; j++)
        {
            var row = b.Data.AsSpan(j * n, n);
            SpanMath.Multiply(row, 1.0 / SpanMath.Sum(row), row);
        }
        var x = new double[d * d]; rng.FillNormal(x, 0.1);
        MatrixShard NewShard() => new(NormalizedSoftmax.Instance, a1, a2, b, null, 0, ShardComputeOptions.Sequential);
        // A solve's iteration 0 on a freshly loaded shard: the start's pass, then the loss with ∇L at x0. Measured
        // first, on a shard that has answered nothing (its M cache never written), as a worker meets them.
        var coldShard = NewShard();
        double coldStart = Timing.Seconds(() => coldShard.Evaluate(new LogLinearStartRequest()));
        double coldFirstPass = Timing.Seconds(() => coldShard.Evaluate(new ScalarsRequest((double[])x.Clone(), WithGradient: true)));
        var shard = NewShard();
        var v = new double[d * d]; rng.FillNormal(v);
        int tick = 0;
        double[] Fresh() { var y = (double[])x.Clone(); y[0] += 1e-9 * ++tick; return y; }
        var globals = Array.Empty<double>();

        Console.WriteLine($"n = {n}, d = {d}, shard of {rows} rows (1 of {shards}), one thread; OpenBLAS: {NativeBlas.Available}");
        void Row(string what, double seconds, double floor) =>
            Console.WriteLine($"  {what,-62} {seconds * 1e3,8:F2} ms  {seconds / floor,5:F2}× the products");
        // The products of one pass: T = A1 X (rows×d×d), M = T A2ᵀ (rows×n×d), then P = R A2 and A1ᵀ P.
        var t = new double[rows * d];
        var m = new double[(long)rows * n];
        var p = new double[rows * d];
        var partial = new double[d * d];
        double forward = Timing.Median(() =>
        {
            MatrixProducts.Gemm(rows, d, d, a1.Data, d, x, d, t, d, false);
            MatrixProducts.Gemm(rows, n, d, t, d, MatrixProducts.Transpose(a2.Data, n, d), n, m, n, false);
        }, 7, 2);
        var a1T = MatrixProducts.Transpose(a1.Data, rows, d);
        double back = Timing.Median(() =>
        {
            MatrixProducts.Gemm(rows, d, n, m, n, a2.Data, d, p, d, false);
            MatrixProducts.Gemm(d, d, rows, a1T, rows, p, d, partial, d, false);
        }, 7, 2);
        var e = new double[(long)rows * n];
        double exp = Timing.Median(() => VectorExp.Exp(m, e), 7, 2);
        double products = forward + back;
        Console.WriteLine($"  forward products A1·X·A2ᵀ {forward * 1e3:F2} ms, back-projection A1ᵀ·(R·A2) {back * 1e3:F2} ms, " +
                          $"rows·n exponentials {exp * 1e3:F2} ms");
        Row("loss at a new x (ScalarsRequest)", Timing.Median(() => shard.Evaluate(new ScalarsRequest(Fresh())), 7, 2), products);
        shard.Evaluate(new ScalarsRequest(x));
        Row("gradient at the cached x (GradientRequest)", Timing.Median(() =>
            shard.Evaluate(new GradientRequest(x, globals, HessianKind.GaussNewton, false)), 7, 2), products);
        Row("gradient at a new x", Timing.Median(() =>
            shard.Evaluate(new GradientRequest(Fresh(), globals, HessianKind.GaussNewton, false)), 7, 2), products);
        shard.Evaluate(new ScalarsRequest(x));
        Row("Hessian-vector product at the cached x (HessianVectorRequest)", Timing.Median(() =>
            shard.Evaluate(new HessianVectorRequest(x, globals, HessianKind.GaussNewton, v)), 7, 2), products);
        Row("the same in single precision (SinglePrecision: sgemm)", Timing.Median(() =>
            shard.Evaluate(new HessianVectorRequest(x, globals, HessianKind.GaussNewton, v, SinglePrecision: true)), 7, 2), products);
        if (shard.SingleValuesRows > 0)
        {
            // Without the M cache the shard keeps the first SingleValuesRows rows' values in single precision; against
            // a shard that keeps none and forms every group's M by sgemm for each product.
            var keepingNothing = new MatrixShard(NormalizedSoftmax.Instance, a1, a2, b, null, 0, ShardComputeOptions.Sequential,
                maxSingleValuesEntries: 0);
            keepingNothing.Evaluate(new ScalarsRequest(x, WithGradient: true));
            Row($"  ({shard.SingleValuesRows} rows' values kept; keeping none:)", Timing.Median(() =>
                keepingNothing.Evaluate(new HessianVectorRequest(x, globals, HessianKind.GaussNewton, v, SinglePrecision: true)), 7, 2), products);
        }
        shard.Evaluate(new GradientRequest(x, globals, HessianKind.GaussNewton, false));
        Row("Kronecker factors at the cached x (KroneckerFactorsRequest)", Timing.Median(() =>
            shard.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton)), 7, 2), products);
        Row("the same in single precision (SinglePrecision: sgemm)", Timing.Median(() =>
            shard.Evaluate(new KroneckerFactorsRequest(x, HessianKind.GaussNewton, SinglePrecision: true)), 7, 2), products);
        Row("log-linear start's sums (LogLinearStartRequest)", Timing.Median(() =>
            shard.Evaluate(new LogLinearStartRequest()), 7, 2), products);
        Row("loss with ∇L at a new x (ScalarsRequest WithGradient)", Timing.Median(() =>
            shard.Evaluate(new ScalarsRequest(Fresh(), WithGradient: true)), 7, 2), products);
        Row("the same in single precision (SinglePrecision: sgemm)", Timing.Median(() =>
            shard.Evaluate(new ScalarsRequest(Fresh(), WithGradient: true, SinglePrecision: true)), 7, 2), products);
        // A chain of anchored passes (each from the last one's x, the first from a pass in double).
        shard.Evaluate(new ScalarsRequest(Fresh(), WithGradient: true));
        Row("the same anchored at the last x (ScalarsRequest Anchored)", Timing.Median(() =>
            shard.Evaluate(new ScalarsRequest(Fresh(), WithGradient: true, Anchored: true)), 7, 2), products);
        Row("the start's scale along the cached x (StartScaleRequest)", Timing.Median(() =>
            shard.Evaluate(new StartScaleRequest(x, 1.0 + 1e-3 * ++tick)), 7, 2), products);
        Row("cold shard: the start's sums, first request", coldStart, products);
        Row("cold shard: then loss with ∇L at x0, its first pass", coldFirstPass, products);
        var freshShard = NewShard();
        Row("fresh shard, warm code: the start's sums", Timing.Seconds(() => freshShard.Evaluate(new LogLinearStartRequest())), products);
        Row("fresh shard, warm code: loss with ∇L at x0", Timing.Seconds(() => freshShard.Evaluate(new ScalarsRequest((double[])x.Clone(), WithGradient: true))), products);
        Row("fresh shard, warm code: again at a new x", Timing.Seconds(() => freshShard.Evaluate(new ScalarsRequest(Fresh(), WithGradient: true))), products);
        var exact = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x, globals, HessianKind.GaussNewton, v))).Product;
        var single = ((HessianVectorReply)shard.Evaluate(new HessianVectorRequest(x, globals, HessianKind.GaussNewton, v, SinglePrecision: true))).Product;
        double difference = 0, norm = 0;
        for (int i = 0; i < exact.Length; i++) { difference += (single[i] - exact[i]) * (single[i] - exact[i]); norm += exact[i] * exact[i]; }
        Console.WriteLine($"  single-precision product's relative error {Math.Sqrt(difference / norm):E2}");
        return 0;
    }
}
