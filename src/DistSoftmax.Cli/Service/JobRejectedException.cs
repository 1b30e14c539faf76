namespace DistSoftmax.Cli.Service;

/// <summary>A submission the service refuses: <paramref name="Status"/> is the HTTP status (400 bad spec, 503 queue full),
/// the message the CLI's one-line message for the same mistake.</summary>
internal sealed class JobRejectedException(int status, string message) : Exception(message)
{
    public const int BadSpec = 400, QueueFull = 503;

    public int Status { get; } = status;
}
