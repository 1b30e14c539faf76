namespace DistSoftmax.Core.Kernels;

/// <summary>
/// Packed upper-triangular storage of a symmetric d×d matrix: rows of the upper triangle concatenated,
/// (0,0..d−1), (1,1..d−1), …, length d(d+1)/2. This is how d×d blocks travel between shards and the solver.
/// </summary>
public static class Packed
{
    public static int Length(int d) => checked(d * (d + 1) / 2);

    /// <summary>Index of the diagonal entry (i, i), the first of row i: Σ_{r &lt; i} (d − r) = i·d − i(i − 1)/2.</summary>
    public static int DiagonalIndex(int i, int d) => i * d - i * (i - 1) / 2;

    /// <summary>Dimension d of a packed triangle of the given length.</summary>
    public static int Dimension(int packedLength)
    {
        int d = (int)Math.Round((Math.Sqrt(8.0 * packedLength + 1) - 1) / 2);
        if (Length(d) != packedLength) throw new ArgumentException($"{packedLength} is not a triangular number");
        return d;
    }

    /// <summary>Packs the upper triangle of a d×d row-major matrix.</summary>
    public static double[] FromUpper(ReadOnlySpan<double> full, int d)
    {
        var p = new double[Length(d)];
        AddUpper(full, d, p, overwrite: true);
        return p;
    }

    /// <summary>
    /// packed += the upper triangle of a d×d row-major matrix (or packed = it, with <paramref name="overwrite"/>),
    /// row by row: the same values as adding the full matrices and packing the sum.
    /// </summary>
    public static void AddUpper(ReadOnlySpan<double> full, int d, Span<double> packed, bool overwrite = false)
    {
        if (full.Length < d * d) throw new ArgumentException($"a {d}×{d} matrix needs {d * d} values, got {full.Length}");
        if (packed.Length != Length(d)) throw new ArgumentException($"a packed {d}×{d} triangle has {Length(d)} values, got {packed.Length}");
        int k = 0;
        for (int i = 0; i < d; i++)
        {
            var row = full.Slice(i * d + i, d - i);
            var target = packed.Slice(k, d - i);
            if (overwrite) row.CopyTo(target);
            else SpanMath.Add(target, row, target);
            k += d - i;
        }
    }

    /// <summary>Unpacks into a full symmetric d×d row-major matrix.</summary>
    public static double[] ToSymmetric(ReadOnlySpan<double> packed, int d)
    {
        // Every entry is written, so the array need not be zeroed first.
        var full = GC.AllocateUninitializedArray<double>(d * d);
        ToSymmetric(packed, d, full);
        return full;
    }

    /// <summary>The full symmetric d×d row-major matrix of a packed triangle, written over the first d·d entries of <paramref name="full"/>.</summary>
    public static void ToSymmetric(ReadOnlySpan<double> packed, int d, Span<double> full)
    {
        if (packed.Length != Length(d)) throw new ArgumentException($"a packed {d}×{d} triangle has {Length(d)} values, got {packed.Length}");
        if (full.Length < d * d) throw new ArgumentException($"a {d}×{d} matrix needs {d * d} values, got {full.Length}");
        int k = 0;
        for (int i = 0; i < d; i++)
        {
            packed.Slice(k, d - i).CopyTo(full.Slice(i * d + i, d - i));
            k += d - i;
        }
        // The lower triangle mirrors the upper one, tile by tile, so that the column reads stay in cache.
        for (int ib = 0; ib < d; ib += MirrorTile)
            for (int jb = 0; jb <= ib; jb += MirrorTile)
                for (int i = ib, ie = Math.Min(ib + MirrorTile, d); i < ie; i++)
                    for (int j = jb, je = Math.Min(jb + MirrorTile, i); j < je; j++)
                        full[i * d + j] = full[j * d + i];
    }

    /// <summary>Rows and columns of one tile of <see cref="ToSymmetric"/>'s mirror (32×32 doubles, 8 KB).</summary>
    private const int MirrorTile = 32;
}
