namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Predicted seconds per iteration, and per solve, of each solver on a vector problem with n rows, d columns and nnz
/// stored non-zeros of A, from operation counts times per-operation costs measured on this project's 2-core machine
/// (the benchmark's `scale N D newton,approx-newton` command in bench/DistSoftmax.Benchmarks prints the shard time per
/// request kind, from which the constants below were read; README, "Choosing the solver"). The costs:
///   pass      a line-search trial (loss, gradient basis, low-rank vectors): nnz entries read once;
///   sketch    a CountSketch of diag(√|D|)A added to the first gradient pass (approx-newton);
///   leverage  the pass that estimates leverage scores and gathers the sampled rows;
///   Gram      Σ_i D_i a_i a_iᵀ over the kept rows: d²/2 pairs a row when A is stored dense, nnz_i²/2 when sparse;
///   QR        R of each shard's 4d×d sketch, ≈ 8d³ flops;  Cholesky  d³/3 flops (`bench … algebra` measures both).
/// Iterations per solve are typical counts to a relative gradient of 1e-8 (README's measurements). L-BFGS is charged
/// 2000: on the benchmark instance (200000×100) 200 iterations reached only 1.3e-5 of the initial gradient, and at
/// d = 1000 300 iterations did not converge (SciPy's L-BFGS-B ran 14 minutes there without reaching 1e-8), so it is
/// chosen only where a d×d factorisation is out of reach.
/// </summary>
public static class VectorSolverCostModel
{
    /// <summary>
    /// A line-search trial (loss, gradient basis, low-rank sums) per stored entry. Re-read in the thirteenth session
    /// from `scale` (in-process shard time of ScalarsRequest): 8.4 ms at 50000×400, 31–37 ms at 100000×1000, 46–52 ms at
    /// 400000×400, i.e. 0.3–0.4 ns an entry; it had been 1 ns since the fifth session, before the kernels were fused,
    /// which priced every pass-bound form (the sampled step, Newton-CG, L-BFGS) about 3× too high against the Gram.
    /// </summary>
    public const double PassSecondsPerEntry = 0.35e-9;
    /// <summary>CountSketch cost per entry at d ≥ <see cref="SketchCacheColumns"/>; below, it scales with (d/that)², the
    /// share of the 4d×d bucket matrix that misses the cache (measured +0.1 ns an entry at d = 100, +1.6 ns at d = 400).</summary>
    public const double SketchSecondsPerEntry = 1.6e-9;
    public const int SketchCacheColumns = 400;
    public const double LeverageSecondsPerEntry = 0.5e-9;
    /// <summary>
    /// Per-row cost of the sampling machinery in the leverage pass (the bound, the keyed draw, the gather) on rows stored
    /// dense: a leverage-sampling request at n = 200000, d = 100 took 14.5 ms of shard time (`DISTSOFTMAX_TRACE=2 …
    /// scale 200000 100 approx-newton`, ninth session), of which the entries account for 10 ms and the Gram of its 7368
    /// rows for 1.8 ms.
    /// </summary>
    public const double DenseSamplingSecondsPerRow = 1.5e-8;
    /// <summary>
    /// The same on rows stored sparse (CSR), where each row's entries are reached through its index list: measured as
    /// the 35 ms an iteration by which approx-newton exceeded exact Newton on a sparse 200000×100 instance (2 non-zeros a
    /// row), where entries cost nothing. In the ninth session, with the sketch gone from the trials, a local solve of
    /// `generate --n 200000 --d 100 --sparse --density 0.1 --seed 7` still took 37 ms an iteration on the sampled
    /// Gram against exact Newton's 29 ms.
    /// </summary>
    public const double SparseSamplingSecondsPerRow = 1.5e-7;
    /// <summary>The managed blocked SYRK's cost per pair (no OpenBLAS, or d below <see cref="Kernels.WeightedSyrk.NativeMinColumns"/>).</summary>
    public const double DenseGramSecondsPerPair = 6e-11;
    /// <summary>
    /// OpenBLAS's dsyrk per pair (<see cref="Kernels.WeightedSyrk"/>), fitted as a + b/d to `bench … syrk ROWS D` on
    /// the 2 cores: 5.0e-11 s at d = 100, 3.3e-11 at 200, 2.5e-11 at 400, 2.3e-11 at 1000.
    /// </summary>
    public const double NativeGramSecondsPerPair = 2.2e-11, NativeGramSecondsPerPairColumns = 2.8e-9;
    public const double SparseGramSecondsPerPair = 2e-9;
    /// <summary>Dense d×d work (blocked, both cores): Cholesky of d = 1000 in 23 ms, R of the 4000×1000 sketch in 343 ms.</summary>
    public const double CoordinatorSecondsPerFlop = 5e-11;
    /// <summary>
    /// Fixed cost of one request's round trip (fan-out, merge, the solver's step): 1.9–2.4 ms a request on a whole
    /// 2000×10 local-simulation solve (newton-cg: 83 requests in 161 ms; lbfgs: 77 in 187 ms), where the passes
    /// themselves take microseconds. It is what keeps tiny instances off the request-hungry forms.
    /// </summary>
    public const double RequestSeconds = 1e-3;
    /// <summary>Line-search trials per iteration, on average.</summary>
    public const double TrialsPerIteration = 1.3;
    /// <summary>Hessian-vector products (two passes each) per Newton-CG iteration, on average.</summary>
    public const double HessianVectorProductsPerIteration = 6;
    /// <summary>
    /// Hessian-vector products per iteration of the sampled-Gram preconditioned Newton-CG, on average: 4.8 on the
    /// 100000×1000 file (`generate --n 100000 --d 1000 --seed 7`, twelfth session: 72 products in 15 iterations, the
    /// first build sampling uniformly), 3.4 on `scale 100000 1000`'s own instance (47 in 14). One product reads A once
    /// (y = Av and Aᵀ(D∘y) on the same rows), priced by <see cref="ProductSecondsPerEntry"/>. Until the twelfth session
    /// this was 3.2, and the first build's sketch (spread over a solve) made up the difference at the crossover
    /// instances; with the sketch gone, 3.2 would have taken the form at n = 50000, d = 400 and n = 20000, d = 1000,
    /// where it measured slower than Newton (0.343 against 0.150 s) and within the margin (0.243 against 0.279 s).
    /// </summary>
    public const double PreconditionedProductsPerIteration = 4.8;
    /// <summary>
    /// One Hessian-vector product of the preconditioned form per stored entry, its round trip included: a product reads
    /// each row once for y = a_iᵀv and Aᵀ(D∘y), with none of a trial's loss, basis and low-rank sums. Measured in the
    /// 100000×1000 local solve (`solve-compare`, seventh session): iterations 8–9, 67 of whose 69 requests were products,
    /// took 3.6 s, 52 ms a request, i.e. 0.5 ns an entry. Re-read in the thirteenth session from `scale` (in-process shard
    /// time of HessianVectorRequest): 25–30 ms at 100000×1000, 40 ms at 400000×400 (the form forced), 0.25–0.3 ns.
    /// </summary>
    public const double ProductSecondsPerEntry = 0.28e-9;
    /// <summary>
    /// approx-newton switches to the exact Gram only when that is predicted to save at least this much an iteration:
    /// below it the two cost the same to the model's accuracy, and the method asked for is kept.
    /// </summary>
    public const double MinimumSavingSeconds = 1e-3;
    /// <summary>A matrix with at most this fraction of non-zeros is taken to be stored sparse (CSR).</summary>
    public const double SparseDensity = 0.3;

