using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using System.Text;

namespace DistSoftmax.Cluster.Serialization;

/// <summary>
/// Little-endian binary writer of the wire format: fixed-size scalars, length-prefixed UTF-8 strings and
/// length-prefixed numeric arrays whose elements are block-copied (one memcpy on little-endian hosts).
/// </summary>
internal sealed class WireWriter
{
    private readonly ArrayBufferWriter<byte> _buffer;

    public WireWriter(int capacity = 256) => _buffer = new ArrayBufferWriter<byte>(Math.Max(capacity, 16));

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    public void WriteByte(byte v)
    {
        _buffer.GetSpan(1)[0] = v;
        _buffer.Advance(1);
    }

    public void WriteBool(bool v) => WriteByte(v ? (byte)1 : (byte)0);

    public void WriteInt32(int v)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(4), v);
        _buffer.Advance(4);
    }

    public void WriteInt64(long v)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), v);
        _buffer.Advance(8);
    }

    public void WriteUInt64(ulong v)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), v);
        _buffer.Advance(8);
    }

    public void WriteDouble(double v)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(_buffer.GetSpan(8), v);
        _buffer.Advance(8);
    }

    public void WriteString(string v)
    {
        int n = Encoding.UTF8.GetByteCount(v);
        WriteInt32(n);
        var span = _buffer.GetSpan(n);
        Encoding.UTF8.GetBytes(v, span);
        _buffer.Advance(n);
    }

    public void WriteNullableString(string? v)
    {
        WriteBool(v is not null);
        if (v is not null) WriteString(v);
    }

    /// <summary>Element count, then the raw little-endian IEEE-754 bytes.</summary>
    public void WriteDoubles(ReadOnlySpan<double> v)
    {
        WriteInt32(v.Length);
        int bytes = checked(v.Length * sizeof(double));
        var span = _buffer.GetSpan(Math.Max(bytes, 1))[..bytes];
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(v).CopyTo(span);
        else for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(span[(i * 8)..], v[i]);
        _buffer.Advance(bytes);
    }

    public void WriteInt32s(ReadOnlySpan<int> v)
    {
        WriteInt32(v.Length);
        int bytes = checked(v.Length * sizeof(int));
        var span = _buffer.GetSpan(Math.Max(bytes, 1))[..bytes];
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(v).CopyTo(span);
        else for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(span[(i * 4)..], v[i]);
        _buffer.Advance(bytes);
    }

    public void WriteBytes(ReadOnlySpan<byte> v)
    {
        WriteInt32(v.Length);
        v.CopyTo(_buffer.GetSpan(Math.Max(v.Length, 1)));
        _buffer.Advance(v.Length);
    }
}

/// <summary>
/// The reading side of <see cref="WireWriter"/>. Every length is checked against the bytes that remain before
/// anything is allocated, so a corrupt or truncated payload raises a <see cref="SerializationException"/> that says
/// what was wrong, never an out-of-memory or an index error.
/// </summary>
internal sealed class WireReader
{
    private readonly byte[] _data;
    private readonly int _end;
    private int _pos;

    public WireReader(byte[] data) : this(data, 0, data.Length) { }

    public WireReader(byte[] data, int offset, int count)
    {
        _data = data;
        _pos = offset;
        _end = offset + count;
    }

    public int Remaining => _end - _pos;

    private ReadOnlySpan<byte> Take(int n, string what)
    {
        if (n < 0 || n > Remaining)
            throw new SerializationException($"corrupt DistSoftmax payload: {what} needs {n} bytes but {Remaining} remain");
        var s = new ReadOnlySpan<byte>(_data, _pos, n);
        _pos += n;
        return s;
    }

    public byte ReadByte() => Take(1, "a byte")[0];

    public bool ReadBool() => ReadByte() switch
    {
        0 => false,
        1 => true,
        var b => throw new SerializationException($"corrupt DistSoftmax payload: {b} is not a boolean"),
    };

    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4, "an int32"));
    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8, "an int64"));
    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, "a uint64"));
    public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, "a double"));

    /// <summary>An element count that must fit in the remaining bytes at <paramref name="elementSize"/> bytes each.</summary>
    public int ReadCount(int elementSize, string what)
    {
        int n = ReadInt32();
        if (n < 0 || (long)n * elementSize > Remaining)
            throw new SerializationException(
                $"corrupt DistSoftmax payload: {what} claims {n} elements of {elementSize} bytes but {Remaining} bytes remain");
        return n;
    }

    public string ReadString()
    {
        int n = ReadCount(1, "a string");
        return System.Text.Encoding.UTF8.GetString(Take(n, "a string"));
    }

    public string? ReadNullableString() => ReadBool() ? ReadString() : null;

    public double[] ReadDoubles()
    {
        int n = ReadCount(sizeof(double), "a double array");
        var src = Take(n * sizeof(double), "a double array");
        var v = new double[n];
        if (BitConverter.IsLittleEndian) src.CopyTo(MemoryMarshal.AsBytes(v.AsSpan()));
        else for (int i = 0; i < n; i++) v[i] = BinaryPrimitives.ReadDoubleLittleEndian(src[(i * 8)..]);
        return v;
    }

    public int[] ReadInt32s()
    {
        int n = ReadCount(sizeof(int), "an int32 array");
        var src = Take(n * sizeof(int), "an int32 array");
        var v = new int[n];
        if (BitConverter.IsLittleEndian) src.CopyTo(MemoryMarshal.AsBytes(v.AsSpan()));
        else for (int i = 0; i < n; i++) v[i] = BinaryPrimitives.ReadInt32LittleEndian(src[(i * 4)..]);
        return v;
    }

    public byte[] ReadBytes()
    {
        int n = ReadCount(1, "a byte array");
        return Take(n, "a byte array").ToArray();
    }

    /// <summary>Every byte must have been consumed: trailing bytes mean the payload is not what its manifest says.</summary>
    public void EnsureEnd(string what)
    {
        if (Remaining != 0)
            throw new SerializationException($"corrupt DistSoftmax payload: {Remaining} trailing bytes after {what}");
    }
}
