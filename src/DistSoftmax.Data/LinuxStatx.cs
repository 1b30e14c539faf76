using System.Runtime.InteropServices;

namespace DistSoftmax.Data;

/// <summary>
/// statx(2) on Linux, following symbolic links: fills a struct statx (256 bytes, the same layout on every architecture)
/// for what <see cref="FileType"/> and <see cref="FileIdentity"/> read of a file.
/// </summary>
internal static unsafe class LinuxStatx
{
    /// <summary>sizeof(struct statx).</summary>
    public const int StructSize = 256;

    private const int AtFdCwd = -100;   // AT_FDCWD: a relative path is resolved against the working directory

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>
    /// Fills <paramref name="buffer"/> (<see cref="StructSize"/> bytes) with the fields of <paramref name="mask"/>; false
    /// off Linux, where the path cannot be asked (missing, unreadable), or where libc has no statx.
    /// </summary>
    public static bool TryRead(string path, uint mask, byte* buffer)
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return Statx(AtFdCwd, path, 0, mask, buffer) == 0;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }
}
