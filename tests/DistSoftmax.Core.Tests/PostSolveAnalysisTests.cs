using DistSoftmax.Core.Analysis;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using MathNet.Numerics.LinearAlgebra;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The post-solve analysis against dense references written here from the definitions (docs/MATH.md): fitted values
/// and residuals computed entry by entry, gradients by central differences of a dense loss, Hessians by central
/// differences of the gradient, eigenvalues by MathNet, Lanczos against a dense eigen-decomposition.
/// </summary>
public class PostSolveAnalysisTests
{
    private const double FiniteDifferenceStep = 1e-5;

    private static double Unit(string unit, double z) => unit switch
    {
        "exp" => Math.Exp(z),
        "cosh" => Math.Cosh(z),
        "sinh" => Math.Sinh(z),
        "tanh" => Math.Tanh(z),
        _ => throw new ArgumentException(unit),
    };

    /// <summary>(fitted, residual) of one row z with targets b, from the family definitions.</summary>
    private static (double[] Fitted, double[] Residual) DenseRow(IVectorFamily family, double[] z, double[] b)
    {
        int n = z.Length;
        var f = new double[n];
        var c = new double[n];
        switch (family)
        {
            case NormalizedSoftmax:
            {
                double m = z.Max(), s = 0;
                for (int i = 0; i < n; i++) s += Math.Exp(z[i] - m);
                for (int i = 0; i < n; i++) { f[i] = Math.Exp(z[i] - m) / s; c[i] = f[i] - b[i]; }
                break;
            }
            case RescaledRegression r:
            {
                for (int i = 0; i < n; i++) f[i] = Unit(r.Unit.Name(), z[i]);
                double total = f.Sum();
                for (int i = 0; i < n; i++) c[i] = f[i] - total * b[i];
                break;
            }
            case HyperbolicRegression h:
                for (int i = 0; i < n; i++) { f[i] = Unit(h.Unit.Name(), z[i]); c[i] = f[i] - b[i]; }
                break;
        }
        return (f, c);
    }

    private static double[] Times(DenseMatrix a, double[] x)
    {
        var z = new double[a.Rows];
        for (int i = 0; i < a.Rows; i++)
            for (int j = 0; j < a.Cols; j++) z[i] += a[i, j] * x[j];
        return z;
    }

    /// <summary>L(x) = ½‖c(Ax)‖² + ½Σ w_i² (Ax)_i², dense.</summary>
    private static double DenseLoss(IVectorFamily family, DenseMatrix a, double[] b, double[] w, double[] x)
    {
        var z = Times(a, x);
        var (_, c) = DenseRow(family, z, b);
        double loss = 0;
        for (int i = 0; i < z.Length; i++) loss += 0.5 * c[i] * c[i] + 0.5 * w[i] * w[i] * z[i] * z[i];
        return loss;
    }

    private static double[] CentralDifference(Func<double[], double> f, double[] x)
    {
        var g = new double[x.Length];
        for (int k = 0; k < x.Length; k++)
        {
            var p = (double[])x.Clone(); p[k] += FiniteDifferenceStep;
            var m = (double[])x.Clone(); m[k] -= FiniteDifferenceStep;
            g[k] = (f(p) - f(m)) / (2 * FiniteDifferenceStep);
        }
        return g;
    }

    /// <summary>Columns of the Hessian by central differences of the gradient, symmetrised.</summary>
    private static double[] HessianByDifferences(Func<double[], double[]> gradient, double[] x)
    {
        int d = x.Length;
        var h = new double[d * d];
        for (int k = 0; k < d; k++)
        {
            var p = (double[])x.Clone(); p[k] += FiniteDifferenceStep;
            var m = (double[])x.Clone(); m[k] -= FiniteDifferenceStep;
            var gp = gradient(p); var gm = gradient(m);
            for (int i = 0; i < d; i++) h[i * d + k] = (gp[i] - gm[i]) / (2 * FiniteDifferenceStep);
        }
        for (int i = 0; i < d; i++)
            for (int j = 0; j < i; j++) h[i * d + j] = h[j * d + i] = 0.5 * (h[i * d + j] + h[j * d + i]);
        return h;
    }

