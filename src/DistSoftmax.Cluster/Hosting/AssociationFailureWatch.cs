using Akka.Actor;
using Akka.Remote;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// Remembers why this node's last outbound connection to another node failed (Akka.Remote publishes an
/// <see cref="AssociationErrorEvent"/> on the event stream), so a job that never joins its seeds can say why instead of
/// only that it did not: a TLS handshake refused because the nodes hold different credentials ends the join attempt
/// within a second or two, long before the join timeout the generic message would name.
/// </summary>
public sealed class AssociationFailureWatch
{
    private readonly ActorSystem _system;
    private readonly System.Diagnostics.Stopwatch _sinceStart = System.Diagnostics.Stopwatch.StartNew();
    private string? _lastFailure;

    private AssociationFailureWatch(ActorSystem system) => _system = system;

    /// <summary>Time since the watch started, with the node's system: how long the node has been trying to join.</summary>
    public TimeSpan Elapsed => _sinceStart.Elapsed;

    /// <summary>The innermost cause of the last outbound association failure, one line; null while there was none.</summary>
    public string? LastFailure => Volatile.Read(ref _lastFailure);

    /// <summary>
    /// The exit code of Akka.Remote's (internal) TlsHandshakeFailureReason: since Akka.NET 1.5.52 a node whose
    /// outbound TLS handshake fails runs CoordinatedShutdown with that reason (akka.net pull requests 7839, 7939).
    /// </summary>
    public const int TlsHandshakeFailureExitCode = 79;

    /// <summary>
    /// Whether this node's connection to a seed failed its TLS handshake: the node was shut down for it, or the
    /// failure's own message names the certificate or the handshake.
    /// </summary>
    public bool TlsRefused => CoordinatedShutdown.Get(_system).ShutdownReason is { ExitCode: TlsHandshakeFailureExitCode }
        || NamesCertificate(LastFailure) || LastFailure?.Contains("TLS", StringComparison.Ordinal) == true;

    private static bool NamesCertificate(string? failure) => failure?.Contains("certificate", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The one-line account of a refused TLS handshake (<see cref="TlsRefused"/>) with <paramref name="seeds"/>.</summary>
    public string TlsRefusal(string seeds) =>
        $"{seeds} refused this node's TLS handshake after {Elapsed.TotalSeconds:0.0} s" +
        (LastFailure is { } f ? $" ({f})" : "") +
        ": every node of a cluster needs the same credentials (--credentials or DISTSOFTMAX_CREDENTIALS)";

    /// <summary>Starts watching <paramref name="system"/>'s association errors (an actor subscribed to its event stream).</summary>
    public static AssociationFailureWatch Start(ActorSystem system)
    {
        var watch = new AssociationFailureWatch(system);
        var recorder = system.ActorOf(Props.Create(() => new Recorder(watch)), "association-failure-watch");
        system.EventStream.Subscribe(recorder, typeof(AssociationErrorEvent));
        return watch;
    }

    /// <summary>The innermost exception's message of <paramref name="cause"/> (the TLS or socket error itself, not the
    /// wrappers Akka adds), as one line.</summary>
    internal static string Innermost(Exception cause)
    {
        var e = cause;
        while (e.InnerException is not null) e = e.InnerException;
        if (e is AggregateException { InnerExceptions.Count: > 0 } aggregate) e = aggregate.InnerExceptions[0];
        return string.Join(' ', e.Message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();
    }

    private sealed class Recorder : ReceiveActor
    {
        public Recorder(AssociationFailureWatch watch)
        {
            Receive<AssociationErrorEvent>(e =>
            {
                if (e.IsInbound || e.Cause is null) return;
                // A failure that names the certificate is kept over a later, vaguer one ("Channel is closed").
                string failure = Innermost(e.Cause);
                if (!(NamesCertificate(watch.LastFailure) && !NamesCertificate(failure))) Volatile.Write(ref watch._lastFailure, failure);
            });
        }
    }
}
