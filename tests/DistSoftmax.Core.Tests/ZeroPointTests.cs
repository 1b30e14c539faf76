using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// At x = 0 a vector shard takes z = A·0 = 0 without reading A (the default start and the analysis's L(0)): its loss and
/// gradient there must be those of the closed form, also after it held z at another point and through the fused
/// loss-and-gradient pass of a line-search trial.
/// </summary>
public class ZeroPointTests
{
    /// <summary>Normalized softmax regression at x = 0: f = 1/n, L = ½‖f − b‖², ∇L = Aᵀ(f∘r − f·⟨f, r⟩), r = f − b.</summary>
    private static (double Loss, double[] Gradient) ClosedFormAtZero(DistSoftmax.Core.Linear.DenseMatrix a, double[] b)
    {
        int n = a.Rows, d = a.Cols;
        double f = 1.0 / n, loss = 0, fr = 0;
        var r = new double[n];
        for (int i = 0; i < n; i++) { r[i] = f - b[i]; loss += 0.5 * r[i] * r[i]; fr += f * r[i]; }
        var g = new double[d];
        for (int i = 0; i < n; i++)
        {
            double beta = f * r[i] - f * fr;
            for (int j = 0; j < d; j++) g[j] += beta * a[i, j];
        }
        return (loss, g);
    }

    [Fact]
    public void Loss_and_gradient_at_zero_are_the_closed_form_after_another_point_and_in_the_fused_pass()
    {
        var a = TestProblem.Gaussian(3000, 9, 71, 2.0);
        var p = new TestProblem(NormalizedSoftmax.Instance, a, TestProblem.Distribution(3000, 72), Regularizer.None);
        var (loss, gradient) = ClosedFormAtZero(a, p.B);
        var driver = p.Driver(3);
        var zero = new double[p.D];
        var elsewhere = TestProblem.Vector(p.D, 73, 1.0);

        Evaluation.At(driver, p.Objective, elsewhere);             // the shards now hold z at another point
        var atZero = Evaluation.At(driver, p.Objective, zero);
        Assert.Equal(loss, atZero.Loss, 1e-15);
        Assert.True(Assertions.RelativeError(atZero.Gradient, gradient) < 1e-12, $"gradient off by {Assertions.RelativeError(atZero.Gradient, gradient):E2}");

        // A line-search trial's one pass (loss and gradient with a reference point's globals), again after elsewhere.
        Evaluation.At(driver, p.Objective, elsewhere);
        var reference = p.Objective.Evaluate(zero, (ScalarsReply)p.Driver(1).Evaluate(new ScalarsRequest(zero)));
        var fused = (ScalarsReply)driver.Evaluate(new ScalarsRequest(zero, reference.Globals, WithGradient: true));
        Assert.Equal(loss, p.Objective.Evaluate(zero, fused).Loss, 1e-15);
    }
}