    private static PostSolveEvaluator VectorEvaluator(IVectorFamily family, DenseMatrix a, double[] b, double[] w, int shards) =>
        new(ShardLayout.VectorShards(family, a, b, Regularizer.PerRow(w), shards), new VectorObjective(family, a.Cols, a.Rows));

    public static IEnumerable<object[]> FamilyNames() => TestProblem.AllFamilies().Select(f => new object[] { f.Name });

    [Theory]
    [MemberData(nameof(FamilyNames))]
    public void SavedArraysMatchDenseReferences(string familyName)
    {
        var family = TestProblem.FamilyNamed(familyName);
        int n = 23, d = 4;
        var a = TestProblem.Gaussian(n, d, 11);
        var b = TestProblem.Distribution(n, 12);
        var w = TestProblem.Vector(n, 13, 0.5);
        var x = TestProblem.Vector(d, 14, 0.7);
        var evaluator = VectorEvaluator(family, a, b, w, shards: 3);

        var result = PostSolveAnalysis.Run(evaluator, x, PostSolveOutputs.Fitted | PostSolveOutputs.Residual | PostSolveOutputs.Gradient | PostSolveOutputs.Hessian,
            regularized: true, seed: 1);

        var (fitted, residual) = DenseRow(family, Times(a, x), b);
        Assert.Equal(new long[] { n }, result.FittedShape);
        Assert.True(Assertions.RelativeError(result.Fitted, fitted) < 1e-13, $"fitted off by {Assertions.RelativeError(result.Fitted, fitted):E2}");
        Assert.True(Assertions.RelativeError(result.Residual, residual) < 1e-12, $"residual off by {Assertions.RelativeError(result.Residual, residual):E2}");

        double Loss(double[] v) => DenseLoss(family, a, b, w, v);
        Assert.Equal(Loss(x), result.Regime.Loss, 1e-10 * Math.Max(1, Math.Abs(Loss(x))));
        var gradient = CentralDifference(Loss, x);
        Assert.True(Assertions.RelativeError(result.Gradient, gradient) < 1e-7, $"gradient off by {Assertions.RelativeError(result.Gradient, gradient):E2}");

        var hessian = HessianByDifferences(v => evaluator.Gradient(evaluator.Evaluate(v)).Gradient, x);
        Assert.True(Assertions.RelativeError(result.Hessian, hessian) < 1e-6, $"Hessian off by {Assertions.RelativeError(result.Hessian, hessian):E2}");

        var reference = Matrix<double>.Build.Dense(d, d, (i, j) => hessian[i * d + j]).Evd(Symmetricity.Symmetric)
            .EigenValues.Select(e => e.Real).OrderBy(v => v).ToArray();
        Assert.True(Assertions.RelativeError(result.HessianEigenvalues, reference) < 1e-6);
        Assert.True(result.HessianEigenvalues!.Zip(result.HessianEigenvalues!.Skip(1)).All(p => p.First <= p.Second), "eigenvalues not ascending");
        Assert.Equal(reference[0], result.Regime.LambdaMin, 1e-6 * reference.Max(Math.Abs));
        Assert.Equal(reference[^1], result.Regime.LambdaMax, 1e-6 * reference.Max(Math.Abs));
        Assert.Equal("exact-eigenvalues", result.Regime.Method);
        Assert.Equal(DenseLoss(family, a, b, w, new double[d]), result.Regime.LossAtZero, 1e-10);
    }

