namespace DistSoftmax.Data.Tests;

/// <summary>
/// The .npy writer's pieces end on 2 MB boundaries of the file (<see cref="Npy.PageCacheAlignment"/>), so that Linux
/// caches a large file in 2 MB folios; the bytes are the same .npy either way.
/// </summary>
public sealed class NpyWriteLayoutTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    /// <summary>A seekable stream that records where each write began and how long it was.</summary>
    private sealed class RecordingStream : MemoryStream
    {
        public List<(long Position, int Length)> Writes { get; } = [];

        // (MemoryStream's span overload calls the array one in a derived type: each records once, into the array one.)
        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

        public override void Write(byte[] buffer, int offset, int count)
        {
            Writes.Add((Position, count));
            base.Write(buffer, offset, count);
        }
    }

    [Theory]
    [InlineData(1_500_000, 1)]      // 12 MB of data: a partial first piece, two whole 4 MB pieces, a partial last
    [InlineData(3 * 262_144, 2)]    // 6 MB, rows of 2 values
    [InlineData(10, 1)]             // smaller than one piece
    public void Data_writes_after_the_header_start_on_2_MB_boundaries(int values, int cols)
    {
        var data = Enumerable.Range(0, values).Select(i => Math.Sin(i) * 1e3).ToArray();
        using var stream = new RecordingStream();
        Npy.WriteTo(stream, "a.npy", data, [values / cols, cols]);

        var (headerPosition, headerLength) = stream.Writes[0];
        Assert.Equal(0, headerPosition);
        var dataWrites = stream.Writes.Skip(1).ToList();
        Assert.Equal(values * 8L, dataWrites.Sum(w => (long)w.Length));
        for (int i = 0; i < dataWrites.Count; i++)
        {
            var (position, length) = dataWrites[i];
            if (i > 0) Assert.Equal(0, position % Npy.PageCacheAlignment);
            bool last = i == dataWrites.Count - 1;
            if (!last) Assert.Equal(0, (position + length) % Npy.PageCacheAlignment);
        }
        if (values * 8L + headerLength > Npy.PageCacheAlignment)
            Assert.Equal(Npy.PageCacheAlignment - headerLength, dataWrites[0].Length);

        string path = _dir.File("a.npy");
        File.WriteAllBytes(path, stream.ToArray());
        Assert.Equal(data, Npy.ReadMatrix(path).Data);
    }

    [Fact]
    public void A_file_written_through_the_atomic_writer_reads_back_bit_for_bit_across_boundaries()
    {
        var data = Enumerable.Range(0, 600_000).Select(i => 1.0 / (i + 1) - 0.25).ToArray();
        string path = _dir.File("v.npy");
        Npy.Write(path, data);
        Assert.Equal(data, Npy.ReadVector(path));
    }
}
