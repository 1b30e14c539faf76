using System.Runtime.Serialization;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// Collects the <see cref="ReplyChunk"/>s of one shard's reply to one step and decodes the reply when the last one
/// is in. Chunks may arrive in any order; duplicates are ignored; chunks that disagree on the count or total
/// length, or overflow it, are a <see cref="SerializationException"/>.
/// </summary>
public sealed class ReplyAssembler
{
    /// <summary>Largest reassembled reply accepted (a full d×d Gram at d = 16000 is 2 GB: beyond any sane use).</summary>
    public const long MaxTotalBytes = int.MaxValue;

    private readonly byte[]?[] _pieces;
    private long _received;
    private int _count;

    public int ChunkCount { get; }
    public long TotalBytes { get; }

    public ReplyAssembler(int chunkCount, long totalBytes)
    {
        if (chunkCount < 1 || totalBytes < chunkCount || totalBytes > MaxTotalBytes)
            throw new SerializationException($"reply chunks claim {chunkCount} chunks and {totalBytes} bytes");
        ChunkCount = chunkCount;
        TotalBytes = totalBytes;
        _pieces = new byte[chunkCount][];
    }

    public bool IsComplete => _count == ChunkCount;

    /// <summary>Adds a chunk; true when every chunk is in.</summary>
    public bool Add(ReplyChunk chunk)
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
    public ShardReply Complete()
    {
        if (!IsComplete) throw new InvalidOperationException($"{_count} of {ChunkCount} chunks received");
        var all = new byte[TotalBytes];
        long offset = 0;
        foreach (var piece in _pieces)
        {
            piece!.CopyTo(all, offset);
            offset += piece.Length;
        }
        return WireFormat.DecodeReply(all);
    }
}