    [Fact]
    public void MatrixProblemFittedMatrixGradientAndHessianMatchDenseReferences()
    {
        int n = 5, d = 2;
        var problem = MatrixTestProblems.Random(Families.MultipleNormalized, n, d, weighted: true, seed: 40);
        var x = MatrixTestProblems.RandomX(d, 41, 0.8);
        var evaluator = new PostSolveEvaluator(problem.Shards(2), problem.Objective);
        var result = PostSolveAnalysis.Run(evaluator, x, PostSolveOutputs.Fitted | PostSolveOutputs.Residual | PostSolveOutputs.Gradient | PostSolveOutputs.Hessian,
            regularized: true, seed: 1);

        // M = A1 X A2ᵀ entry by entry; row j's fitted values softmax(M_j); loss Σ_j ½‖softmax(M_j) − B_j‖² + ½‖W∘M‖².
        double[,] M(double[] v)
        {
            var m = new double[n, n];
            for (int j = 0; j < n; j++)
                for (int i = 0; i < n; i++)
                    for (int k = 0; k < d; k++)
                        for (int l = 0; l < d; l++) m[j, i] += problem.A1[j, k] * v[k * d + l] * problem.A2[i, l];
            return m;
        }
        double Loss(double[] v)
        {
            var m = M(v);
            double loss = 0;
            for (int j = 0; j < n; j++)
            {
                var z = Enumerable.Range(0, n).Select(i => m[j, i]).ToArray();
                var (_, c) = DenseRow(NormalizedSoftmax.Instance, z, problem.B.Row(j).ToArray());
                for (int i = 0; i < n; i++) loss += 0.5 * c[i] * c[i] + 0.5 * Math.Pow(problem.W![j, i] * m[j, i], 2);
            }
            return loss;
        }
        var mx = M(x);
        var fitted = new double[n * n];
        var residual = new double[n * n];
        for (int j = 0; j < n; j++)
        {
            var (f, c) = DenseRow(NormalizedSoftmax.Instance, Enumerable.Range(0, n).Select(i => mx[j, i]).ToArray(), problem.B.Row(j).ToArray());
            f.CopyTo(fitted, j * n);
            c.CopyTo(residual, j * n);
        }
        Assert.Equal(new long[] { n, n }, result.FittedShape);
        Assert.True(Assertions.RelativeError(result.Fitted, fitted) < 1e-13);
        Assert.True(Assertions.RelativeError(result.Residual, residual) < 1e-12);
        Assert.True(Assertions.RelativeError(result.Gradient, CentralDifference(Loss, x)) < 1e-7);
        var hessian = HessianByDifferences(v => evaluator.Gradient(evaluator.Evaluate(v)).Gradient, x);
        Assert.True(Assertions.RelativeError(result.Hessian, hessian) < 1e-6);
        Assert.Equal(d * d, result.HessianEigenvalues!.Length);
        // The theorem's weight and target conditions are stated for the vector problem only.
        Assert.Null(result.Regime.RegularizerWeights.Holds);
        Assert.Null(result.Regime.TargetL1Norm.Holds);
    }

    [Fact]
    public void LanczosExtremesAreDenseEigenvaluesAtFullDimensionAndInnerBoundsBefore()
    {
        int dim = 40;
        var g = TestProblem.Gaussian(dim, dim, 7);
        var h = Matrix<double>.Build.Dense(dim, dim, (i, j) => g[i, j] + g[j, i]);
        var exact = h.Evd(Symmetricity.Symmetric).EigenValues.Select(e => e.Real).OrderBy(v => v).ToArray();
        Func<double[], double[]> multiply = v => (h * Vector<double>.Build.Dense(v)).ToArray();

        var (min, max, steps, converged) = ExtremeEigenvalues.Compute(multiply, dim, seed: 3, maxSteps: dim);
        Assert.True(converged);
        Assert.True(steps <= dim);
        Assert.Equal(exact[0], min, 1e-9);
        Assert.Equal(exact[^1], max, 1e-9);

        var (lo, hi, few, early) = ExtremeEigenvalues.Compute(multiply, dim, seed: 3, maxSteps: 8);
        Assert.Equal(8, few);
        Assert.False(early);
        Assert.True(lo >= exact[0] - 1e-12 && hi <= exact[^1] + 1e-12, $"Ritz values [{lo}, {hi}] outside the spectrum [{exact[0]}, {exact[^1]}]");
        Assert.True(lo < exact[dim / 2] && hi > exact[dim / 2], "eight steps should already spread past the median eigenvalue");
    }

