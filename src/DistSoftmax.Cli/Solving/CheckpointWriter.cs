using System.Diagnostics;
using DistSoftmax.Cli.Output;
using DistSoftmax.Core.Solvers.Checkpoints;

namespace DistSoftmax.Cli.Solving;

/// <summary>
/// Writes a solve's checkpoints to <c>DIR/checkpoint.bin</c> (<see cref="CheckpointFormat"/>), atomically (temporary
/// file + rename, <see cref="AtomicFile"/>), on a thread of its own, and before the first one the output directory and
/// <c>checkpoint.json</c> (<see cref="ResumeRecord"/>) — so a solve that never completes an iteration (bad input found
/// late, an unreachable cluster, cancelled at once) leaves nothing behind: <see cref="Offer"/> is the solver's
/// <c>SolverOptions.Checkpoint</c> callback and only swaps in the newest checkpoint, so the solver (a coordinator's actor
/// thread in the cluster) never waits for the disk. When writing falls behind, the older pending checkpoint is
/// skipped: the file always holds a whole checkpoint, the newest written. A failed write is one warning on stderr; the
/// solve goes on. With DISTSOFTMAX_TIMING=1 it reports its cost (<see cref="CostLine"/>).
/// </summary>
internal sealed class CheckpointWriter
{
    public const string FileName = "checkpoint.bin";

    private readonly string _directory, _path;
    private readonly ResumeRecord _record;
    private bool _recordWritten;
    private readonly TextWriter _err;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly Task _loop;
    private SolverCheckpoint? _pending;
    private volatile bool _completing;
    private int _warned;
    private long _taken, _written, _writeTicks;
    /// <summary>The encoding buffer, kept from write to write (only the writer thread touches it).</summary>
    private byte[]? _buffer;

    public CheckpointWriter(string directory, ResumeRecord record, TextWriter err)
    {
        _directory = directory;
        _record = record;
        _path = Path.Combine(directory, FileName);
        _err = err;
        _loop = Task.Factory.StartNew(Loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Checkpoints written so far (0: nothing to resume from).</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Hands over the newest checkpoint (returns at once; called on the solver's thread).</summary>
    public void Offer(SolverCheckpoint checkpoint)
    {
        Interlocked.Increment(ref _taken);
        Interlocked.Exchange(ref _pending, checkpoint);
        if (_signal.CurrentCount == 0) try { _signal.Release(); } catch (SemaphoreFullException) { }
    }

    /// <summary>Writes the last pending checkpoint, if any, and stops the writer thread.</summary>
    public async Task CompleteAsync()
    {
        _completing = true;
        if (_signal.CurrentCount == 0) try { _signal.Release(); } catch (SemaphoreFullException) { }
        await _loop.ConfigureAwait(false);
    }

    /// <summary>Checkpoints taken, written, and the mean milliseconds to encode and write one (a timing line).</summary>
    public string CostLine(int iterations, double solverSeconds) =>
        $"checkpoints: {Interlocked.Read(ref _taken)} taken, {Interlocked.Read(ref _written)} written, " +
        $"{(_written == 0 ? 0 : Stopwatch.GetElapsedTime(0, _writeTicks).TotalMilliseconds / _written):F3} ms per write (encode + atomic write), " +
        $"{(iterations == 0 ? 0 : solverSeconds * 1e3 / iterations):F3} ms per solver iteration";

    private async Task Loop()
    {
        while (true)
        {
            await _signal.WaitAsync().ConfigureAwait(false);
            var checkpoint = Interlocked.Exchange(ref _pending, null);
            if (checkpoint is not null) Write(checkpoint);
            if (_completing && Volatile.Read(ref _pending) is null) return;
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
