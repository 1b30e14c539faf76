using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Diffusion;

/// <summary>
/// The score error against the number of training samples and against the width, for every network of the options:
/// one <see cref="DiffusionExperiment"/> (without sampling) per number of points at the base width, and one per width
/// at the base number of points. The target is the mixture, so every error is measured against the exact score of the
/// same population p_t, and the training points of a smaller run are the first points of a larger one (one stream).
/// Cancelled, it ends after the grid point in training (its networks trained so far, as <see cref="DiffusionExperiment"/>
/// keeps them) and returns the rows it has.
/// </summary>
public static class DiffusionStudy
{
    public static IReadOnlyList<DiffusionStudyRow> Run(DiffusionOptions options, IReadOnlyList<int> sampleSizes, IReadOnlyList<int> widths,
        Action<string>? log = null, CancellationToken cancellation = default)
    {
        var rows = new List<DiffusionStudyRow>();
        void Add(string sweep, DiffusionOptions o)
        {
            if (cancellation.IsCancellationRequested && rows.Count > 0) return;
            var result = DiffusionExperiment.Run(o, sample: false, cancellation: cancellation);
            foreach (var m in result.Models)
            {
                var row = new DiffusionStudyRow(sweep, m.Activation.Name(), o.DataPoints, o.Width, m.WeightedError, m.RelativeErrors[result.Times.Count / 2],
                    m.History.Count - 1, m.BestEpoch, ExitReasons.Name(m.Training.Exit));
                rows.Add(row);
                log?.Invoke($"{sweep,-7} n = {row.DataPoints,-6} m = {row.Width,-5} {row.Activation,-8} score error {row.WeightedError:P1} " +
                            $"(best epoch {row.BestEpoch} of {row.EpochsRun}, {row.Exit})");
            }
        }
        foreach (int n in sampleSizes) Add("samples", (options with { DataPoints = n }).Validate());
        foreach (int m in widths) Add("width", (options with { Width = m }).Validate());
        return rows;
    }

    /// <summary>
    /// For every grid point, the network of lowest error and its margin: (sweep, points, width, best activation,
    /// best error, the runner-up's error / the best one).
    /// </summary>
    public static IEnumerable<(string Sweep, int DataPoints, int Width, string Best, double Error, double RunnerUpRatio)> Winners(IEnumerable<DiffusionStudyRow> rows) =>
        rows.GroupBy(r => (r.Sweep, r.DataPoints, r.Width)).Select(g =>
        {
            var sorted = g.OrderBy(r => double.IsFinite(r.WeightedError) ? r.WeightedError : double.PositiveInfinity).ToArray();
            double ratio = sorted.Length > 1 ? sorted[1].WeightedError / sorted[0].WeightedError : double.NaN;
            return (g.Key.Sweep, g.Key.DataPoints, g.Key.Width, sorted[0].Activation, sorted[0].WeightedError, ratio);
        });
}
