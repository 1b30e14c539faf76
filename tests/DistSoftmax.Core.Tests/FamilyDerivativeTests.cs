using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>Every family's gradient and Hessian against central finite differences, dense and sparse, with and without w.</summary>
public class FamilyDerivativeTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var f in TestProblem.AllFamilies())
            foreach (var sparse in new[] { false, true })
                foreach (var reg in new[] { "none", "scalar", "vector" })
                    yield return new object[] { f.Name, sparse, reg };
    }

    private static TestProblem Make(string family, bool sparse, string reg, int n = 40, int d = 6)
    {
        var dense = TestProblem.Gaussian(n, d, 11, 1.0);
        if (sparse)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < d; j++)
                    if ((i * 7 + j * 3) % 3 == 0) dense[i, j] = 0;
        IRowMatrix a = sparse ? dense.ToCsr() : dense;
        var b = family.StartsWith("hyperbolic") ? TestProblem.Vector(n, 12, 0.5).Select(v => v + 1.2).ToArray()
            : TestProblem.Distribution(n, 12);
        var r = reg switch
        {
            "scalar" => Regularizer.Uniform(0.3),
            "vector" => Regularizer.PerRow(TestProblem.Vector(n, 13, 0.4)),
            _ => Regularizer.None,
        };
        return new TestProblem(TestProblem.FamilyNamed(family), a, b, r);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradient_and_Hessian_match_central_finite_differences(string family, bool sparse, string reg)
    {
        var p = Make(family, sparse, reg);
        var driver = p.Driver(3);
        var obj = p.Objective;
        var x = TestProblem.Vector(p.D, 14, 0.7);
        var at = Evaluation.At(driver, obj, x);

        const double h = 1e-5;
        var fdGrad = new double[p.D];
        var fdHess = new double[p.D * p.D];
        for (int j = 0; j < p.D; j++)
        {
            var xp = (double[])x.Clone(); xp[j] += h;
            var xm = (double[])x.Clone(); xm[j] -= h;
            fdGrad[j] = (Evaluation.LossAt(driver, obj, xp) - Evaluation.LossAt(driver, obj, xm)) / (2 * h);
            var gp = Evaluation.At(driver, obj, xp).Gradient;
            var gm = Evaluation.At(driver, obj, xm).Gradient;
            for (int i = 0; i < p.D; i++) fdHess[i * p.D + j] = (gp[i] - gm[i]) / (2 * h);
        }
        Assert.True(Assertions.RelativeError(at.Gradient, fdGrad) < 1e-7, $"gradient rel err {Assertions.RelativeError(at.Gradient, fdGrad):E2}");
        Assert.True(Assertions.RelativeError(at.Hessian, fdHess) < 1e-7, $"Hessian rel err {Assertions.RelativeError(at.Hessian, fdHess):E2}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Hessian_vector_product_equals_the_assembled_Hessian(string family, bool sparse, string reg)
    {
        var p = Make(family, sparse, reg);
        var driver = p.Driver(2);
        var obj = p.Objective;
        var x = TestProblem.Vector(p.D, 15, 0.5);
        var at = Evaluation.At(driver, obj, x);
        var v = TestProblem.Vector(p.D, 16);
        var hv = (HessianVectorReply)driver.Evaluate(new HessianVectorRequest(x, at.Globals, HessianKind.Exact, v));
        var c = obj.LowRankCoefficients(at.Globals, HessianKind.Exact);
        int k = obj.LowRankCount, d = p.D;
        var product = (double[])hv.Product.Clone();
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                for (int i = 0; i < d; i++) product[i] += c[a * k + b] * at.LowRank[a * d + i] * hv.LowRankDots[b];
        var expected = Kernels.DenseAlgebra.Multiply(at.Hessian, d, v);
        Assert.True(Assertions.RelativeError(product, expected) < 1e-12);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gauss_Newton_Hessian_is_positive_semidefinite(string family, bool sparse, string reg)
    {
        var p = Make(family, sparse, reg);
        var driver = p.Driver(2);
        var x = TestProblem.Vector(p.D, 17, 0.9);
        var at = Evaluation.At(driver, p.Objective, x, HessianKind.GaussNewton);
        var (min, max) = Kernels.DenseAlgebra.EigenvalueRange(at.Hessian, p.D);
        Assert.True(min >= -1e-12 * Math.Max(1, max), $"λmin = {min:E3}");
    }
}
