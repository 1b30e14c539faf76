namespace DistSoftmax.Cli.Service;

/// <summary>The service refused a job spec (HTTP 400); the message is the command line's own for the same mistake.</summary>
internal sealed class ServiceRefusedException(string message) : Exception(message);
