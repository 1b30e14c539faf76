using System.CommandLine;
using System.Globalization;
using DistSoftmax.Cli.Output;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Data;

namespace DistSoftmax.Cli.Commands;

/// <summary>Helpers shared by the train, diffusion and sensitivity commands (files, JSON, option checks).</summary>
internal static class NetworkCommandSupport
{
    /// <summary>The command's arguments as given (the <c>arguments</c> field of a report).</summary>
    public static string[] Arguments(ParseResult parse) => parse.Tokens.Select(t => t.Value).ToArray();

    /// <summary>
    /// The listed rows (ascending) of a matrix file as a rows.Length×k matrix: byte ranges of a C-ordered 2-D .npy,
    /// any other file read once and picked from.
    /// </summary>
    public static DenseMatrix ReadSelectedRows(string path, long[] rows)
    {
        if (rows.Length > 0 && rows[^1] - rows[0] == rows.Length - 1) return ReadRows(path, rows[0], rows.Length);
        var whole = IsNpyMatrix(path) ? null : ReadMatrixOrColumn(path);
        int cols = whole?.Cols ?? Shape(path).Cols;
        var result = new DenseMatrix(rows.Length, cols);
        for (int i = 0; i < rows.Length; i++)
        {
            var row = whole is null ? Npy.ReadMatrixRows(path, rows[i], 1).Data : whole.Data.AsSpan(checked((int)rows[i] * cols), cols).ToArray();
            row.CopyTo(result.Data.AsSpan(i * cols, cols));
        }
        return result;
    }

