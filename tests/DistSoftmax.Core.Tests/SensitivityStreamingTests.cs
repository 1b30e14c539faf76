using System.Numerics.Tensors;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Sensitivity;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The memory-saving paths of the sensitivity analysis against the materialised computations they replace, on small
/// matrix instances: the streamed Gram operator of the mixed derivative, the streamed loss-gradient norm, output
/// distances by row blocks, perturbed copies made without the direction beside them, the worst case on the streamed
/// Gram operator, and the mixed derivative of a perturbation read in place.
/// </summary>
public class SensitivityStreamingTests
{
    /// <summary>m = n = 12, d = 4 (16 unknowns), weighted, with the named parts perturbed.</summary>
    private static MatrixSensitivityProblem Matrix(string parts, string name = "multiple-normalized") =>
        new(MatrixTestProblems.Random(name, 12, 4, weighted: true, seed: 611), parts.Split(','));

    private static double MaterialisedDistance(double[] f, double[] g)
    {
        var diff = new double[f.Length];
        TensorPrimitives.Subtract(g, f, diff);
        return TensorPrimitives.Norm<double>(diff);
    }

    [Theory]
    [InlineData("A1,A2,B", "multiple-normalized", 1)]        // one row per block
    [InlineData("A1,A2,B", "multiple-rescaled", 40)]         // blocks of 3 rows
    [InlineData("A1,A2,B", "multiple-normalized", MatrixLinearization.ChunkEntries)]
    [InlineData("B", "multiple-normalized", 40)]              // no pass for ΔA1, ΔA2
    [InlineData("A2", "multiple-rescaled", 40)]              // no ΔB blocks
    [InlineData("B,A1", "multiple-normalized", 40)]
    public void Streamed_mixed_gram_is_the_mixed_derivative_of_the_adjoint(string parts, string name, int chunkEntries)
    {
        var problem = Matrix(parts, name);
        var lin = new MatrixLinearization(problem.Problem, problem.Parts, MatrixTestProblems.RandomX(4, 612, 0.6), chunkEntries);
        var v = new double[lin.Dimension];
        Rng.ForStream(613).FillNormal(v);
        // The same operations on the same blocks: the same numbers, not only close ones.
        Assert.Equal(lin.Mixed(lin.MixedAdjoint(v)), lin.MixedGram(v));
        // A perturbation read in place gives the mixed derivative of its flattened copy.
        var delta = problem.Direction(614, 0);
        Assert.Equal(lin.Mixed(DataLinearization.Flatten(delta)), lin.Mixed(delta));
        // The loss-gradient norm summed by blocks equals the norm of the whole gradient up to the order of the sum.
        double whole = TensorPrimitives.Norm<double>(lin.LossGradient());
        Assert.Equal(whole, lin.LossGradientNorm(), 1e-14 * whole);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(13)]    // one row per block (n = 12)
    [InlineData(40)]    // blocks of 3 rows
    [InlineData(MatrixSensitivityProblem.OutputBlockEntries)]
    public void Output_distance_by_row_blocks_equals_the_norm_of_the_materialised_difference(int blockEntries)
    {
        var problem = Matrix("A1,A2,B");
        var x = MatrixTestProblems.RandomX(4, 621, 0.6);
        var moved = (MatrixSensitivityProblem)problem.Perturbed(problem.Direction(622, 0), 1e-2);
        var xMoved = (double[])x.Clone();
        TensorPrimitives.MultiplyAdd(MatrixTestProblems.RandomX(4, 623), 1e-3, xMoved, xMoved);
        double expected = MaterialisedDistance(problem.Output(x), moved.Output(xMoved));
        double streamed = MatrixSensitivityProblem.OutputDistance(problem.Problem.A1, problem.Problem.A2, x, moved.Problem.A1, moved.Problem.A2, xMoved, blockEntries);
        Assert.True(expected > 0);
        Assert.Equal(expected, streamed, 1e-13 * expected);
        Assert.Equal(expected, problem.OutputDistance(x, moved, xMoved), 1e-13 * expected);
        Assert.Equal(0.0, problem.OutputDistance(x, problem, x));
    }

    [Theory]
    [InlineData("A1,A2,B")]
    [InlineData("A2,B")]
    [InlineData("B")]
    public void Central_difference_of_the_output_equals_the_one_of_the_two_perturbed_problems(string parts)
    {
        var problem = Matrix(parts);
        var x = MatrixTestProblems.RandomX(4, 631, 0.6);
        var direction = problem.Direction(632, 1);
        double t = 1e-3;
        var xPlus = (double[])x.Clone(); var xMinus = (double[])x.Clone();
        var step = MatrixTestProblems.RandomX(4, 633);
        TensorPrimitives.MultiplyAdd(step, t, xPlus, xPlus);
        TensorPrimitives.MultiplyAdd(step, -t, xMinus, xMinus);
        // Before: f of the two perturbed problems (B moved too), materialised and subtracted.
        double expected = MaterialisedDistance(problem.Perturbed(direction, -t).Output(xMinus), problem.Perturbed(direction, t).Output(xPlus));
        Assert.True(expected > 0);
        Assert.Equal(expected, problem.OutputCentralDifference(direction, t, xPlus, xMinus), 1e-13 * expected);
    }

