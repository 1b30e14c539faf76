using System.Collections.Concurrent;

namespace DistSoftmax.Cluster.Worker;

/// <summary>
/// A <see cref="TaskScheduler"/> with a fixed number of dedicated background threads. Shard loads and evaluations
/// are long CPU-bound work items; running them here keeps them off Akka's dispatchers (so remoting, heartbeats
/// and the worker actor itself stay responsive) and off the .NET thread pool's worker threads, which the shards'
/// own <c>Parallel.For</c> row blocks use.
/// </summary>
public sealed class DedicatedThreadScheduler : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> _queue = new();
    private readonly Thread[] _threads;

    public DedicatedThreadScheduler(int threads, string name)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), "at least one thread is needed");
        _threads = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"{name}-{i + 1}" };
            _threads[i].Start();
        }
    }

    public override int MaximumConcurrencyLevel => _threads.Length;

    private void Run()
    {
        foreach (var task in _queue.GetConsumingEnumerable()) TryExecuteTask(task);
    }

    protected override void QueueTask(Task task)
    {
        try { _queue.Add(task); }
        catch (InvalidOperationException)
        {
            // Disposed: the owner is gone. Run the work inline on the pool so the task still completes.
            ThreadPool.UnsafeQueueUserWorkItem(_ => TryExecuteTask(task), null);
        }
    }

    // Never inline: the caller may be an actor thread.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();

    /// <summary>Lets queued work finish, then the threads exit.</summary>
    public void Dispose() => _queue.CompleteAdding();
}
