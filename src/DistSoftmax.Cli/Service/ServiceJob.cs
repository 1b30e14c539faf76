using System.Text.Json;
using System.Text.Json.Nodes;
using DistSoftmax.Cli.Solving;
using DistSoftmax.Cluster.Protocol;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// One job of the service in memory: its spec, state and times, the trace so far (each entry the JSON of report.json's
/// trace), the event stream that server-sent-event clients replay and follow, and the owners of its shards. Changed
/// from the job's runner and (shard owners) from coordinator events on an actor thread, read by HTTP handlers: every
/// member is guarded by one lock held only for in-memory updates, never for I/O.
/// </summary>
internal sealed class ServiceJob
{
    private readonly object _gate = new();
    private readonly List<JobEvent> _events = [];
    private readonly List<string> _trace = [];
    private readonly SortedDictionary<int, ShardInfo> _shards = [];
    private readonly Dictionary<string, string> _workerAddresses = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private JsonNode? _lastEntry;

    public string Id { get; }
    /// <summary>The spec as submitted (a JSON object).</summary>
    public string SpecJson { get; }
    /// <summary>The directory the job's files go to (&lt;state-dir&gt;/jobs/&lt;id&gt;).</summary>
    public string OutDir { get; }
    public DateTimeOffset SubmittedAt { get; }
    public string Problem { get; }
    public string Solver { get; }
    /// <summary>The checked solve (null for a job restored from the database that is not run again).</summary>
    public SolvePlan? Plan { get; }
    public CancellationTokenSource Cancellation { get; } = new();

    public JobState State { get; private set; }
    public DateTimeOffset? StartedAt { get; private set; }
    public DateTimeOffset? EndedAt { get; private set; }
    public string? Message { get; private set; }
    public int? ExitCode { get; private set; }
    /// <summary>
    /// The solver's exit condition as report.json spells it ("converged", "max-iterations", "stalled", "diverged",
    /// "cancelled") once the job has ended after its solve ran; null while it runs and for a job that never solved.
    /// </summary>
    public string? Condition { get; private set; }
    /// <summary>Whether DELETE asked for the job to stop (its end is then "cancelled").</summary>
    public bool CancelRequested { get; private set; }

    public ServiceJob(string id, string specJson, string outDir, DateTimeOffset submittedAt, string problem, string solver, SolvePlan? plan)
    {
        Id = id;
        SpecJson = specJson;
        OutDir = outDir;
        SubmittedAt = submittedAt;
        Problem = problem;
        Solver = solver;
        Plan = plan;
        State = JobState.Queued;
        _events.Add(StateEvent(JobState.Queued));
    }

    /// <summary>A job as the database kept it, with its trace and shard owners.</summary>
    public static ServiceJob Restore(StoredJob stored, SolvePlan? plan)
    {
        var job = new ServiceJob(stored.Id, stored.Spec, stored.OutDir, stored.SubmittedAt, stored.Problem, stored.Solver, plan)
        {
            State = stored.State, StartedAt = stored.StartedAt, EndedAt = stored.EndedAt, Message = stored.Message, ExitCode = stored.ExitCode,
            Condition = stored.Condition,
        };
        foreach (var entry in stored.Trace) job.AddIteration(entry);
        foreach (var shard in stored.Shards) job._shards[shard.Index] = shard;
        if (stored.State != JobState.Queued) job.Append(StateEvent(stored.State, stored.Condition));
        return job;
    }

    /// <summary>
    /// Moves the job to <paramref name="state"/>: the start time at running, the end time, message, exit code and the
    /// solver's exit condition (null when no solve ran) at a final state.
    /// </summary>
    public void Transition(JobState state, string? message = null, int? exitCode = null, string? condition = null)
    {
        lock (_gate)
        {
            State = state;
            var now = DateTimeOffset.UtcNow;
            if (state == JobState.Running) StartedAt ??= now; // a resumed job keeps its first start
            if (state.IsFinal())
            {
                EndedAt = now;
                Message = message;
                ExitCode = exitCode;
                Condition = condition;
            }
            Append(StateEvent(state, state.IsFinal() ? condition : null));
        }
    }

