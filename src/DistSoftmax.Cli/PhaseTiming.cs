using System.Diagnostics;

namespace DistSoftmax.Cli;

/// <summary>
/// With <c>DISTSOFTMAX_TIMING=1</c>, one stderr line per phase of a command, <c>timing: MS ms PHASE</c>, in milliseconds
/// since the process started (runtime start-up included), with the managed heap (live objects), the bytes allocated so far,
/// the GC counts of generations 0/1/2, the GC's committed memory, the resident set, and the methods the JIT has compiled
/// so far with the time it spent on them (all threads) at that moment:
/// what the process does before and after the solve, for work on the start-up time and the peak memory. Off (and free)
/// otherwise.
/// </summary>
internal static class PhaseTiming
{
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("DISTSOFTMAX_TIMING") == "1";

    /// <summary>Writes the time since the process started and <paramref name="phase"/> when timing is on.</summary>
    public static void Mark(string phase)
    {
        if (!Enabled) return;
        using var process = Process.GetCurrentProcess();
        double ms = (DateTime.Now - process.StartTime).TotalMilliseconds;
        long committed = GC.GetGCMemoryInfo().TotalCommittedBytes;
        Console.Error.WriteLine($"timing: {ms,7:F0} ms {phase} (heap {GC.GetTotalMemory(false) >> 20} MiB, allocated {GC.GetTotalAllocatedBytes() >> 20} MiB, GCs {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}, GC committed {committed >> 20} MiB, resident {process.WorkingSet64 >> 20} MiB, JIT {System.Runtime.JitInfo.GetCompiledMethodCount()} methods in {System.Runtime.JitInfo.GetCompilationTime().TotalMilliseconds:F0} ms)");
    }
}