    /// <summary>Typical iterations to a relative gradient of 1e-8.</summary>
    public static int TypicalIterations(string solver) => solver switch
    {
        "newton" => 9,
        "approx-newton" => 12,
        "newton-cg" => 25,
        "lbfgs" => 2000,
        "gd" => 300,
        _ => throw new ArgumentException($"unknown solver '{solver}' (allowed: {string.Join(", ", SolverCatalog.Names)})"),
    };

    /// <summary>Predicted seconds of one iteration of the named solver.</summary>
    public static double SecondsPerIteration(string solver, long n, int d, long nnz, SolverOptions options)
    {
        double pass = nnz * PassSecondsPerEntry + RequestSeconds;
        double cholesky = CoordinatorSecondsPerFlop * Math.Pow(d, 3) / 3;
        switch (solver)
        {
            case "newton":
                return TrialsPerIteration * pass + RequestSeconds + GramSeconds(n, d, nnz, n) + cholesky;
            case "approx-newton":
            {
                var form = FormFor(n, d, nnz, options);
                return FormCosts(n, d, nnz, options).First(c => c.Form == form).Seconds;
            }
            case "newton-cg":
                return TrialsPerIteration * pass + HessianVectorProductsPerIteration * 2 * pass;
            case "lbfgs":
            case "gd":
                return TrialsPerIteration * pass;
            default:
                throw new ArgumentException($"unknown solver '{solver}' (allowed: {string.Join(", ", SolverCatalog.Names)})");
        }
    }

