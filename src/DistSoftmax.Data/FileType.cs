namespace DistSoftmax.Data;

/// <summary>
/// What kind of file a path names, following symbolic links: inputs must be regular files, because opening a FIFO
/// blocks until a writer appears and a device (e.g. a link to /dev/zero) never ends. .NET's file attributes do not
/// tell these apart on Unix, so Linux asks the kernel through statx(2), whose struct layout is the same on every
/// architecture; elsewhere every existing path counts as regular.
/// </summary>
internal static unsafe class FileType
{
    private const uint StatxType = 0x1;        // STATX_TYPE: only the file type is needed
    private const int ModeOffset = 28;         // offsetof(struct statx, stx_mode), a __u16
    private const int TypeMask = 0xF000, Regular = 0x8000, Fifo = 0x1000, CharDevice = 0x2000, BlockDevice = 0x6000, Socket = 0xC000;

    /// <summary>Null for a regular file (or where the type cannot be asked); otherwise what it is, for a message.</summary>
    public static string? NotRegular(string path)
    {
        byte* buffer = stackalloc byte[LinuxStatx.StructSize];
        // Missing or unreadable (the open says so), or not Linux: taken as regular.
        if (!LinuxStatx.TryRead(path, StatxType, buffer)) return null;
        int type = *(ushort*)(buffer + ModeOffset) & TypeMask;
        return type switch
        {
            Regular => null,
            Fifo => "a named pipe (FIFO)",
            CharDevice => "a character device",
            BlockDevice => "a block device",
            Socket => "a socket",
            _ => "not a regular file",
        };
    }
}
