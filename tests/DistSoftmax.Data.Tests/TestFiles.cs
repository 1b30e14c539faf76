using System.Buffers.Binary;
using System.Text;

namespace DistSoftmax.Data.Tests;

/// <summary>A fresh temporary directory per test, deleted afterwards.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("distsoftmax-data-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] bytes) { string p = File(name); System.IO.File.WriteAllBytes(p, bytes); return p; }

    public string WriteText(string name, string text) { string p = File(name); System.IO.File.WriteAllText(p, text); return p; }

    public string[] Entries() => Directory.GetFileSystemEntries(Path).Select(System.IO.Path.GetFileName).ToArray()!;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// Builds .npy bytes by hand from the published format description, independently of the project's writer:
/// magic "\x93NUMPY", major and minor version bytes, header length (uint16 little-endian for version 1, uint32 for 2 and 3),
/// the header (an ASCII/UTF-8 Python dict literal padded with spaces and ended by '\n' so that the preamble plus header is a
/// multiple of 64 bytes), then the raw data.
/// </summary>
public static class NpyFixture
{
    public static byte[] Build(string dict, byte[] data, byte major = 1, byte minor = 0)
    {
        int preamble = major == 1 ? 10 : 12;
        int unpadded = preamble + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        string header = dict + new string(' ', total - unpadded) + "\n";
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);

        var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, minor]);
        int len = headerBytes.Length;
        if (major == 1) ms.Write([(byte)(len & 0xFF), (byte)(len >> 8)]);
        else ms.Write([(byte)(len & 0xFF), (byte)((len >> 8) & 0xFF), (byte)((len >> 16) & 0xFF), (byte)(len >> 24)]);
        ms.Write(headerBytes);
        ms.Write(data);
        return ms.ToArray();
    }

    public static byte[] F8(params double[] v)
    {
        var b = new byte[8 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(8 * i), v[i]);
        return b;
    }

    public static byte[] F8BigEndian(params double[] v)
    {
        var b = new byte[8 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteDoubleBigEndian(b.AsSpan(8 * i), v[i]);
        return b;
    }

    public static byte[] F4(params float[] v)
    {
        var b = new byte[4 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    public static byte[] I8(params long[] v)
    {
        var b = new byte[8 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8 * i), v[i]);
        return b;
    }

    public static byte[] I4(params int[] v)
    {
        var b = new byte[4 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }
}
