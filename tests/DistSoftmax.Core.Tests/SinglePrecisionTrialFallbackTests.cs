using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// A line search whose single-precision trials find no decrease (a step that changed the loss by less than their
/// rounding) searches again with trials in double, instead of stopping the solve.
/// </summary>
public class SinglePrecisionTrialFallbackTests
{
    [Fact]
    public void Trials_in_single_precision_that_find_no_decrease_are_repeated_in_double()
    {
        const int n = 200, d = 5;
        var p = MatrixTestProblems.Random(Families.MultipleNormalized, n, d, false, 61);
        var options = new SolverOptions { LogLinearStart = true, RelativeTolerance = 1e-9 };
        var clean = MatrixTestProblems.Driver(p, 2).Solve(SolverCatalog.Create("approx-newton", options), p.Objective, new double[d * d], options);
        Assert.True(clean.Converged, clean.Message);

        // The same solve with every single-precision trial's loss raised by 1 (as if its rounding hid the decrease).
        var run = SolverCatalog.Create("approx-newton", options).Start(p.Objective, new double[d * d], options);
        var driver = MatrixTestProblems.Driver(p, 2);
        int singleTrials = 0, doubleTrialsAfterSingle = 0;
        bool lastTrialSingle = false;
        for (var request = run.Start(); request is not null;)
        {
            var reply = driver.Evaluate(request);
            if (request is ScalarsRequest { Reference: not null } trial)
            {
                if (trial.SinglePrecision)
                {
                    singleTrials++;
                    var sums = ((ScalarsReply)reply).Family;
                    reply = (ScalarsReply)reply with { Family = sums with { Sums = sums.Sums.Select(v => v + 1.0).ToArray() } };
                }
                else if (lastTrialSingle) doubleTrialsAfterSingle++;
                lastTrialSingle = trial.SinglePrecision;
            }
            request = run.Submit(reply);
        }
        var result = run.Result!;
        Assert.True(singleTrials > 0, "no trial ran in single precision");
        Assert.True(doubleTrialsAfterSingle > 0, "no search was repeated in double");
        Assert.True(result.Converged, result.Message);
        Assert.True(Assertions.RelativeError(result.X, clean.X) < 1e-7, "the solve with the fallback ends elsewhere");
    }
}
