using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Protocol;

/// <summary>
/// Marker of every message that may cross a node boundary. HOCON binds it (together with the Core types
/// <see cref="ShardRequest"/> and <see cref="ShardReply"/>) to <c>DistSoftmaxSerializer</c>; nothing of the
/// protocol ever falls back to the JSON serializer.
/// </summary>
public interface IDistSoftmaxMessage;

/// <summary>A message about one solve. <see cref="SolveId"/> names the solve on every node.</summary>
public interface ISolveMessage : IDistSoftmaxMessage
{
    string SolveId { get; }
}

/// <summary>
/// A message about one step of one shard. <see cref="Epoch"/> is the shard's assignment epoch (the solve's epoch
/// counter when the shard was last assigned; it bumps whenever shards move), <see cref="Step"/> counts the
/// requests fanned out by the coordinator. A reply whose (SolveId, Epoch, Step) is not the one the coordinator
/// waits for is stale and dropped.
/// </summary>
public interface IStepMessage : ISolveMessage
{
    int Epoch { get; }
    long Step { get; }
    int ShardIndex { get; }
}

// ---------------------------------------------------------------------------------------------------------------
// Registration. The coordinator finds workers (by cluster membership or because a local host introduces them),
// says hello; each worker answers with RegisterWorker; the coordinator confirms and watches it.
// ---------------------------------------------------------------------------------------------------------------

/// <summary>Coordinator → worker: "register with me" (the sender is the coordinator).</summary>
public sealed record CoordinatorHello(string CoordinatorId) : IDistSoftmaxMessage;

/// <summary>Worker → coordinator: the worker offers itself (the sender is the worker).</summary>
/// <param name="WorkerId">A name unique in the cluster (the worker's actor path).</param>
/// <param name="ProcessorCount">Cores of the worker's machine (informative).</param>
/// <param name="Cached">The rows in the worker's shard cache (none when null), so that a second solve on the same
/// source gives the worker the shards it already holds.</param>
public sealed record RegisterWorker(string WorkerId, int ProcessorCount, IReadOnlyList<CachedRows>? Cached = null) : IDistSoftmaxMessage
{
    /// <summary>The cached rows reported (empty when none).</summary>
    public IReadOnlyList<CachedRows> Cached { get; init; } = Cached ?? [];

    public bool Equals(RegisterWorker? other) =>
        other is not null && WorkerId == other.WorkerId && ProcessorCount == other.ProcessorCount && Cached.SequenceEqual(other.Cached);

    public override int GetHashCode() => HashCode.Combine(WorkerId, ProcessorCount, Cached.Count);
}

/// <summary>Coordinator → worker: registration accepted; the worker watches the coordinator from now on.</summary>
public sealed record WorkerRegistered(string CoordinatorId) : IDistSoftmaxMessage;

// ---------------------------------------------------------------------------------------------------------------
// Shard ownership. Data never travels: the worker is told where its rows are and loads them itself.
// ---------------------------------------------------------------------------------------------------------------

/// <summary>Coordinator → worker: own rows <paramref name="Rows"/> of <paramref name="Source"/> as shard
/// <paramref name="ShardIndex"/> of the solve, at assignment epoch <paramref name="Epoch"/>.</summary>
public sealed record AssignShard(string SolveId, int Epoch, int ShardIndex, ProblemSource Source, RowRange Rows)
    : ISolveMessage;

/// <summary>Worker → coordinator: the shard is loaded and ready.</summary>
public sealed record ShardLoaded(string SolveId, int Epoch, int ShardIndex, string WorkerId, long Rows, double Seconds)
    : ISolveMessage;

/// <summary>Worker → coordinator: the rows could not be loaded (missing file, bad source, …).</summary>
public sealed record ShardLoadFailed(string SolveId, int Epoch, int ShardIndex, string WorkerId, string Reason)
    : ISolveMessage;

/// <summary>Coordinator → former owner: the shard has moved; drop it.</summary>
public sealed record ReleaseShard(string SolveId, int ShardIndex) : ISolveMessage;

