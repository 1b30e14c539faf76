using DistSoftmax.Core.Shards;

namespace DistSoftmax.Core.Tests;

/// <summary>The row tiles of a vector shard fit half a core's L2 (so a two-read pass finds its rows in cache), within 16–256 rows.</summary>
public class VectorShardTileTests
{
    [Theory]
    [InlineData(8 * 100, 256)]        // d = 100 dense: 200 KB for 256 rows
    [InlineData(8 * 400, 160)]        // d = 400: 163 rows fit, rounded down to a multiple of 16
    [InlineData(8 * 1000, 64)]        // d = 1000: 65 fit
    [InlineData(8 * 100_000, 16)]     // very wide rows: never fewer than 16
    [InlineData(0, 256)]              // empty rows
    public void Tiles_hold_at_most_half_an_L2_of_rows(long bytesPerRow, int rows)
    {
        Assert.Equal(rows, VectorShard.TileRowsFor(bytesPerRow));
        Assert.True(rows == VectorShard.MinTileRows || rows * bytesPerRow <= VectorShard.TileBytes);
    }
}
