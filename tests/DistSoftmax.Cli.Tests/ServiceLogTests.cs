using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using DistSoftmax.Cluster.Hosting;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// The nodes' Akka.NET log (<see cref="OneLineLogger"/>): one line per event at the configured level and above, the
/// cause's type and message on that line, no stack trace (without DISTSOFTMAX_DEBUG=1), into the --log file.
/// </summary>
public class ServiceLogTests
{
    private static async Task<string[]> LogAsync(string level, Action<ILoggingAdapter> write)
    {
        using var dir = new TempDir();
        string file = dir.File("node.log");
        var config = ConfigurationFactory.ParseString(OneLineLogger.Hocon(level, file)).WithFallback(DistSoftmaxConfig.Local());
        var system = ActorSystem.Create("log-test", config);
        try
        {
            // Akka.NET starts its loggers asynchronously and drops events published before they subscribe (the
            // standard-out logger is off): on a loaded machine the lines below were lost. Wait until a probe from
            // another source reaches the file.
            var probe = Logging.GetLogger(system, "the-probe");
            var ready = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (DateTime.UtcNow < ready && !(File.Exists(file) && File.ReadAllText(file).Contains("logger ready")))
            {
                probe.Error("logger ready");
                await Task.Delay(50);
            }
            write(Logging.GetLogger(system, "the-source"));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (DateTime.UtcNow < deadline && (!File.Exists(file) || !File.ReadAllText(file).Contains("last line"))) await Task.Delay(20);
        }
        finally
        {
            await system.Terminate();
        }
        return File.ReadAllLines(file);
    }

    [Fact]
    public async Task Each_event_is_one_line_with_its_cause_and_no_stack_trace()
    {
        Assert.NotEqual("1", Environment.GetEnvironmentVariable("DISTSOFTMAX_DEBUG"));
        Exception cause;
        try { throw new InvalidOperationException("first\nsecond"); }
        catch (InvalidOperationException e) { cause = e; }
        var lines = await LogAsync("WARNING", log =>
        {
            log.Info("an info line");
            log.Warning("a warning\nover two lines");
            log.Error(cause, "it failed");
            log.Warning("last line");
        });
        var ours = lines.Where(l => l.Contains("the-source")).ToArray();
        Assert.Equal(3, ours.Length);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING the-source \(akka://log-test\): a warning over two lines$", ours[0]);
        Assert.EndsWith(" ERROR the-source (akka://log-test): it failed: InvalidOperationException: first second", ours[1]);
        Assert.DoesNotContain(lines, l => l.Contains("an info line") || l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_log_file_takes_info_and_above()
    {
        var lines = await LogAsync("INFO", log =>
        {
            log.Debug("a debug line");
            log.Info("an info line");
            log.Warning("last line");
        });
        Assert.Contains(lines, l => l.EndsWith(" INFO the-source (akka://log-test): an info line", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("a debug line"));
    }
}