    /// <summary>Predicted seconds of a whole solve: typical iterations × seconds per iteration.</summary>
    public static double SolveSeconds(string solver, long n, int d, long nnz, SolverOptions options) =>
        TypicalIterations(solver) * SecondsPerIteration(solver, n, d, nnz, options);

    /// <summary>
    /// The preconditioned form is taken only where it is predicted this many times cheaper per iteration than the
    /// best direct form: its iteration count varies more (21 against exact Newton's 14 on the 100000×1000 instance,
    /// 12 against 12 on another), and at n = 50000, d = 400 (`crossover`), where it was predicted 1.16× cheaper than
    /// the exact Gram, it measured 0.263 s an iteration against Newton's 0.161 s.
    /// </summary>
    public const double PreconditionedMargin = 1.5;

    /// <summary>
    /// The form approx-newton takes on a vector problem: the one with the least predicted seconds per iteration, where
    /// the exact Gram must save at least <see cref="MinimumSavingSeconds"/> to replace the sampling that was asked for,
    /// and the preconditioned form must be <see cref="PreconditionedMargin"/> times cheaper than the direct ones.
    /// </summary>
    public static ApproximateNewtonForm FormFor(long n, int d, long nnz, SolverOptions options) =>
        FormCosts(n, d, nnz, options).MinBy(c => c.Form switch
        {
            ApproximateNewtonForm.ExactGram => c.Seconds + MinimumSavingSeconds,
            ApproximateNewtonForm.PreconditionedCg => c.Seconds * PreconditionedMargin,
            _ => c.Seconds,
        }).Form;

    /// <summary>
    /// Predicted seconds per iteration of each form of approx-newton. The preconditioned form pays per iteration its
    /// trials and CG products, and every <see cref="Curvature.SampledGramPreconditioner.RefreshIterations"/> iterations
    /// one build (the leverage pass, the Gram of its smaller sample, one Cholesky factorisation).
    /// </summary>
    private static (ApproximateNewtonForm Form, double Seconds)[] FormCosts(long n, int d, long nnz, SolverOptions options)
    {
        double pass = nnz * PassSecondsPerEntry + RequestSeconds;
        double cholesky = CoordinatorSecondsPerFlop * Math.Pow(d, 3) / 3;
        double exact = TrialsPerIteration * pass + RequestSeconds + GramSeconds(n, d, nnz, n) + cholesky;
        double sampled = TrialsPerIteration * pass + RequestSeconds + SamplingOverhead(n, d, nnz, options)
                         + GramSeconds(n, d, nnz, ExpectedSampleRows(n, d, options)) + cholesky;
        double build = RequestSeconds + nnz * LeverageSecondsPerEntry + n * SamplingSecondsPerRow(n, d, nnz)
                       + GramSeconds(n, d, nnz, Math.Min(n, Curvature.SampledGramPreconditioner.SampleSize(options, d))) + cholesky;
        // Its first build samples uniformly, so A is never sketched.
        double product = nnz * ProductSecondsPerEntry + RequestSeconds;
        double preconditioned = TrialsPerIteration * pass + PreconditionedProductsPerIteration * product
                                + build / Curvature.SampledGramPreconditioner.RefreshIterations;
        if (options.UniformSampling)       // uniform sampling is asked for to compare samples: never the exact Gram
            return [(ApproximateNewtonForm.SampledNewton, sampled), (ApproximateNewtonForm.PreconditionedCg, preconditioned)];
        return [(ApproximateNewtonForm.ExactGram, exact), (ApproximateNewtonForm.SampledNewton, sampled),
                (ApproximateNewtonForm.PreconditionedCg, preconditioned)];
    }