    /// <summary>
    /// Stops a running job at its next iteration because the service is stopping, without marking it cancelled: it is
    /// to continue from its checkpoint when the service starts again (<see cref="JobManager.StopAsync"/>).
    /// </summary>
    public void Interrupt()
    {
        lock (_gate)
        {
            if (State.IsFinal()) return;
        }
        Cancellation.Cancel();
    }

    /// <summary>The job was interrupted by the service's stop and stays running in the database (see <see cref="Suspend"/>).</summary>
    public bool Suspended { get; private set; }

    /// <summary>
    /// After <see cref="Interrupt"/>: the job's run has ended without a final state. Its event stream says why
    /// (<paramref name="message"/>, a <c>note</c>) and ends, so followers and the stopping web server do not wait for
    /// a final state this process will not reach.
    /// </summary>
    public void Suspend(string message)
    {
        lock (_gate) Suspended = true;
        AddNote(message);
    }

    /// <summary>Marks the job as asked to stop; true when it had not ended yet.</summary>
    public bool RequestCancel()
    {
        lock (_gate)
        {
            if (State.IsFinal()) return false;
            CancelRequested = true;
        }
        Cancellation.Cancel();
        return true;
    }

    /// <summary>One iteration: <paramref name="entryJson"/> is the trace entry's JSON object, as in report.json.</summary>
    public void AddIteration(string entryJson)
    {
        var node = JsonNode.Parse(entryJson);
        lock (_gate)
        {
            _trace.Add(entryJson);
            _lastEntry = node;
            Append(new JobEvent("iteration", entryJson));
        }
    }

    /// <summary>A line worth showing: a worker joined or was lost, a shard moved.</summary>
    public void AddNote(string message) =>
        Append(new JobEvent("note", JsonSerializer.Serialize(new JsonObject { ["message"] = message })));

    /// <summary>Coordinator events (on an actor thread): who holds which shard.</summary>
    public void OnClusterEvent(SolveEvent e)
    {
        lock (_gate)
        {
            switch (e)
            {
                case WorkerJoined j:
                    _workerAddresses[j.WorkerId] = j.Address;
                    break;
                case ShardAssigned a:
                    _shards[a.ShardIndex] = new ShardInfo(a.ShardIndex, a.Rows.Count, _workerAddresses.GetValueOrDefault(a.WorkerId, a.WorkerId));
                    break;
            }
        }
    }

    public IReadOnlyList<string> Trace() { lock (_gate) return _trace.ToArray(); }

    /// <summary>The iteration number of the last trace entry, −1 before the first.</summary>
    public int LastIteration { get { lock (_gate) return (int?)_lastEntry?["iteration"] ?? -1; } }

    public IReadOnlyList<ShardInfo> Shards() { lock (_gate) return _shards.Values.ToArray(); }

    /// <summary>The last trace entry's value of <paramref name="name"/> ("iteration", "loss", "gradientNorm"), or null.</summary>
    public JsonNode? Latest(string name) { lock (_gate) return _lastEntry?[name]?.DeepClone(); }

    /// <summary>
    /// The events from index <paramref name="from"/> on, and a task that completes at the next event; the stream has
    /// ended when the job's state is final and every event was read.
    /// </summary>
    public (IReadOnlyList<JobEvent> Events, Task Changed, bool Ended) ReadEvents(int from)
    {
        lock (_gate)
        {
            var events = from < _events.Count ? _events.GetRange(from, _events.Count - from) : [];
            return (events, _changed.Task, State.IsFinal() || Suspended);
        }
    }

    private void Append(JobEvent e)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            _events.Add(e);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
    }

    /// <summary>A <c>state</c> event: <c>{"state"}</c>, with <c>"condition"</c> at a final state reached after a solve.</summary>
    private static JobEvent StateEvent(JobState state, string? condition = null)
    {
        var data = new JsonObject { ["state"] = state.Name() };
        if (condition is not null) data["condition"] = condition;
        return new JobEvent("state", JsonSerializer.Serialize(data));
    }
}
