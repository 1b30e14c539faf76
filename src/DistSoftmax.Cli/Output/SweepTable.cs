using System.Globalization;
using System.Text;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// sweep.csv: a header line and one line per solve (<see cref="SweepRow"/>), comma-separated, numbers in the invariant
/// culture's shortest round-trip form, booleans true/false, and an empty field for what does not apply (ε and δ of a
/// solver that does not sample, the unit of a family without one, a measure that is undefined: NaN).
/// </summary>
internal static class SweepTable
{
    /// <summary>The columns, in order.</summary>
    public static readonly string[] Columns =
    [
        "problem", "unit", "n", "d", "density", "nnz", "tol", "epsilon", "delta", "solver", "repeat", "seed",
        "iterations", "exit", "converged", "final_loss", "final_gradient_norm", "solve_seconds", "seconds_per_iteration",
        "requests", "contraction_factor", "total_seconds", "point",
    ];

    public static byte[] ToUtf8(IEnumerable<SweepRow> rows)
    {
        var text = new StringBuilder();
        text.Append(string.Join(',', Columns)).Append('\n');
        foreach (var r in rows)
        {
            string[] fields =
            [
                r.Problem, r.Unit ?? "", Integer(r.N), Integer(r.D), Real(r.Density), Integer(r.Nnz), Real(r.Tol),
                Real(r.Epsilon), Real(r.Delta), r.Solver, Integer(r.Repeat), r.Seed.ToString(CultureInfo.InvariantCulture),
                Integer(r.Iterations), r.Exit, r.Converged ? "true" : "false", Real(r.FinalLoss), Real(r.FinalGradientNorm),
                Real(r.SolveSeconds), Real(r.SecondsPerIteration), Integer(r.Requests), Real(r.ContractionFactor),
                Real(r.TotalSeconds), r.Point,
            ];
            text.Append(string.Join(',', fields.Select(Quote))).Append('\n');
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>
    /// Whether <paramref name="path"/> is a table this tool wrote: its first line is exactly the header of
    /// <see cref="Columns"/> (a sweep's plots are its own when the table beside them is).
    /// </summary>
    public static bool IsOwn(string path)
    {
        string header = string.Join(',', Columns);
        try
        {
            using var reader = new StreamReader(path, Encoding.UTF8);
            var first = new char[header.Length + 1];
            int read = reader.ReadBlock(first, 0, first.Length);
            return read == first.Length && first.AsSpan(0, header.Length).SequenceEqual(header) && first[^1] == '\n';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private static string Integer(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>A finite number in round-trip form; empty for null and for ±Infinity/NaN (undefined here).</summary>
    private static string Real(double? v) => v is double x && double.IsFinite(x) ? x.ToString("R", CultureInfo.InvariantCulture) : "";

    /// <summary>RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.</summary>
    private static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
}