    /// <summary>Whether rows of <paramref name="path"/> can be read by byte range: a 2-D .npy (other files are read whole).</summary>
    private static bool IsNpyMatrix(string path) =>
        Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase) && Npy.ReadInfo(path).Shape.Length == 2;

    /// <summary>--lr of train and diffusion: "auto" → null; otherwise a finite number &gt; 0.</summary>
    public static double? ParseLearningRate(string text)
    {
        if (text.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase)) return null;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double eta) && eta > 0 && double.IsFinite(eta)) return eta;
        throw new CliInputException("--lr", $"must be 'auto' or a finite number > 0 (got '{text}')");
    }

    /// <summary>Reads an n×k matrix (.npy, .mtx, .csv, .txt), accepting a 1-D array as n×1.</summary>
    public static DenseMatrix ReadMatrixOrColumn(string path)
    {
        if (!Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase)) return Column(path);
        var info = Npy.ReadInfo(path);
        return info.Shape.Length == 1 ? Column(path) : MatrixFile.ReadDense(path);
    }

    private static DenseMatrix Column(string path)
    {
        try { return MatrixFile.ReadDense(path); }
        catch (DataFormatException)
        {
            var v = MatrixFile.ReadVector(path);
            return new DenseMatrix(v.Length, 1, v);
        }
    }

    /// <summary>(rows, columns) of a matrix file: from the header for .npy, by reading it otherwise.</summary>
    public static (long Rows, int Cols) Shape(string path)
    {
        if (Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase))
        {
            var info = Npy.ReadInfo(path);
            if (info.Shape.Length == 1) return (info.Shape[0], 1);
            if (info.Shape.Length == 2) return (info.Shape[0], checked((int)info.Shape[1]));
            throw new DataFormatException(path, $"expected a matrix or a vector, the array has {info.Shape.Length} dimensions");
        }
        var m = ReadMatrixOrColumn(path);
        return (m.Rows, m.Cols);
    }

    /// <summary>Rows [start, start + count): a byte range of a C-ordered .npy matrix, other files read whole and sliced.</summary>
    public static DenseMatrix ReadRows(string path, long start, int count)
    {
        if (IsNpyMatrix(path)) return Npy.ReadMatrixRows(path, start, count);
        return ReadMatrixOrColumn(path).SliceDense(checked((int)start), count);
    }

    /// <summary>Rows per block when every training row is streamed through (<see cref="MaxRowTangentNorm"/>): 4096 rows.</summary>
    private const int StreamedRows = 4096;

    /// <summary>
    /// max_i ‖∂F(W, x_i)/∂W‖²_F over every row of the data file (a .npy matrix in blocks of <see cref="StreamedRows"/>,
    /// other files read once): the row term of --lr auto must cover every row a mini-batch can hold, not only the
    /// kernel's sampled rows (on 16 of 40 rows it had left η·λ_max at 2.1–3.0, past GD's stability limit of 2).
    /// </summary>
    public static double MaxRowTangentNorm(NetworkModel model, double[] w, string path, long rows)
    {
        if (!IsNpyMatrix(path))
        {
            var all = ReadMatrixOrColumn(path);
            return all.Rows == 0 ? 0 : model.RowTangentNorms(w, all.Data, all.Rows).Max();
        }
        double max = 0;
        for (long start = 0; start < rows; start += StreamedRows)
        {
            int count = (int)Math.Min(StreamedRows, rows - start);
            foreach (double t in model.RowTangentNorms(w, Npy.ReadMatrixRows(path, start, count).Data, count)) max = Math.Max(max, t);
        }
        return max;
    }

    /// <summary>A directory for a command's files, resolved against the working directory and created.</summary>
    public static string OutputDirectory(CliContext ctx, string dir)
    {
        string full = ctx.Resolve(dir);
        if (File.Exists(full)) throw new CliInputException("--out-dir", $"{full} is a file, not a directory");
        Directory.CreateDirectory(full);
        return full;
    }

    /// <summary>
    /// The outputs of a train or diffusion run, checked before any work: --out-dir resolved (not a file), no output path
    /// equal to an input file (exit 2 naming the option), and every name the command may write there either absent or
    /// listed by an earlier dist-softmax report.json in the directory (<see cref="OutputOwnership"/>). The directory is
    /// created. <see cref="RemoveStale"/> later removes the earlier run's files that this run did not write.
    /// </summary>
    /// <param name="written">The names this run writes (report.json among them).</param>
    /// <param name="possible">Every name the command may write in any mode (a superset of <paramref name="written"/>).</param>
    /// <param name="inputs">Input option → absolute path (null entries skipped).</param>
    public static OutputPlan PrepareOutputs(CliContext ctx, string outDirectory, IReadOnlyList<string> written, IEnumerable<string> possible,
        IEnumerable<(string Option, string? Path)> inputs)
    {
        string full = ctx.Resolve(outDirectory);
        OutputPathChecks.RequireCreatableDirectory(full);
        var names = possible.Concat(written).Distinct(StringComparer.Ordinal).ToArray();
        foreach (string name in names) OutputPathChecks.RequireNotAnInput(Path.Combine(full, name), inputs);
        var earlier = Directory.Exists(full) ? OutputOwnership.Listed(Path.Combine(full, Report)) : new HashSet<string>();
        OutputOwnership.Require(full, names, earlier.Contains);
        Directory.CreateDirectory(full);
        var stale = names.Where(n => earlier.Contains(n) && !written.Contains(n, StringComparer.Ordinal)).ToArray();
        return new OutputPlan(full, written.Select(n => Path.Combine(full, n)).ToArray(), stale);
    }

    /// <summary>The report's name in --out-dir, and the manifest of the run's files.</summary>
    public const string Report = "report.json";

    /// <summary>Removes the files of the earlier run (listed by its report.json) that this run did not write, so the directory holds one run.</summary>
    public static void RemoveStale(OutputPlan plan)
    {
        foreach (string name in plan.Stale)
        {
            string path = Path.Combine(plan.Directory, name);
            if (File.Exists(path)) File.Delete(path);
        }
    }

    public static void RequirePositive(double v, string option)
    {
        if (!(v > 0) || !double.IsFinite(v)) throw new CliInputException(option, $"must be a finite number > 0 (got {v})");
    }

    public static void RequirePositive(int v, string option)
    {
        if (v <= 0) throw new CliInputException(option, $"must be at least 1 (got {v})");
    }

    public static string[] List(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static string Percent(double v) => double.IsFinite(v) ? $"{100 * v:F1} %" : v.ToString();

    /// <summary>Runs a command body; input errors (options, files) become one line and exit code 2.</summary>
    public static int Guard(CliContext ctx, Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is CliInputException or ArgumentException or DataFormatException)
        {
            return ErrorReport.Write(ctx, e, validating: true);
        }
    }

    public static void Add(this Command command, params Option[] options)
    {
        foreach (var o in options) command.Add(o);
    }
}
