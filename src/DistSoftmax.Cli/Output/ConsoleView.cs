using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using DistSoftmax.Core.Solvers;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// What solve shows on stdout. On an interactive terminal: a live Spectre.Console table of the latest iterations
/// (iteration, loss, gradient norm, step, rows sampled, elapsed) and a bordered summary. Otherwise (redirected output,
/// CI, tests): one plain line per iteration and an ASCII summary table, no colours or cursor movement.
/// </summary>
internal sealed class ConsoleView
{
    private const int LiveRows = 12;
    private readonly CliContext _ctx;
    private readonly IAnsiConsole _console;

    public ConsoleView(CliContext ctx)
    {
        _ctx = ctx;
        _console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = ctx.Interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ctx.Interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = ctx.Interactive ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(ctx.Out),
        });
        if (!ctx.Interactive) _console.Profile.Width = 120;
    }

    public void Line(string text)
    {
        lock (_ctx.Out) _ctx.Out.WriteLine(text);
    }

    /// <summary>Runs a solve, showing its progress as it goes.</summary>
    public async Task<SolverResult> ShowProgressAsync(Func<Action<TraceEntry>, Action<string>, Task<SolverResult>> solve)
    {
        if (!_ctx.Interactive)
            return await solve(e => Line(PlainLine(e)), Line);

        var pending = new ConcurrentQueue<TraceEntry>();
        var notes = new ConcurrentQueue<string>();
        string? lastNote = null;
        var table = TraceTable();
        var clock = Stopwatch.StartNew();
        SolverResult? result = null;
        await _console.Live(table).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).StartAsync(async live =>
        {
            var task = solve(pending.Enqueue, notes.Enqueue);
            while (!task.IsCompleted)
            {
                await Task.WhenAny(task, Task.Delay(100));
                Drain(pending, table);
                while (notes.TryDequeue(out var n)) lastNote = n;
                table.Caption = new TableTitle(Markup.Escape($"elapsed {clock.Elapsed.TotalSeconds:F1} s" + (lastNote is null ? "" : $" — {lastNote}")));
                live.Refresh();
            }
            result = await task;
            Drain(pending, table);
            table.Caption = new TableTitle(string.Create(CultureInfo.InvariantCulture,
                $"{ExitReasons.Name(result.Exit)} after {result.Iterations} iterations, {result.Seconds.ToString(NumberFormats.Seconds, CultureInfo.InvariantCulture)} s"));
            live.Refresh();
        });
        return result!;
    }

    /// <summary>The final table of facts about the solve.</summary>
    public void Summary(IEnumerable<(string Key, string Value)> rows)
    {
        var table = SummaryTable(rows, _ctx.Interactive);
        lock (_ctx.Out) _console.Write(table);
    }

    private static Table SummaryTable(IEnumerable<(string Key, string Value)> rows, bool interactive)
    {
        var table = new Table { Border = interactive ? TableBorder.Rounded : TableBorder.Ascii, ShowHeaders = false };
        table.AddColumn(new TableColumn("") { NoWrap = true });
        table.AddColumn("");
        foreach (var (key, value) in rows) table.AddRow(new Text(key), new Text(value));
        return table;
    }

    /// <summary>
    /// Lays out a throwaway summary table, with a value long enough to wrap, and builds report.json's serialization
    /// metadata (<see cref="SolveReport.BuildJsonMetadata"/>), in CPU the solve leaves idle (<see cref="IdleWarmUp"/>),
    /// so that compiling Spectre.Console's table layout (≈ 0.1 s at its first use, the last phase of a solve) and the
    /// report's first serialization (85 ms of JIT after the 200000×100 benchmark's analysis; 25 ms with the warm-up)
    /// overlap the solve instead of following it. Nothing is written anywhere; failures are left to the real outputs.
    /// </summary>
    public Task WarmUpSummary() => IdleWarmUp.Run(() =>
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(TextWriter.Null),
        });
        console.Profile.Width = _console.Profile.Width;
        console.Write(SummaryTable([("key", "value"), ("wrapped", string.Join(' ', Enumerable.Repeat("word", 60)))], _ctx.Interactive));
        SolveReport.BuildJsonMetadata();
    });

    public static string PlainLine(TraceEntry e) =>
        string.Create(CultureInfo.InvariantCulture,
            $"iteration {e.Iteration,4}  loss {e.Loss.ToString(NumberFormats.Loss, CultureInfo.InvariantCulture),13}  |grad| {e.GradientNorm.ToString(NumberFormats.GradientNorm, CultureInfo.InvariantCulture),11}  step {e.StepLength.ToString(NumberFormats.Step, CultureInfo.InvariantCulture),8}  rows sampled {e.RowsSampled,8}  {e.Seconds.ToString(NumberFormats.Seconds, CultureInfo.InvariantCulture),8} s");

    private static Table TraceTable()
    {
        var table = new Table { Border = TableBorder.Rounded };
        foreach (var h in new[] { "iteration", "loss", "‖∇L‖", "step", "rows sampled", "elapsed" })
            table.AddColumn(new TableColumn(h).RightAligned());
        return table;
    }

    private static void Drain(ConcurrentQueue<TraceEntry> pending, Table table)
    {
        while (pending.TryDequeue(out var e))
        {
            if (table.Rows.Count >= LiveRows) table.Rows.RemoveAt(0);
            table.AddRow(new IRenderable[]
            {
                new Text(e.Iteration.ToString(CultureInfo.InvariantCulture)),
                new Text(e.Loss.ToString(NumberFormats.Loss, CultureInfo.InvariantCulture)),
                new Text(e.GradientNorm.ToString(NumberFormats.GradientNorm, CultureInfo.InvariantCulture)),
                new Text(e.StepLength.ToString(NumberFormats.Step, CultureInfo.InvariantCulture)),
                new Text(e.RowsSampled.ToString(CultureInfo.InvariantCulture)),
                new Text(e.Seconds.ToString(NumberFormats.Seconds, CultureInfo.InvariantCulture) + " s"),
            });
        }
    }
}
