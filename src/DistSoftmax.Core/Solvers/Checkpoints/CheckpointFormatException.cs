namespace DistSoftmax.Core.Solvers.Checkpoints;

/// <summary>
/// A checkpoint that cannot be read (truncated, corrupted, another format version) or does not fit the solve it is
/// asked to resume (another solver, dimension or row count). The message is one line and names what is wrong.
/// </summary>
public sealed class CheckpointFormatException(string message) : Exception(message);
