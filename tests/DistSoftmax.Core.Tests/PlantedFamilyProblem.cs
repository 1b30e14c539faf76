using System.Numerics.Tensors;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// A rescaled or hyperbolic problem with a planted zero x* (n = 300, d = 6): b = u(Ax*) for hyperbolic, u(Ax*)/Σu for
/// rescaled. <see cref="InBasin"/> is a start in x*'s basin, off the symmetric points (cosh is even; rescaled sinh and
/// tanh have the trivial zero x = 0). <see cref="Error"/> compares a solution with x*: for rescaled the normalised
/// outputs, since the loss ‖u − ⟨u,1⟩b‖² is zero wherever u(Ax) ∝ u(Ax*).
/// </summary>
public sealed record PlantedFamilyProblem(string Problem, Unit Unit, TestProblem P, double[] XTrue, double[] B)
{
    public const int N = 300, D = 6;

    public static PlantedFamilyProblem Create(string problem, Unit unit)
    {
        var a = TestProblem.Gaussian(N, D, 41);
        var xTrue = TestProblem.Vector(D, 42, 0.8);
        var u = Outputs(a, unit, xTrue);
        double sum = u.Sum();
        var b = problem == "rescaled" ? u.Select(v => v / sum).ToArray() : u;
        return new PlantedFamilyProblem(problem, unit, new TestProblem(Families.Create(problem, unit), a, b, Regularizer.None), xTrue, b);
    }

    public double[] InBasin => XTrue.Select((v, j) => v * (j % 2 == 0 ? 0.7 : 1.3)).ToArray();

    public double Error(double[] x)
    {
        if (Problem != "rescaled") return Assertions.RelativeError(x, XTrue);
        var fit = Outputs((Linear.DenseMatrix)P.A, Unit, x);
        double s = fit.Sum();
        return Assertions.RelativeError(fit.Select(v => v / s).ToArray(), B);
    }

    private static double[] Outputs(Linear.DenseMatrix a, Unit unit, double[] x)
    {
        var u = new double[a.Rows];
        for (int i = 0; i < a.Rows; i++) u[i] = UnitCatalog.Evaluate(unit, TensorPrimitives.Dot(a.Row(i), x)).U;
        return u;
    }
}
