using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers.Checkpoints;

/// <summary>
/// The binary file format of a <see cref="SolverCheckpoint"/>, little-endian throughout:
/// <code>
///   "DSCK"  (4 bytes)   magic
///   u16     version     <see cref="Version"/>
///   i64     length      of the payload in bytes
///   32 bytes            SHA-256 of the payload
///   payload             the fields in the order of <see cref="Write"/>: strings as i32 length + UTF-8, arrays as
///                       i32 count + count × f64, the trace as i32 count + count × (i32, 5 × f64, i64, f64, i32)
/// </code>
/// A checkpoint is read back from disk, so <see cref="Read"/> treats it as untrusted: every length is checked against
/// the bytes left before anything is allocated, the digest must match, nothing may follow the payload, and any
/// failure is a <see cref="CheckpointFormatException"/> with a one-line message.
/// </summary>
public static class CheckpointFormat
{
    public const ushort Version = 1;
    private static ReadOnlySpan<byte> Magic => "DSCK"u8;
    /// <summary>Bytes before the payload: magic, version, length, digest.</summary>
    private const int HeaderBytes = 4 + 2 + 8 + 32;
    /// <summary>Longest string field (a solver, globalisation or state kind name) in bytes.</summary>
    private const int MaxStringBytes = 256;
    /// <summary>Bytes of one trace row: iteration, loss, ‖∇L‖, step, rows, seconds (f64 / i64), requests, curvature, CG.</summary>
    private const int TraceEntryBytes = 4 + 8 + 8 + 8 + 8 + 8 + 8 + 8 + 4;

    /// <summary>
    /// The checkpoint as the bytes of a checkpoint file. The payload is laid out twice by the same code, first into a
    /// stream that only counts, then straight into the file's one array: a d = 1000 approx-newton checkpoint (two packed
    /// d×d models, 8 MB) allocates 8 MB instead of a growing buffer, its copy and the file (≈ 40 MB of garbage per
    /// iteration, which raised the solve's peak memory).
    /// </summary>
    public static byte[] Write(SolverCheckpoint c)
    {
        byte[]? file = null;
        Write(c, ref file, growthSlack: false);   // without slack the new array is exactly the file
        return file!;
    }

    /// <summary>
    /// As <see cref="Write(SolverCheckpoint)"/>, into <paramref name="buffer"/>: its first bytes (the returned length)
    /// are the file. A buffer too small is replaced by one a quarter larger than needed, so a writer that keeps its
    /// buffer allocates it about once for a whole solve although the trace grows every iteration (at d = 1000 an 8 MB
    /// array per iteration was the solve's largest source of garbage after the preconditioner builds).
    /// </summary>
    public static int Write(SolverCheckpoint c, ref byte[]? buffer) => Write(c, ref buffer, growthSlack: true);