    [Theory]
    [InlineData("A1,A2,B")]
    [InlineData("B,A1")]
    [InlineData("A2")]
    public void Perturbed_copies_made_in_the_directions_arrays_equal_the_new_copies(string parts)
    {
        var problem = Matrix(parts);
        static double[][] Data(ISensitivityProblem p)
        {
            var m = ((MatrixSensitivityProblem)p).Problem;
            return [m.A1.Data, m.A2.Data, m.B.Data];
        }
        // Moved in the direction's own arrays: the same numbers as a new copy beside the held direction.
        var direction = problem.Direction(641, 2);
        var expected = Data(problem.Perturbed(direction, 1e-4));
        var moved = problem.PerturbedInPlace(direction, 1e-4);
        Assert.Equal(expected, Data(moved));
        // No new array: the moved matrices are the direction's (the unperturbed ones the problem's own).
        for (int i = 0; i < problem.Parts.Count; i++)
            Assert.Contains(Data(moved), m => ReferenceEquals(m, ((DenseMatrix)direction.Parts[i]).Data));
        if (!problem.Parts.Contains("B")) Assert.Same(problem.Problem.B.Data, ((MatrixSensitivityProblem)moved).Problem.B.Data);
        Assert.Throws<ArgumentException>(() => problem.PerturbedInPlace(new Perturbation(direction.Parts.Take(direction.Parts.Count - 1).ToList()), 1e-4));
        // The blocks of a flattened Δθ have the perturbed matrices' shapes.
        var lin = problem.Linearize(MatrixTestProblems.RandomX(4, 642));
        var flat = new double[lin.ParameterCount];
        Rng.ForStream(643).FillNormal(flat);
        Assert.Equal(problem.FromFlat(flat).Parts.Select(p => (p.Rows, p.Cols)), problem.PartShapes);
        Assert.Equal(problem.PartShapes, lin.PartShapes);
        Assert.Equal(problem.FromFlat(flat).Parts.Select(p => ((DenseMatrix)p).Data), lin.Split(flat).Parts.Select(p => ((DenseMatrix)p).Data));
    }

    [Theory]
    [InlineData("A1,A2,B")]
    [InlineData("B")]
    [InlineData("A2,A1")]
    public void Worst_direction_formed_again_is_the_same_vector_flat_and_in_parts(string parts)
    {
        var problem = Matrix(parts);
        var x = MatrixTestProblems.RandomX(4, 661, 0.6);
        var lin = new MatrixLinearization(problem.Problem, problem.Parts, x, chunkEntries: 40);
        var hessian = new DenseHessianSolve(SensitivityAnalysis.Hessian(problem, x, 1), problem.Dimension);
        var (_, worst, _, _) = LipschitzAnalysis.WorstCaseDirection(lin, hessian, 7);
        var flat = worst.Flat();
        Assert.Equal(1.0, TensorPrimitives.Norm<double>(flat), 1e-14);
        Assert.Equal(flat, worst.Flat());
        // In parts: the blocks of the flat vector, written straight into the matrices (MatrixLinearization.MixedAdjointParts).
        Assert.Equal(lin.Split(flat).Parts.Select(p => ((DenseMatrix)p).Data), worst.Parts().Parts.Select(p => ((DenseMatrix)p).Data));
        // And the adjoint in parts equals the flat adjoint's blocks.
        var v = new double[lin.Dimension];
        Rng.ForStream(662).FillNormal(v);
        Assert.Equal(lin.Split(lin.MixedAdjoint(v)).Parts.Select(p => ((DenseMatrix)p).Data), lin.MixedAdjointParts(v).Parts.Select(p => ((DenseMatrix)p).Data));
    }

    [Fact]
    public void Worst_case_and_gradient_constant_on_the_streamed_gram_equal_the_ones_on_apply_of_adjoint()
    {
        var problem = Matrix("A1,A2,B");
        var x = MatrixTestProblems.RandomX(4, 651, 0.6);
        var lin = new MatrixLinearization(problem.Problem, problem.Parts, x, chunkEntries: 40);
        var hessian = new DenseHessianSolve(SensitivityAnalysis.Hessian(problem, x, 1), problem.Dimension);
        // Before: Lanczos on J Jᵀ as J of Jᵀ (−H⁻¹ M and −Mᵀ H⁻¹, M = ∂∇L/∂θ), a p-entry Δθ in between.
        double[] Apply(double[] delta) { var y = hessian.Solve(lin.Mixed(delta)); TensorPrimitives.Negate(y, y); return y; }
        double[] Adjoint(double[] u) { var y = lin.MixedAdjoint(hessian.Solve(u)); TensorPrimitives.Negate(y, y); return y; }
        var before = OperatorNorm.Largest(Apply, Adjoint, lin.ParameterCount, lin.Dimension, 5);
        var after = LipschitzAnalysis.WorstCase(lin, hessian, 5);
        Assert.Equal(before.Steps, after.Steps);
        Assert.Equal(before.Norm, after.Constant, 1e-13 * before.Norm);
        Assert.Equal(before.Direction, after.Direction);
        // ‖∂∇L/∂θ‖₂: the norm without its direction, on the streamed Gram operator.
        var gradient = OperatorNorm.Largest(v => lin.Mixed(v), u => lin.MixedAdjoint(u), lin.ParameterCount, lin.Dimension, 5);
        var fixedX = LipschitzAnalysis.FixedX(lin, 5);
        Assert.Equal(gradient.Norm, fixedX.Gradient.Value, 1e-13 * gradient.Norm);
        Assert.Equal(gradient.Steps, fixedX.Gradient.Steps);
    }
}
