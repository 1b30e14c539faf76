using System.Buffers;
using System.IO.MemoryMappedFiles;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Data;

/// <summary>
/// A range of doubles of a file, mapped read-only: the memory of a worker's rows of a C-ordered float64 .npy file
/// (<see cref="Npy.MapMatrixRows"/>). The pages are the file's own page-cache pages, so nothing is copied and no new
/// memory is committed; they are mapped in one call (<see cref="PopulatedArrays.PopulateForReading"/>). The file itself
/// is closed once the view is made (a mapping outlives its descriptor), so a long-running worker holds no descriptor
/// per shard; the mapping lives until the memory is unreachable (a finaliser releases it; nothing else disposes it
/// while shards use it).
/// </summary>
internal sealed unsafe class MappedFileMemory : MemoryManager<double>
{
    private readonly MemoryMappedViewAccessor _view;
    private readonly double* _first;
    private readonly int _length;
    private int _released;

    private MappedFileMemory(MemoryMappedViewAccessor view, double* first, int length)
    {
        _view = view; _first = first; _length = length;
    }

    /// <summary>
    /// Maps <paramref name="count"/> doubles at byte <paramref name="offset"/> of the file; null where the file cannot
    /// be mapped (the caller reads it instead).
    /// </summary>
    public static MappedFileMemory? TryMap(string path, long offset, int count)
    {
        if (count <= 0) return null;
        long bytes = (long)count * sizeof(double);
        MemoryMappedFile? file = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = file.CreateViewAccessor(offset, bytes, MemoryMappedFileAccess.Read);
            byte* mapped = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref mapped);
            // The view starts at the page boundary below offset: the values begin PointerOffset bytes into it.
            PopulatedArrays.PopulateForReading(mapped, view.PointerOffset + bytes);
            file.Dispose();   // closes the descriptor; the view stays mapped
            return new MappedFileMemory(view, (double*)(mapped + view.PointerOffset), count);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            view?.Dispose();
            file?.Dispose();
            return null;
        }
    }

    public override Span<double> GetSpan()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _released) != 0, this);
        return new Span<double>(_first, _length);
    }

    /// <summary>The mapping does not move: pinning is its address.</summary>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if ((uint)elementIndex > (uint)_length) throw new ArgumentOutOfRangeException(nameof(elementIndex));
        return new MemoryHandle(_first + elementIndex);
    }

    public override void Unpin() { }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        if (!disposing) return;   // from the finaliser: the view's own handle unmaps it
        _view.Dispose();
    }

    ~MappedFileMemory() => Dispose(false);
}
