using System.Runtime.Serialization;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Serialization;

/// <summary>
/// Collects the chunks of one message — a shard's reply to one step (<see cref="ReplyChunk"/>) or a step's request
/// to one shard (<see cref="RequestChunk"/>) — and decodes it when the last one is in. Chunks may arrive in any
/// order; duplicates are ignored; chunks that disagree on the count or total length, or overflow it, are a
/// <see cref="SerializationException"/>.
/// </summary>
public sealed class ChunkAssembler
{
    /// <summary>Largest reassembled message this type can hold at all (one array).</summary>
    public const long MaxTotalBytes = int.MaxValue;

    /// <summary>The pieces received so far, by index: memory grows with what arrived, never with what a header claims.</summary>
    private readonly Dictionary<int, byte[]> _pieces = new();
    private long _received;

    public int ChunkCount { get; }
    public long TotalBytes { get; }

    /// <summary>A new assembly for a header claiming <paramref name="chunkCount"/> pieces and
    /// <paramref name="totalBytes"/> bytes; a claim beyond <paramref name="limits"/> (default
    /// <see cref="ChunkLimits.Default"/>) is a <see cref="SerializationException"/> and allocates nothing.</summary>
    public ChunkAssembler(int chunkCount, long totalBytes, ChunkLimits? limits = null)
    {
        limits ??= ChunkLimits.Default;
        if (chunkCount < 1 || totalBytes < chunkCount || totalBytes > MaxTotalBytes)
            throw new SerializationException($"chunks claim {chunkCount} chunks and {totalBytes} bytes");
        if (chunkCount > limits.MaxChunks)
            throw new SerializationException($"chunks claim {chunkCount} chunks, more than the {limits.MaxChunks} allowed (distsoftmax.wire.max-chunks)");
        if (totalBytes > limits.MaxMessageBytes)
            throw new SerializationException($"chunks claim {totalBytes} bytes, more than the {limits.MaxMessageBytes} allowed (distsoftmax.wire.max-message-bytes)");
        ChunkCount = chunkCount;
        TotalBytes = totalBytes;
    }

    public bool IsComplete => _pieces.Count == ChunkCount;

    /// <summary>Adds a chunk; true when every chunk is in.</summary>
    public bool Add(IChunk chunk)
    {
        if (chunk.ChunkCount != ChunkCount || chunk.TotalBytes != TotalBytes)
            throw new SerializationException(
                $"chunk {chunk.ChunkIndex} claims {chunk.ChunkCount} chunks / {chunk.TotalBytes} bytes, expected {ChunkCount} / {TotalBytes}");
        if (chunk.ChunkIndex < 0 || chunk.ChunkIndex >= ChunkCount)
            throw new SerializationException($"chunk index {chunk.ChunkIndex} is outside 0..{ChunkCount - 1}");
        if (_pieces.ContainsKey(chunk.ChunkIndex)) return IsComplete;
        if (_received + chunk.Bytes.Length > TotalBytes)
            throw new SerializationException($"chunks carry more than the {TotalBytes} bytes announced");
        _pieces.Add(chunk.ChunkIndex, chunk.Bytes);
        _received += chunk.Bytes.Length;
        if (IsComplete && _received != TotalBytes)
            throw new SerializationException($"chunks carry {_received} bytes, {TotalBytes} were announced");
        return IsComplete;
    }

    /// <summary>The reassembled, decoded reply.</summary>
    public ShardReply CompleteReply() => WireFormat.DecodeReply(Join());

    /// <summary>The reassembled, decoded request.</summary>
    public ShardRequest CompleteRequest() => WireFormat.DecodeRequest(Join());

    private byte[] Join()
    {
        if (!IsComplete) throw new InvalidOperationException($"{_pieces.Count} of {ChunkCount} chunks received");
        var all = new byte[TotalBytes];
        long offset = 0;
        for (int c = 0; c < ChunkCount; c++)
        {
            var piece = _pieces[c];
            piece.CopyTo(all, offset);
            offset += piece.Length;
        }
        return all;
    }

    /// <summary>
    /// The pieces of an encoding of at most <paramref name="chunkSize"/> bytes each (the last one shorter), in order.
    /// </summary>
    public static byte[][] Split(byte[] bytes, int chunkSize)
    {
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), "a chunk holds at least one byte");
        int count = (int)((bytes.LongLength + chunkSize - 1) / chunkSize);
        var pieces = new byte[count][];
        for (int c = 0; c < count; c++)
        {
            long start = (long)c * chunkSize;
            pieces[c] = bytes.AsSpan((int)start, (int)Math.Min(chunkSize, bytes.LongLength - start)).ToArray();
        }
        return pieces;
    }
}