    [Fact]
    public void HessianVectorProductsAreTheExactHessianTimesV()
    {
        var family = NormalizedSoftmax.Instance;
        int n = 30, d = 5;
        var a = TestProblem.Gaussian(n, d, 21);
        var evaluator = VectorEvaluator(family, a, TestProblem.Distribution(n, 22), TestProblem.Vector(n, 23, 0.3), shards: 2);
        var point = evaluator.Evaluate(TestProblem.Vector(d, 24));
        var (_, lowRank) = evaluator.Gradient(point);
        var h = evaluator.Hessian(point, lowRank);
        var v = TestProblem.Vector(d, 25);
        var expected = new double[d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) expected[i] += h[i * d + j] * v[j];
        Assert.True(Assertions.RelativeError(evaluator.HessianVector(point, lowRank, v), expected) < 1e-12);
    }

    [Fact]
    public void AboveTheHessianLimitTheRegimeComesFromLanczosAndSaysSo()
    {
        int n = 40, d = 6;
        var a = TestProblem.Gaussian(n, d, 61);
        var (evaluator, x) = Solved(a, TestProblem.Distribution(n, 62), 11.0);
        var exact = PostSolveAnalysis.Run(evaluator, x, PostSolveOutputs.None, regularized: true, seed: 1).Regime;
        // Limit 3 < d = 6: Lanczos with min(30, 6) = 6 steps spans the whole space, so its Ritz values are the exact extremes.
        var lanczos = PostSolveAnalysis.Run(evaluator, x, PostSolveOutputs.Gradient, regularized: true, seed: 1, hessianLimit: 3);
        var r = lanczos.Regime;
        Assert.Equal("lanczos", r.Method);
        Assert.Equal(d, r.LanczosSteps);
        Assert.Equal(exact.LambdaMin, r.LambdaMin, 1e-9 * exact.LambdaMax);
        Assert.Equal(exact.LambdaMax, r.LambdaMax, 1e-9 * exact.LambdaMax);
        Assert.Null(r.PositiveDefinite.Holds);          // a positive Ritz value only bounds λ_min from above
        Assert.Null(r.SigmaMinA);                        // AᵀA is not formed above the limit
        Assert.Null(r.RegularizerWeights.Holds);         // w² = 121 > 100, but σ_min(A) is unknown
        Assert.True(r.TargetL1Norm.Holds);
        Assert.NotNull(lanczos.Gradient);
        Assert.Throws<ArgumentException>(() =>
            PostSolveAnalysis.Run(evaluator, x, PostSolveOutputs.Hessian, regularized: true, seed: 1, hessianLimit: 3));
    }

    [Fact]
    public void AfterASolveTheLanczosIsBudgetedToAQuarterOfItsRequestsWithinTenToThirtySteps()
    {
        Assert.Equal(PostSolveAnalysis.MinLanczosSteps, PostSolveAnalysis.LanczosBudget(0));
        Assert.Equal(PostSolveAnalysis.MinLanczosSteps, PostSolveAnalysis.LanczosBudget(39));
        Assert.Equal(15, PostSolveAnalysis.LanczosBudget(62));               // the 8192×128 solve: 62 requests
        Assert.Equal(PostSolveAnalysis.LanczosSteps, PostSolveAnalysis.LanczosBudget(10_000));

        // A budget below the dimension stops the Lanczos there: the values are then bounds on the extremes.
        int n = 400, d = 40;
        var a = TestProblem.Gaussian(n, d, 63);
        var (evaluator, x) = Solved(a, TestProblem.Distribution(n, 64), 11.0);
        var exact = PostSolveAnalysis.Run(evaluator, x, PostSolveOutputs.None, regularized: true, seed: 1).Regime;
        var r = PostSolveAnalysis.Run(evaluator, x, PostSolveOutputs.None, regularized: true, seed: 1, hessianLimit: 3, lanczosSteps: 12).Regime;
        Assert.Equal("lanczos", r.Method);
        Assert.True(r.LanczosSteps <= 12, $"{r.LanczosSteps} steps against a budget of 12");
        double slack = 1e-12 * exact.LambdaMax;
        Assert.True(r.LambdaMin >= exact.LambdaMin - slack, $"θ_min {r.LambdaMin:E6} below λ_min {exact.LambdaMin:E6}");
        Assert.True(r.LambdaMax <= exact.LambdaMax + slack, $"θ_max {r.LambdaMax:E6} above λ_max {exact.LambdaMax:E6}");
        Assert.Throws<ParameterException>(() =>
            PostSolveAnalysis.Run(evaluator, x, PostSolveOutputs.None, regularized: true, seed: 1, hessianLimit: 3, lanczosSteps: 0));
    }

