using System.Text.RegularExpressions;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core;
using DistSoftmax.Core.Sensitivity;
using DistSoftmax.Data;

namespace DistSoftmax.Cli;

/// <summary>The process exit codes of dist-softmax.</summary>
internal static class ExitCodes
{
    /// <summary>The command succeeded (solve: converged to the tolerance).</summary>
    public const int Ok = 0;
    /// <summary>An unexpected internal error (a bug): one line on stderr, the stack trace with DISTSOFTMAX_DEBUG=1.</summary>
    public const int Internal = 1;
    /// <summary>Bad input: an unknown or invalid option, a missing or malformed file, shapes that disagree, …</summary>
    public const int BadInput = 2;
    /// <summary>solve stopped without meeting the tolerance (max iterations, stalled, diverged, cancelled); files are written.</summary>
    public const int NotConverged = 3;
    /// <summary>Writing an output failed (e.g. a full disk): nothing of the new output set was put in place.</summary>
    public const int OutputFailure = 4;
    /// <summary>
    /// A numerical method a result needs did not reach its tolerance, so there is no result to write (sensitivity:
    /// conjugate gradients on the Hessian at x*): one line on stderr, nothing written.
    /// </summary>
    public const int NumericalFailure = 5;
}

/// <summary>Bad input found by the command line itself: printed as <c>error: subject: problem</c>, exit code 2.</summary>
internal sealed class CliInputException(string subject, string problem) : Exception($"{subject}: {problem}")
{
    public string Subject { get; } = subject;
}

/// <summary>Turns exceptions into the one-line messages and exit codes of the command line.</summary>
internal static partial class ErrorReport
{
    /// <summary>
    /// Writes the one-line message for <paramref name="e"/> and returns the exit code. Input errors (found while
    /// checking the input, or any file error) are exit 2; a Hessian solve that did not converge exit 5; everything else
    /// not named below is an internal error, exit 1.
    /// </summary>
    public static int Write(CliContext ctx, Exception e, bool validating)
    {
        int code;
        string message;
        switch (e)
        {
            case Output.OutputWriteException:
                (code, message) = (ExitCodes.OutputFailure, e.Message);
                break;
            case HessianSolveNotConvergedException:
                (code, message) = (ExitCodes.NumericalFailure, e.Message
                    + "; nothing written (a regulariser, --w-scalar, makes H better conditioned; --hessian-solve dense avoids CG up to a few thousand unknowns)");
                break;
            case SeedsUnreachableException:
                (code, message) = (ExitCodes.BadInput, "--seeds: " + e.Message);
                break;
            case CliInputException or DataFormatException:
                (code, message) = (ExitCodes.BadInput, e.Message);
                break;
            case ParameterException p when validating:
                (code, message) = (ExitCodes.BadInput, ParameterFlags.Describe(p));
                break;
            case ArgumentException when validating:
                (code, message) = (ExitCodes.BadInput, e.Message);
                break;
            case OperationCanceledException:
                (code, message) = (ExitCodes.NotConverged, "cancelled");
                break;
            default:
                (code, message) = (ExitCodes.Internal, $"internal error: {e.GetType().Name}: {e.Message}");
                break;
        }
        ctx.Err.WriteLine("error: " + OneLine(message));
        if (CliContext.Debug) ctx.Err.WriteLine(e.ToString());
        return code;
    }

    /// <summary>
    /// Collapses whitespace runs (including newlines) into single spaces, and shows every other control character
    /// (an ESC sequence from a file's header, a bell) as \xNN, so nothing a user's file contains reaches the terminal
    /// as a control sequence.
    /// </summary>
    public static string OneLine(string s)
    {
        string collapsed = Whitespace().Replace(s, " ").Trim();
        if (!collapsed.Any(char.IsControl)) return collapsed;
        var escaped = new System.Text.StringBuilder(collapsed.Length + 8);
        foreach (char c in collapsed)
            if (char.IsControl(c)) escaped.Append("\\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            else escaped.Append(c);
        return escaped.ToString();
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
