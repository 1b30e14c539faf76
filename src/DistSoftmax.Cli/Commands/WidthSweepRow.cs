using System.Globalization;
using System.Text;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// One network of a <c>train --widths</c> sweep. Losses are per row, ½‖f(x) − y‖² averaged over the rows
/// (<see cref="LossComparison"/>), so the network and the kernel-regression baseline compare directly.
/// </summary>
/// <param name="LambdaMin0">λ_min of the tangent-kernel Gram matrix K0 at initialisation.</param>
/// <param name="KernelMovement">‖K(t) − K(0)‖_F / ‖K(0)‖_F at the end of training.</param>
/// <param name="WeightChange">‖W − W0‖_F / ‖W0‖_F at the end of training.</param>
internal sealed record WidthSweepRow(string Activation, int Width, double LearningRate, double LambdaMin0, double LambdaMax0, double KernelMovement,
    double WeightChange, double InitialLoss, double FinalLoss, double? TestLoss, double KernelTrainLoss, double? KernelTestLoss, ExitCondition Exit,
    bool LossGrew)
{
    private static readonly string[] Header =
        ["activation", "width", "lr", "lambda_min_k0", "lambda_max_k0", "kernel_movement", "weight_change", "initial_loss", "final_loss", "test_loss",
         "kernel_train_loss", "kernel_test_loss", "exit", "loss_grew"];

    private static string Number(double? v) => v is null ? "" : v.Value.ToString("E4", CultureInfo.InvariantCulture);

    private string[] Cells() =>
        [Activation, Width.ToString(CultureInfo.InvariantCulture), Number(LearningRate), Number(LambdaMin0), Number(LambdaMax0), Number(KernelMovement),
         Number(WeightChange), Number(InitialLoss), Number(FinalLoss), Number(TestLoss), Number(KernelTrainLoss), Number(KernelTestLoss),
         System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(Exit.ToString()), LossGrew ? "true" : "false"];

    /// <summary>ntk-sweep.csv: a header line and one line per network, numbers in E4.</summary>
    public static string Csv(IEnumerable<WidthSweepRow> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(',', Header));
        foreach (var r in rows) sb.AppendLine(string.Join(',', r.Cells()));
        return sb.ToString();
    }

    /// <summary>The same table aligned for the console (test columns dropped when there is no test set).</summary>
    public static IEnumerable<string> Table(IReadOnlyList<WidthSweepRow> rows)
    {
        bool test = rows.Any(r => r.TestLoss is not null);
        var columns = Enumerable.Range(0, Header.Length).Where(c => test || (Header[c] != "test_loss" && Header[c] != "kernel_test_loss")).ToArray();
        var cells = rows.Select(r => r.Cells()).Prepend(Header).ToArray();
        var widths = columns.Select(c => cells.Max(line => line[c].Length)).ToArray();
        return cells.Select(line => string.Join("  ", columns.Select((c, i) => line[c].PadLeft(widths[i]))));
    }
}
