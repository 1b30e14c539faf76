using System.Diagnostics;
using DistSoftmax.Cli.Output;
using DistSoftmax.Core.Solvers.Checkpoints;

namespace DistSoftmax.Cli.Solving;

/// <summary>
/// Writes a solve's checkpoints to <c>DIR/checkpoint.bin</c> (<see cref="CheckpointFormat"/>), atomically (temporary
/// file + rename, <see cref="AtomicFile"/>), on a thread of its own, and before the first one the output directory and
/// <c>checkpoint.json</c> (<see cref="ResumeRecord"/>) — so a solve that never completes an iteration (bad input found
/// late, an unreachable cluster, cancelled at once) leaves nothing behind. <see cref="Offer"/> is the solver's
/// <c>SolverOptions.Checkpoint</c> callback and only swaps in the newest checkpoint, so the solver (a coordinator's actor
/// thread in the cluster) never waits for the disk; the file always holds a whole checkpoint, the newest written.
/// <para>
/// The first checkpoint is written at once, later ones at most once per <see cref="MinimumInterval"/> (the newest offered
/// by then; the ones in between are skipped), so a killed solve loses at most about that much work, and a solve of
/// many short iterations does not pay a flushed write for each. <see cref="CompleteAsync"/> writes the last one only
/// when it is to be kept (a cancelled or failed solve); a finished solve needs none. A failed write is one warning on
/// stderr; the solve goes on. With DISTSOFTMAX_TIMING=1 it reports its cost (<see cref="CostLine"/>).
/// </para>
/// </summary>
internal sealed class CheckpointWriter
{
    public const string FileName = "checkpoint.bin";

    /// <summary>
    /// Least time between two writes. Every write is flushed to disk (8–9 ms on the development machine): one per
    /// iteration was 12 flushed writes in the 0.6 s solve of the README's 200000×100 benchmark (iterations of 20–30 ms),
    /// of which the last was removed again as soon as it was written.
    /// </summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromSeconds(1);

    private readonly string _directory, _path;
    private readonly TimeSpan _interval;
    private readonly ResumeRecord _record;
    private bool _recordWritten;
    private readonly TextWriter _err;
    /// <summary>Guards <see cref="_pending"/>, <see cref="_completing"/> and <see cref="_keepLast"/>; the writer waits on it.</summary>
    private readonly object _gate = new();
    private SolverCheckpoint? _pending;
    private bool _completing, _keepLast;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _warned;
    private long _taken, _written, _writeTicks;
    /// <summary>The encoding buffer, kept from write to write (only the writer thread touches it).</summary>
    private byte[]? _buffer;

    /// <param name="minimumInterval">Least time between two writes; null: <see cref="MinimumInterval"/> (tests use others).</param>
    public CheckpointWriter(string directory, ResumeRecord record, TextWriter err, TimeSpan? minimumInterval = null)
    {
        _directory = directory;
        _interval = minimumInterval ?? MinimumInterval;
        _record = record;
        _path = Path.Combine(directory, FileName);
        _err = err;
        // A dedicated thread, not the pool's: a flushed write blocks for milliseconds, and the shards' row blocks run on
        // the pool.
        new Thread(Loop) { IsBackground = true, Name = "checkpoint writer" }.Start();
    }

    /// <summary>Checkpoints written so far (0: nothing to resume from).</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Hands over the newest checkpoint (returns at once; called on the solver's thread).</summary>
    public void Offer(SolverCheckpoint checkpoint)
    {
        Interlocked.Increment(ref _taken);
        lock (_gate)
        {
            _pending = checkpoint;
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>
    /// Stops the writer once it has written the last pending checkpoint — when <paramref name="keepLast"/> (a solve that
    /// can be resumed); otherwise the pending one is dropped. The first call decides; later calls only wait.
    /// </summary>
    public Task CompleteAsync(bool keepLast)
    {
        lock (_gate)
        {
            if (!_completing) { _completing = true; _keepLast = keepLast; }
            Monitor.Pulse(_gate);
        }
        return _stopped.Task;
    }

    /// <summary>Checkpoints taken, written, and the mean milliseconds to encode and write one (a timing line).</summary>
    public string CostLine(int iterations, double solverSeconds) =>
        $"checkpoints: {Interlocked.Read(ref _taken)} taken, {Interlocked.Read(ref _written)} written, " +
        $"{(_written == 0 ? 0 : Stopwatch.GetElapsedTime(0, _writeTicks).TotalMilliseconds / _written):F3} ms per write (encode + atomic write), " +
        $"{(iterations == 0 ? 0 : solverSeconds * 1e3 / iterations):F3} ms per solver iteration";

    private void Loop()
    {
        try
        {
            long? lastWrite = null;   // Stopwatch timestamp of the last write's start
            while (true)
            {
                var (next, last) = TakeNext(lastWrite);
                if (next is not null)
                {
                    lastWrite = Stopwatch.GetTimestamp();
                    Write(next);
                }
                if (last) break;
            }
            _stopped.SetResult();
        }
        catch (Exception e)
        {
            // Not an I/O failure (Write reports those and goes on): it surfaces where the solve completes the writer.
            _stopped.SetException(e);
        }
    }

    /// <summary>
    /// Waits for what to write next: the newest pending checkpoint once <see cref="_interval"/> has passed since
    /// <paramref name="lastWrite"/> (at once before the first write); once completing, the pending one if it is kept
    /// (else null) and Last = true.
    /// </summary>
    private (SolverCheckpoint? Next, bool Last) TakeNext(long? lastWrite)
    {
        lock (_gate)
        {
            while (true)
            {
                if (_completing)
                {
                    var kept = _keepLast ? _pending : null;
                    _pending = null;
                    return (kept, true);
                }
                if (_pending is not null)
                {
                    var wait = lastWrite is long t ? _interval - Stopwatch.GetElapsedTime(t) : TimeSpan.Zero;
                    if (wait <= TimeSpan.Zero)
                    {
                        var next = _pending;
                        _pending = null;
                        return (next, false);
                    }
                    Monitor.Wait(_gate, wait);
                }
                else Monitor.Wait(_gate);
            }
        }
    }

    private void Write(SolverCheckpoint checkpoint)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            if (!_recordWritten)
            {
                Directory.CreateDirectory(_directory);
                _record.Write(_directory);
                _recordWritten = true;
            }
            int length = CheckpointFormat.Write(checkpoint, ref _buffer);
            AtomicFile.Write(_path, _buffer.AsSpan(0, length));
            Interlocked.Increment(ref _written);
            _writeTicks += Stopwatch.GetTimestamp() - start;
        }
        catch (Exception e) when (e is Data.DataFormatException or IOException or UnauthorizedAccessException)
        {
            if (Interlocked.Exchange(ref _warned, 1) == 0)
                _err.WriteLine("warning: " + ErrorReport.OneLine($"checkpoints are not being written: {e.Message}"));
        }
    }
}
