using DistSoftmax.Core.Drivers;
using DistSoftmax.Core;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// Recovering a planted X through the in-process driver, and the matrix solver choice.
///
/// What is identifiable. The data are B_j = softmax(z*_j), z*_j = A2 X*ᵀ a1_j. The loss of either problem is 0
/// exactly when softmax(z_j) = B_j for every row (rescaled: exp(z_j) = ⟨exp(z_j),1⟩ B_j, the same condition), i.e.
/// when z_j − z*_j = c_j 1 for some c_j: A1 Δ A2ᵀ = c 1ᵀ with Δ = X − X*. Row j reads A2 (Δᵀ a1_j) = c_j 1.
///  • If 1 ∉ range(A2) (Gaussian A2 with n > d, almost surely), then c_j = 0, A2 Δᵀ a1_j = 0, so Δᵀ a1_j = 0 for
///    all j (A2 has full column rank) and A1 Δ = 0, so Δ = 0 (A1 has full column rank): X itself is identifiable,
///    and the tests assert X = X* to 1e-6 relative, besides the fitted softmax rows = B to 1e-8 entrywise.
///  • If A2's column l is all ones, then 1 = A2 e_l and Δ = v e_lᵀ (any v) gives A1 Δ A2ᵀ = (A1 v) 1ᵀ: a per-row
///    shift, invisible to the softmax. Column l of X is then free and only the other columns are identifiable
///    (argument as above on A2 restricted to its other columns); that test asserts the softmax rows and
///    X[:, l' ≠ l] only. The Hessian is singular there (exact Newton damps, CG stays in the range).
/// Convergence is asserted through the solver's exit (relative gradient ≤ 1e-10, reached quadratically) and a loss
/// below 1e-20. That needs the shards' residual loss ½‖c_j‖² (RowResidual): the families' phase-1 sum formulas
/// cancel to a floor of 1e-16 (normalized) / 1e-13 (rescaled) here, at which Gauss–Newton's line search stalled.
/// Every Hessian mode is run: exact, Gauss–Newton, and auto (Gauss–Newton, then exact; what MatrixSolverChoice recommends).
/// </summary>
public class MatrixSolveTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var problem in MatrixProblem.Names)
            foreach (var solver in new[] { "newton", "newton-cg" })
                foreach (var kind in new[] { HessianMode.Exact, HessianMode.GaussNewton, HessianMode.Auto })
                    yield return new object[] { problem, solver, kind };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Planted_X_is_recovered_when_A1_and_A2_have_full_column_rank(string problem, string solver, HessianMode kind)
    {
        const int n = 14, d = 4;
        var p = MatrixTestProblems.Planted(problem, n, d, 40, out var xTrue);
        var driver = new InProcessDriver(p.Shards(3, ShardComputeOptions.Sequential));
        var options = new SolverOptions { RelativeTolerance = 1e-10, MaxIterations = 100, Hessian = kind };
        var result = driver.Solve(SolverCatalog.Create(solver), p.Objective, new double[d * d], options);

        Assert.True(result.Converged, $"{result.Exit}: {result.Message}");
        // The last Newton-CG step solves only as far as the gradient tolerance needs (ForcingTerm), so the loss ends
        // at the level that tolerance implies rather than at rounding (3e-20–1e-19 for the rescaled problem).
        Assert.True(result.Loss < 1e-18, $"loss {result.Loss:E3}");
        var fitted = MatrixTestProblems.RowSoftmax(p.A1, p.A2, result.X);
        for (int c = 0; c < fitted.Length; c++) Assert.True(Math.Abs(fitted[c] - p.B.Data[c]) < 1e-8, $"softmax entry {c}");
        double err = Assertions.RelativeError(result.X, xTrue);
        Assert.True(err < 1e-6, $"‖X − X*‖/‖X*‖ = {err:E2}");
    }

    [Theory]
    [InlineData("newton", HessianMode.Exact)]
    [InlineData("newton-cg", HessianMode.Exact)]
    [InlineData("newton", HessianMode.GaussNewton)]
    [InlineData("newton-cg", HessianMode.Auto)]
    public void With_a_ones_column_in_A2_only_the_other_columns_of_X_are_recovered(string solver, HessianMode kind)
    {
        const int n = 14, d = 4, ones = 2;
        var p = MatrixTestProblems.Planted("multiple-normalized", n, d, 50, out var xTrue, ones);
        var driver = new InProcessDriver(p.Shards(2, ShardComputeOptions.Sequential));
        var options = new SolverOptions { RelativeTolerance = 1e-10, MaxIterations = 100, Hessian = kind };
        var result = driver.Solve(SolverCatalog.Create(solver), p.Objective, new double[d * d], options);

        Assert.True(result.Converged, $"{result.Exit}: {result.Message}");
        // The last Newton-CG step solves only as far as the gradient tolerance needs (ForcingTerm), so the loss ends
        // at the level that tolerance implies rather than at rounding (3e-20–1e-19 for the rescaled problem).
        Assert.True(result.Loss < 1e-18, $"loss {result.Loss:E3}");
        var fitted = MatrixTestProblems.RowSoftmax(p.A1, p.A2, result.X);
        for (int c = 0; c < fitted.Length; c++) Assert.True(Math.Abs(fitted[c] - p.B.Data[c]) < 1e-8, $"softmax entry {c}");
        var identifiable = Enumerable.Range(0, d * d).Where(c => c % d != ones).ToArray();
        double err = Assertions.RelativeError(identifiable.Select(c => result.X[c]).ToArray(), identifiable.Select(c => xTrue[c]).ToArray());
        Assert.True(err < 1e-6, $"identifiable columns: rel err {err:E2}");
        // And the free column really is free: the planted X with that column changed fits as well.
        var shifted = (double[])xTrue.Clone();
        for (int k = 0; k < d; k++) shifted[k * d + ones] += 0.7 * (k + 1);
        var shiftedFit = MatrixTestProblems.RowSoftmax(p.A1, p.A2, shifted);
        for (int c = 0; c < shiftedFit.Length; c++) Assert.True(Math.Abs(shiftedFit[c] - p.B.Data[c]) < 1e-14);
        Assert.True(Evaluation.LossAt(driver, p.Objective, shifted) < 1e-15);
    }

    [Theory]
    [InlineData(1, null, "newton")]
    [InlineData(32, null, "newton")]
    [InlineData(33, null, "approx-newton")]
    [InlineData(64, "auto", "approx-newton")]
    [InlineData(4, "newton-cg", "newton-cg")]
    [InlineData(64, "newton", "newton")]
    [InlineData(100, "lbfgs", "lbfgs")]
    [InlineData(8, "GD", "gd")]
    public void Solver_choice_follows_d_squared_unless_a_solver_is_requested(int d, string? requested, string expected)
    {
        var choice = MatrixSolverChoice.Choose(d, requested);
        Assert.Equal(expected, choice.Solver);
        Assert.Contains($"{(long)d * d}", choice.Reason);
        Assert.DoesNotContain('\n', choice.Reason);
        // The Newton-type solvers move to the exact Hessian once a step is taken whole; L-BFGS and gd use none.
        bool newtonType = SolverCatalog.IsNewtonType(expected);
        Assert.Equal(newtonType ? HessianMode.Auto : HessianMode.GaussNewton, choice.Hessian);
        Assert.Equal(newtonType, choice.Reason.Contains("exact once a step is taken whole"));
        SolverCatalog.Create(choice.Solver);
    }

    [Fact]
    public void Solver_choice_takes_approx_newton_as_the_Kronecker_preconditioned_Newton_CG_and_rejects_exact_Newton_beyond_4096_unknowns_and_unknown_names()
    {
        Assert.Contains("Kronecker-factored", MatrixSolverChoice.Choose(8, "approx-newton").Reason);
        var big = Assert.Throws<ParameterException>(() => MatrixSolverChoice.Choose(65, "newton")).Message;
        Assert.Contains("4225", big);
        Assert.Contains("newton-cg", big);
        Assert.Contains("allowed", Assert.Throws<ParameterException>(() => MatrixSolverChoice.Choose(8, "simplex")).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => MatrixSolverChoice.Choose(0, null));
    }
}