    private static int Write(SolverCheckpoint c, ref byte[]? buffer, bool growthSlack)
    {
        var counter = new ByteCounter();
        WritePayload(c, counter);
        long length = counter.Length;
        if (length > Array.MaxLength - HeaderBytes) throw new ArgumentException($"the checkpoint's payload ({length} bytes) is too large for one file buffer");
        int total = HeaderBytes + (int)length;
        if (buffer is null || buffer.Length < total)
            buffer = new byte[growthSlack ? (int)Math.Min(Array.MaxLength, total + (long)total / 4) : total];
        var file = buffer;
        WritePayload(c, new MemoryStream(file, HeaderBytes, (int)length));
        var body = file.AsSpan(HeaderBytes, (int)length);
        Magic.CopyTo(file);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(4), Version);
        BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(6), length);
        SHA256.HashData(body, file.AsSpan(14, 32));
        return total;
    }

    /// <summary>The payload's fields, in order, to <paramref name="payload"/>.</summary>
    private static void WritePayload(SolverCheckpoint c, Stream payload)
    {
        using var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true);
        WriteString(w, c.Solver);
        WriteString(w, c.Globalization);
        w.Write(c.Dimension);
        w.Write(c.Rows);
        w.Write(c.Iteration);
        WriteArray(w, c.X);
        w.Write(c.Loss);
        WriteArray(w, c.Globals);
        WriteArray(w, c.Gradient);
        WriteArray(w, c.LowRank);
        WriteArray(w, c.Sketch);
        w.Write(c.SketchColumns);
        w.Write(c.GradientNorm);
        w.Write((byte)c.Kind);
        w.Write(c.InitialGradientNorm);
        w.Write(c.StagnationReference);
        w.Write(c.StagnationQuiet);
        w.Write(c.ScheduleCutBacks);
        w.Write(c.Radius);
        w.Write(c.SolverState is not null);
        if (c.SolverState is { } s)
        {
            WriteString(w, s.Kind);
            WriteArray(w, s.Scalars);
            w.Write(s.Arrays.Count);
            foreach (var a in s.Arrays) WriteArray(w, a);
        }
        w.Write(c.Trace.Count);
        foreach (var t in c.Trace)
        {
            w.Write(t.Iteration);
            w.Write(t.Loss);
            w.Write(t.GradientNorm);
            w.Write(t.StepLength);
            w.Write(t.RowsSampled);
            w.Write(t.Seconds);
            w.Write(t.Requests);
            w.Write(t.NegativeCurvature);
            w.Write(t.CgIterations);
        }
        w.Write(c.Requests);
        w.Write(c.Seconds);
    }

    /// <summary>Reads a checkpoint file's bytes; a <see cref="CheckpointFormatException"/> when they are not one.</summary>
    public static SolverCheckpoint Read(ReadOnlySpan<byte> file)
    {
        if (file.Length < HeaderBytes || !file[..4].SequenceEqual(Magic))
            throw new CheckpointFormatException("not a dist-softmax checkpoint (no DSCK header)");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(file[4..]);
        if (version != Version)
            throw new CheckpointFormatException($"checkpoint format version {version} is not supported (this build reads version {Version})");
        long length = BinaryPrimitives.ReadInt64LittleEndian(file[6..]);
        if (length != file.Length - HeaderBytes)
            throw new CheckpointFormatException($"the checkpoint is truncated or has trailing bytes (header says {length} payload bytes, the file has {file.Length - HeaderBytes})");
        var body = file[HeaderBytes..];
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(body, digest);
        if (!digest.SequenceEqual(file.Slice(14, 32)))
            throw new CheckpointFormatException("the checkpoint is corrupted (its SHA-256 digest does not match)");
        var r = new Reader(body);
        var solver = r.String("solver");
        var globalization = r.String("globalization");
        int dimension = r.Int("dimension");
        long rows = r.Long("rows");
        int iteration = r.Int("iteration");
        var x = r.Array("x");
        double loss = r.Double();
        var globals = r.Array("globals");
        var gradient = r.Array("gradient");
        var lowRank = r.Array("low-rank vectors");
        var sketch = r.Array("sketch");
        int sketchColumns = r.Int("sketch columns");
        double gradientNorm = r.Double();
        byte kind = r.Byte();
        if (kind > (byte)HessianKind.GaussNewton) throw new CheckpointFormatException($"the checkpoint names an unknown Hessian kind {kind}");
        double g0 = r.Double();
        double stagnationReference = r.Double();
        int quiet = r.Int("stagnation count");
        int cutBacks = r.Int("schedule cut-backs");
        double radius = r.Double();
        CheckpointState? state = null;
        if (r.Bool("solver state flag"))
        {
            var stateKind = r.String("solver state kind");
            var scalars = r.Array("solver state scalars");
            int count = r.Count("solver state arrays", sizeof(int));
            var arrays = new double[count][];
            for (int i = 0; i < count; i++) arrays[i] = r.Array("solver state array");
            state = new CheckpointState(stateKind, scalars, arrays);
        }
        int traceCount = r.Count("trace", TraceEntryBytes);
        var trace = new TraceEntry[traceCount];
        for (int i = 0; i < traceCount; i++)
            trace[i] = new TraceEntry(r.Int("trace iteration"), r.Double(), r.Double(), r.Double(), r.Long("trace rows"), r.Double(),
                r.Long("trace requests"), r.Double(), r.Int("trace CG iterations"));
        long requests = r.Long("requests");
        double seconds = r.Double();
        if (!r.AtEnd) throw new CheckpointFormatException("the checkpoint has bytes after its last field");
        if (dimension < 1 || rows < 1 || iteration < 0)
            throw new CheckpointFormatException($"the checkpoint's sizes are invalid (d = {dimension}, n = {rows}, iteration {iteration})");
        return new SolverCheckpoint
        {
            Solver = solver, Globalization = globalization, Dimension = dimension, Rows = rows, Iteration = iteration,
            X = x, Loss = loss, Globals = globals, Gradient = gradient, LowRank = lowRank, Sketch = sketch,
            SketchColumns = sketchColumns, GradientNorm = gradientNorm, Kind = (HessianKind)kind, InitialGradientNorm = g0,
            StagnationReference = stagnationReference, StagnationQuiet = quiet, ScheduleCutBacks = cutBacks, Radius = radius,
            SolverState = state, Trace = trace, Requests = requests, Seconds = seconds,
        };
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        if (bytes.Length > MaxStringBytes) throw new ArgumentException($"checkpoint string '{s[..32]}…' is longer than {MaxStringBytes} bytes");
        w.Write(bytes.Length);
        w.Write(bytes);
    }

    private static void WriteArray(BinaryWriter w, double[] a)
    {
        w.Write(a.Length);
        if (BitConverter.IsLittleEndian) w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
        else foreach (double v in a) w.Write(v);
    }

    /// <summary>A write-only stream that counts the bytes written to it (the payload's length before it is laid out).</summary>
    private sealed class ByteCounter : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        private long _length;
        public override void Write(byte[] buffer, int offset, int count) => _length += count;
        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;
        public override void WriteByte(byte value) => _length++;
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>A cursor over the payload that checks every length against the bytes left.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        public readonly bool AtEnd => _at == _data.Length;

        private ReadOnlySpan<byte> Take(int bytes, string what)
        {
            if (bytes < 0 || bytes > _data.Length - _at)
                throw new CheckpointFormatException($"the checkpoint is truncated (reading {what})");
            var s = _data.Slice(_at, bytes);
            _at += bytes;
            return s;
        }

        public byte Byte() => Take(1, "a byte")[0];
        public bool Bool(string what) => Take(1, what)[0] switch
        {
            0 => false,
            1 => true,
            var b => throw new CheckpointFormatException($"the checkpoint's {what} is {b}, not 0 or 1"),
        };
        public int Int(string what) => BinaryPrimitives.ReadInt32LittleEndian(Take(4, what));
        public long Long(string what) => BinaryPrimitives.ReadInt64LittleEndian(Take(8, what));
        public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, "a number"));

        /// <summary>A count of items of at least <paramref name="itemBytes"/> bytes each, checked against the bytes left.</summary>
        public int Count(string what, int itemBytes)
        {
            int n = Int(what);
            if (n < 0 || (long)n * itemBytes > _data.Length - _at)
                throw new CheckpointFormatException($"the checkpoint's {what} count {n} does not fit in the {_data.Length - _at} bytes left");
            return n;
        }

        public string String(string what)
        {
            int n = Int(what);
            if (n < 0 || n > MaxStringBytes) throw new CheckpointFormatException($"the checkpoint's {what} has an invalid length {n}");
            try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Take(n, what)); }
            catch (DecoderFallbackException) { throw new CheckpointFormatException($"the checkpoint's {what} is not UTF-8"); }
        }

        public double[] Array(string what)
        {
            int n = Count(what, sizeof(double));
            var a = new double[n];
            var bytes = Take(n * sizeof(double), what);
            for (int i = 0; i < n; i++) a[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes[(i * sizeof(double))..]);
            return a;
        }
    }
}
