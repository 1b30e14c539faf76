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
    /// <summary>Largest reassembled message accepted (a full d×d Gram at d = 16000 is 2 GB: beyond any sane use).</summary>
    public const long MaxTotalBytes = int.MaxValue;

    private readonly byte[]?[] _pieces;
    private long _received;
    private int _count;

    public int ChunkCount { get; }
    public long TotalBytes { get; }

    public ChunkAssembler(int chunkCount, long totalBytes)
    {
        if (chunkCount < 1 || totalBytes < chunkCount || totalBytes > MaxTotalBytes)
            throw new SerializationException($"chunks claim {chunkCount} chunks and {totalBytes} bytes");
        ChunkCount = chunkCount;
        TotalBytes = totalBytes;
        _pieces = new byte[chunkCount][];
    }

    public bool IsComplete => _count == ChunkCount;

    /// <summary>Adds a chunk; true when every chunk is in.</summary>
    public bool Add(IChunk chunk)
    {
        if (chunk.ChunkCount != ChunkCount || chunk.TotalBytes != TotalBytes)
            throw new SerializationException(
                $"chunk {chunk.ChunkIndex} claims {chunk.ChunkCount} chunks / {chunk.TotalBytes} bytes, expected {ChunkCount} / {TotalBytes}");
        if (chunk.ChunkIndex < 0 || chunk.ChunkIndex >= ChunkCount)
            throw new SerializationException($"chunk index {chunk.ChunkIndex} is outside 0..{ChunkCount - 1}");
        if (_pieces[chunk.ChunkIndex] is not null) return IsComplete;
        if (_received + chunk.Bytes.Length > TotalBytes)
            throw new SerializationException($"chunks carry more than the {TotalBytes} bytes announced");
        _pieces[chunk.ChunkIndex] = chunk.Bytes;
        _received += chunk.Bytes.Length;
        _count++;
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
        if (!IsComplete) throw new InvalidOperationException($"{_count} of {ChunkCount} chunks received");
        var all = new byte[TotalBytes];
        long offset = 0;
        foreach (var piece in _pieces)
        {
            piece!.CopyTo(all, offset);
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
