using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// An Akka.NET logger (akka.loggers) for the command line's nodes: one line per event,
/// <c>TIME LEVEL SOURCE: MESSAGE[: EXCEPTION-TYPE: EXCEPTION-MESSAGE]</c>, on stderr — never stdout, which belongs to
/// a command's own output — or appended to the file <c>distsoftmax.log.file</c> names. Stack traces only when
/// DISTSOFTMAX_DEBUG=1. <see cref="Hocon"/> is the configuration that installs it.
/// </summary>
public sealed class OneLineLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    /// <summary>HOCON key of the log file (empty: stderr).</summary>
    public const string FileKey = "distsoftmax.log.file";

    private readonly TextWriter _out;
    private readonly bool _ownsWriter;
    private readonly bool _debug = Environment.GetEnvironmentVariable("DISTSOFTMAX_DEBUG") == "1";

    public OneLineLogger()
    {
        string path = Context.System.Settings.Config.GetString(FileKey, "");
        if (string.IsNullOrWhiteSpace(path)) _out = Console.Error;
        else
        {
            var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            _out = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true };
            _ownsWriter = true;
        }
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(Write);
    }

    /// <summary>
    /// Configuration that sends a node's log through this logger at <paramref name="level"/> and above (Akka's names:
    /// DEBUG, INFO, WARNING, ERROR), to <paramref name="file"/> or stderr; Akka's standard-out logger (which prints
    /// before the loggers start and after they stop) is off, and remote lifecycle events (a peer that left) are not
    /// logged: a job or node ending normally is no news.
    /// </summary>
    public static string Hocon(string level = "WARNING", string? file = null)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"akka.loggers = [\"{typeof(OneLineLogger).FullName}, {typeof(OneLineLogger).Assembly.GetName().Name}\"]");
        sb.AppendLine($"akka.loglevel = {level}");
        sb.AppendLine("akka.stdout-loglevel = OFF");
        sb.AppendLine("akka.remote.log-remote-lifecycle-events = off");
        sb.AppendLine("akka.log-dead-letters = off");
        sb.AppendLine($"{FileKey} = \"{(file ?? "").Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
        return sb.ToString();
    }

    private void Write(LogEvent e)
    {
        var line = new StringBuilder();
        line.Append(e.Timestamp.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))
            .Append(' ').Append(e.LogLevel().ToString().Replace("Level", "", StringComparison.Ordinal).ToUpperInvariant())
            .Append(' ').Append(e.LogSource).Append(": ").Append(OneLine(e.Message?.ToString() ?? ""));
        if (e.Cause is { } cause) line.Append(": ").Append(cause.GetType().Name).Append(": ").Append(OneLine(cause.Message));
        _out.WriteLine(line.ToString());
        if (_debug && e.Cause is not null) _out.WriteLine(e.Cause.ToString());
    }

    private static string OneLine(string s) =>
        string.Join(' ', s.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    protected override void PostStop()
    {
        if (_ownsWriter) _out.Dispose();
    }
}
