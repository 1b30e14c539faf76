namespace DistSoftmax.Data;

/// <summary>
/// What tells one version of a file from another on Linux: its device and inode (a file renamed over it is another
/// inode), size, and modification and status-change times (a write in place moves both, at the kernel's timestamp
/// granularity of a clock tick), read with statx(2). Null where it cannot be read (another system, a missing file):
/// nothing is then taken as unchanged.
/// </summary>
internal readonly unsafe record struct FileIdentity(uint DeviceMajor, uint DeviceMinor, ulong Inode, ulong Size,
    long ModifiedSeconds, uint ModifiedNanoseconds, long ChangedSeconds, uint ChangedNanoseconds)
{
    private const uint BasicStats = 0x7ff;         // STATX_BASIC_STATS
    // offsetof(struct statx, …): stx_ino, stx_size, stx_ctime, stx_mtime (each timestamp: __s64 tv_sec, __u32 tv_nsec), stx_dev_major/minor.
    private const int InodeOffset = 32, SizeOffset = 40, ChangedOffset = 96, ModifiedOffset = 112, DeviceOffset = 136;

    /// <summary>The identity of the file at <paramref name="path"/> now, or null.</summary>
    public static FileIdentity? Of(string path)
    {
        byte* b = stackalloc byte[LinuxStatx.StructSize];
        if (!LinuxStatx.TryRead(path, BasicStats, b)) return null;
        return new FileIdentity(*(uint*)(b + DeviceOffset), *(uint*)(b + DeviceOffset + 4), *(ulong*)(b + InodeOffset),
            *(ulong*)(b + SizeOffset), *(long*)(b + ModifiedOffset), *(uint*)(b + ModifiedOffset + 8),
            *(long*)(b + ChangedOffset), *(uint*)(b + ChangedOffset + 8));
    }
}
