using System.CommandLine;
using System.Runtime.InteropServices;
using DistSoftmax.Cli.Commands;

namespace DistSoftmax.Cli;

public static class Program
{
    /// <summary>
    /// The dist-softmax executable. Ctrl+C or SIGTERM asks a running solve to stop at its next iteration (it still writes
    /// its files, exit code 3) and a running worker to leave the cluster; a second Ctrl+C ends the process at once.
    /// </summary>
    public static int Main(string[] args)
    {
        PhaseTiming.Mark("main");
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (cts.IsCancellationRequested) return; // second Ctrl+C: let the runtime end the process
            e.Cancel = true;
            cts.Cancel();
        };
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            cts.Cancel();
        });
        bool interactive = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("TERM") != "dumb";
        return Run(args, new CliContext(Console.Out, Console.Error, Environment.CurrentDirectory, interactive, cts.Token));
    }

    /// <summary>Runs the command line with the given writers (no terminal: plain progress lines), for tests.</summary>
    internal static int Run(string[] args, TextWriter @out, TextWriter err, string? workingDirectory = null) =>
        Run(args, new CliContext(@out, err, workingDirectory));

    /// <summary>Parses and runs one command; returns the exit code (see <see cref="ExitCodes"/>).</summary>
    internal static int Run(string[] args, CliContext ctx)
    {
        try
        {
            var root = CommandLine.Build(ctx, args);
            var parse = root.Parse(args);
            PhaseTiming.Mark("parsed");
            if (parse.Errors.Count > 0 && parse.Action is not { ClearsParseErrors: true })
            {
                ctx.Err.WriteLine("error: " + ErrorReport.OneLine(CommandLine.DescribeError(parse)));
                return ExitCodes.BadInput;
            }
            return parse.Invoke(new InvocationConfiguration
            {
                Output = ctx.Out,
                Error = ctx.Err,
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = null,
            });
        }
        catch (Exception e)
        {
            return ErrorReport.Write(ctx, e, validating: false);
        }
    }
}