/// <summary>Coordinator → every worker: the solve is over; drop all of its shards.</summary>
public sealed record ReleaseSolve(string SolveId) : ISolveMessage;

// ---------------------------------------------------------------------------------------------------------------
// Steps.
// ---------------------------------------------------------------------------------------------------------------

/// <summary>Coordinator → owner: evaluate <paramref name="Request"/> on the shard.</summary>
public sealed record EvaluateShard(string SolveId, int Epoch, long Step, int ShardIndex, ShardRequest Request)
    : IStepMessage;

/// <summary>One piece of a message too large for one remote frame; the pieces concatenated are its tagged encoding.</summary>
public interface IChunk
{
    int ChunkIndex { get; }
    int ChunkCount { get; }
    /// <summary>Length of the whole encoding (every chunk repeats it, so reassembly can check it).</summary>
    long TotalBytes { get; }
    byte[] Bytes { get; }
}

/// <summary>
/// Coordinator → owner: piece <paramref name="ChunkIndex"/> of <paramref name="ChunkCount"/> of a request whose
/// encoding exceeds what one remote frame carries (x alone is 8 MB for a multiple-softmax problem at d = 1000).
/// The concatenated bytes are the request's tagged wire encoding; the owner evaluates it as an
/// <see cref="EvaluateShard"/> with the same header once every piece is in.
/// </summary>
public sealed record RequestChunk(string SolveId, int Epoch, long Step, int ShardIndex, int ChunkIndex, int ChunkCount,
    long TotalBytes, byte[] Bytes) : IStepMessage, IChunk;

/// <summary>Owner → coordinator: the shard's reply, when its encoding fits in one chunk.</summary>
public sealed record ShardResult(string SolveId, int Epoch, long Step, int ShardIndex, ShardReply Reply)
    : IStepMessage;

/// <summary>
/// Owner → coordinator: piece <paramref name="ChunkIndex"/> of <paramref name="ChunkCount"/> of a reply whose
/// encoding exceeds the chunk size (a d×d Gram block is 16 MB packed at d = 2000, far above any sane
/// maximum-frame-size). The concatenated bytes are the reply's tagged wire encoding.
/// </summary>
/// <param name="TotalBytes">Length of the whole encoding (every chunk repeats it, so reassembly can check it).</param>
public sealed record ReplyChunk(string SolveId, int Epoch, long Step, int ShardIndex, int ChunkIndex, int ChunkCount,
    long TotalBytes, byte[] Bytes) : IStepMessage, IChunk;

/// <summary>Owner → coordinator: the step could not be answered.</summary>
/// <param name="WorkerFault">True when another owner may succeed (the worker lost the shard's state); false when
/// the evaluation itself failed, which any owner of the same rows would repeat, so the solve fails.</param>
public sealed record ShardFailed(string SolveId, int Epoch, long Step, int ShardIndex, string Reason, bool WorkerFault)
    : IStepMessage;

// ---------------------------------------------------------------------------------------------------------------
// Inspection (tests, operators).
// ---------------------------------------------------------------------------------------------------------------

/// <summary>Asks a worker which shards it holds; the answer is a <see cref="WorkerStatus"/>.</summary>
public sealed record GetWorkerStatus : IDistSoftmaxMessage
{
    public static readonly GetWorkerStatus Instance = new();
    private GetWorkerStatus() { }
}

/// <summary>One shard held by a worker.</summary>
public sealed record HeldShard(string SolveId, int ShardIndex, int Epoch, bool Loaded, long Rows);

public sealed record WorkerStatus(string WorkerId, IReadOnlyList<HeldShard> Shards) : IDistSoftmaxMessage
{
    public bool Equals(WorkerStatus? other) =>
        other is not null && WorkerId == other.WorkerId && Shards.SequenceEqual(other.Shards);

    public override int GetHashCode() => HashCode.Combine(WorkerId, Shards.Count);
}
