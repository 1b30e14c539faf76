using System.Runtime.InteropServices;

namespace DistSoftmax.Cli;

/// <summary>
/// Runs a warm-up (first use of the plot engine, the summary's table layout) on a thread of its own at the lowest CPU
/// priority (nice 19 on Linux, the thread alone), so that it takes only CPU the solve leaves idle. A small solve leaves
/// most of it idle and the warm-up is done by the time its output is drawn; a large one keeps both cores busy, and a
/// warm-up at normal priority then took that CPU from the solve's workers: on the 200000×100 benchmark the whole process
/// took 1.28–1.58 s (mean 1.41) with the warm-ups against 1.18–1.38 s (mean 1.30) without them, six alternated runs.
/// Failures are the warm-up's to swallow; the task completes either way.
/// </summary>
internal static class IdleWarmUp
{
    /// <summary>The nice value of a warm-up thread: the lowest priority a process may give itself.</summary>
    private const int LowestPriority = 19;

    private const int PrioProcess = 0;   // PRIO_PROCESS: with a thread id, that thread alone (Linux)

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();

    [DllImport("libc", EntryPoint = "setpriority")]
    private static extern int SetPriority(int which, int who, int priority);

    public static Task Run(Action warmUp)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                LowerOwnPriority();
                warmUp();
            }
            catch (Exception) { /* the real use will fail the same way and say why */ }
            finally { done.SetResult(); }
        })
        { IsBackground = true, Name = "idle warm-up" };
        thread.Start();
        return done.Task;
    }

    /// <summary>Sets the calling thread's nice value to <see cref="LowestPriority"/> (Linux; elsewhere nothing changes).</summary>
    private static void LowerOwnPriority()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { SetPriority(PrioProcess, GetThreadId(), LowestPriority); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
    }
}