    /// <summary>
    /// The rows a sampled-step solve keeps, on average over its iterations, as a fraction of the sample size s: a row
    /// is kept with probability min(1, s·τ_i/Στ), so rows whose leverage would ask for more than certainty take less than
    /// their share and the count falls below s, far below once the softmax weights D concentrate near the solution.
    /// Measured (`DISTSOFTMAX_TRACE=1 … scale N D approx-newton`, thirteenth session): 0.54 of s = 7369 on the
    /// 200000×100 benchmark file (7441–14254 rows in the first iterations, 1531–1576 at the end), 0.50 of 33910 at
    /// 400000×400, 0.29 of 33910 at 50000×400. With s itself the model priced the last at 120 ms an iteration against
    /// exact Newton's 145 ms and chose Newton, which measured 128 ms an iteration and 1.28 s to the sampled step's 75 ms
    /// and 0.90 s.
    /// </summary>
    public const double TypicalSampleFraction = 0.5;

    /// <summary>Rows the sampled Gram keeps in expectation: <see cref="TypicalSampleFraction"/> of the sample size s, at most n.</summary>
    public static double ExpectedSampleRows(long n, int d, SolverOptions options) => Math.Min(n, TypicalSampleFraction * options.SampleSize(d));

    /// <summary>
    /// Whether sampling costs more than the exact Gram it approximates: the leverage pass and the per-row work (and a
    /// sketch where one is asked for) cost more than the rows they save (sparse rows, whose exact Gram is cheap, or a sample that keeps most rows).
    /// Then approx-newton uses the exact Gram, so asking for it never costs more per iteration than exact Newton.
    /// </summary>
    public static bool SampledGramIsDearer(long n, int d, long nnz, SolverOptions options)
    {
        if (options.UniformSampling) return false;
        double saved = GramSeconds(n, d, nnz, n) - GramSeconds(n, d, nnz, ExpectedSampleRows(n, d, options));
        return SamplingOverhead(n, d, nnz, options) - saved >= MinimumSavingSeconds;
    }

    /// <summary>
    /// What sampling adds to an iteration: the leverage pass, per-row work, the Cholesky factor of the sampled Gram
    /// that gives the next iteration's leverage estimates, and, with <c>--sketch-factor</c> ≥ 1 (no longer the default),
    /// spread over the typical iterations, the one sketch of a solve (in the first gradient pass) and its QR.
    /// </summary>
    private static double SamplingOverhead(long n, int d, long nnz, SolverOptions options) =>
        nnz * LeverageSecondsPerEntry
        + n * SamplingSecondsPerRow(n, d, nnz)
        + CoordinatorSecondsPerFlop * Math.Pow(d, 3) / 3
        + (options.SketchRowsPerColumn > 0
            ? (nnz * SketchSeconds(d) + CoordinatorSecondsPerFlop * 8 * Math.Pow(d, 3)) / TypicalIterations("approx-newton")
            : 0);

    private static double SketchSeconds(int d) => SketchSecondsPerEntry * Math.Min(1.0, Math.Pow((double)d / SketchCacheColumns, 2));

    /// <summary>Seconds of a Gram pass keeping <paramref name="rows"/> of the n rows.</summary>
    private static double GramSeconds(long n, int d, long nnz, double rows)
    {
        double perRow = IsStoredSparse(n, d, nnz)
            ? SparseGramSecondsPerPair * 0.5 * Math.Pow(nnz / Math.Max(1.0, n), 2)
            : DenseGramPairSeconds(d) * 0.5 * (double)d * d;
        return rows * perRow;
    }

    private static double SamplingSecondsPerRow(long n, int d, long nnz) =>
        IsStoredSparse(n, d, nnz) ? SparseSamplingSecondsPerRow : DenseSamplingSecondsPerRow;

    /// <summary>Whether A with these sizes is taken to be stored sparse (CSR): density at most <see cref="SparseDensity"/>.</summary>
    private static bool IsStoredSparse(long n, int d, long nnz) => nnz / Math.Max(1.0, (double)n * d) <= SparseDensity;

    /// <summary>Seconds per pair of a dense Gram row: OpenBLAS's dsyrk where <see cref="Kernels.WeightedSyrk"/> uses it.</summary>
    public static double DenseGramPairSeconds(int d) =>
        d >= Kernels.WeightedSyrk.NativeMinColumns && Kernels.NativeBlas.SyrkAvailable
            ? NativeGramSecondsPerPair + NativeGramSecondsPerPairColumns / d
            : DenseGramSecondsPerPair;
}