    private static (PostSolveEvaluator Evaluator, double[] X) Solved(DenseMatrix a, double[] b, double w)
    {
        var family = NormalizedSoftmax.Instance;
        var shards = ShardLayout.VectorShards(family, a, b, Regularizer.Uniform(w), 2);
        var objective = new VectorObjective(family, a.Cols, a.Rows);
        var options = new SolverOptions { RelativeTolerance = 1e-10, MaxIterations = 100 };
        var result = new InProcessDriver(shards).Solve(SolverCatalog.Create("newton", options), objective, new double[a.Cols], options);
        return (new PostSolveEvaluator(shards, objective), result.X);
    }

    [Fact]
    public void RegimeWarnsWhenTheRegulariserCollapsesTheSolutionAndNotOnAPlantedFit()
    {
        int n = 200, d = 6;
        var a = TestProblem.Gaussian(n, d, 31, scale: 3.0);
        var planted = TestProblem.Softmax(a, TestProblem.Vector(d, 32, 2.0));

        var (strong, xs) = Solved(a, planted, w: 30.0);
        var collapsed = PostSolveAnalysis.Run(strong, xs, PostSolveOutputs.None, regularized: true, seed: 1);
        Assert.True(collapsed.Regime.Collapsed);
        Assert.Contains(collapsed.Warnings, m => m.Contains("regulariser collapses"));

        var (weak, xw) = Solved(a, planted, w: 1e-5);
        var fit = PostSolveAnalysis.Run(weak, xw, PostSolveOutputs.None, regularized: true, seed: 1);
        Assert.False(fit.Regime.Collapsed);
        Assert.Empty(fit.Warnings);
        Assert.True(fit.Regime.Loss < 1e-3 * fit.Regime.LossAtZero, $"the planted fit should be far below L(0): L(x*) = {fit.Regime.Loss:G4}, L(0) = {fit.Regime.LossAtZero:G4}, collapsed run L(x*) = {collapsed.Regime.Loss:G4}");
    }

    [Fact]
    public void TheoremConditionsFollowTheWeightsTheTargetsAndSigmaMin()
    {
        int n = 40, d = 3;
        var a = TestProblem.Gaussian(n, d, 51);
        var b = TestProblem.Distribution(n, 52);
        const double w = 11.0;
        var (evaluator, x) = Solved(a, b, w);
        var regime = PostSolveAnalysis.Run(evaluator, x, PostSolveOutputs.None, regularized: true, seed: 1).Regime;

        double sigmaMin = Matrix<double>.Build.Dense(n, d, (i, j) => a[i, j]).Svd(computeVectors: false).S.Minimum();
        Assert.Equal(sigmaMin, regime.SigmaMinA!.Value, 1e-10);
        Assert.True(regime.RegularizerWeights.Holds);
        Assert.Equal(w * w, regime.RegularizerWeights.Value!.Value, 1e-9);
        Assert.Equal((w * w - 100) * sigmaMin * sigmaMin, regime.GuaranteedCurvature!.Value, 1e-9);
        Assert.True(regime.TargetL1Norm.Holds);
        Assert.True(regime.PositiveDefinite.Holds);
        // The theorem's guarantee: ∇²L ⪰ l·I.
        Assert.True(regime.LambdaMin >= regime.GuaranteedCurvature!.Value * (1 - 1e-9));

        var (weak, xw) = Solved(a, b.Select(v => 3 * v).ToArray(), 2.0);
        var broken = PostSolveAnalysis.Run(weak, xw, PostSolveOutputs.None, regularized: true, seed: 1).Regime;
        Assert.False(broken.RegularizerWeights.Holds);
        Assert.Null(broken.SigmaMinA);                     // min w² = 4 ≤ 100 decides the condition without AᵀA
        Assert.False(broken.TargetL1Norm.Holds);
        Assert.Equal(3.0, broken.TargetL1Norm.Value!.Value, 1e-12);
    }
}
