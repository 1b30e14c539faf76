using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using DistSoftmax.Cli.Commands;
using DistSoftmax.Cli.Solving;
using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Data;
using DistSoftmax.Data.Sources;
using DistSoftmax.Core.Shards;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// The service's jobs: submission (the spec checked by the solve command's own parser and planner, so a bad spec gets
/// the command line's message), a FIFO queue with at most <see cref="ServiceOptions.MaxJobs"/> jobs running, each run
/// through the solve pipeline (<see cref="SolveRunner"/> with <c>--progress json</c> into a captured writer whose lines
/// become the job's trace and notes) on the backend <paramref name="backendFor"/> gives, cancellation, and the records
/// in the <see cref="JobStore"/>.
/// </summary>
internal sealed class JobManager(ServiceOptions options, JobStore store, ServiceMetrics metrics, Func<ServiceJob, ISolveBackend> backendFor)
{
    /// <summary>The note that ends the event stream of a job interrupted by the service's stop.</summary>
    public const string SuspendedMessage = "the service stopped: the job continues from its last checkpoint when the service starts again";

    /// <summary>The message of a job found running when the service started that cannot be resumed.</summary>
    public const string InterruptedMessage = "the service stopped while this job was running, and it cannot be resumed";

    private readonly object _gate = new();
    private readonly Dictionary<string, ServiceJob> _jobs = new(StringComparer.Ordinal);
    private readonly List<ServiceJob> _order = [];
    private readonly LinkedList<ServiceJob> _queue = new();
    private readonly List<Task> _runs = [];
    private int _running;
    private volatile bool _stopping;   // StopAsync: runs that end now were interrupted, not finished

    /// <summary>
    /// Loads the database's jobs: finished ones as they are, queued ones checked again and queued, and running ones
    /// (the service's process ended mid-solve) checked again and queued first, to continue from the last checkpoint in
    /// their directory (the solve's checkpoint.bin, <see cref="ResumeRecord"/>; from the start when there is none yet),
    /// or failed with <see cref="InterruptedMessage"/> and the reason when that is not possible.
    /// </summary>
    public void Restore()
    {
        foreach (var stored in store.LoadAll())
        {
            ServiceJob job;
            switch (stored.State)
            {
                case JobState.Queued:
                    SolvePlan? plan = null;
                    string? failure = null;
                    try { plan = PlanAsync(stored.Spec, stored.OutDir, CancellationToken.None).GetAwaiter().GetResult(); }
                    catch (JobRejectedException e) { failure = e.Message; }
                    job = ServiceJob.Restore(stored, plan);
                    if (failure is not null)
                    {
                        job.Transition(JobState.Failed, "checked again when the service restarted: " + failure, ExitCodes.BadInput);
                        store.Update(job);
                    }
                    break;
                case JobState.Running:
                    job = Resume(stored);
                    break;
                default:
                    job = ServiceJob.Restore(stored, null);
                    break;
            }
            lock (_gate)
            {
                _jobs[job.Id] = job;
                _order.Add(job);
                if (job.State == JobState.Queued)
                {
                    // Interrupted jobs first: they had started before any job that was still waiting.
                    if (stored.State == JobState.Running) _queue.AddFirst(job);
                    else _queue.AddLast(job);
                }
            }
        }
        Dispatch();
    }

    /// <summary>A job that was running when the service stopped, made ready to continue from its last checkpoint.</summary>
    private ServiceJob Resume(StoredJob stored)
    {
        SolvePlan? plan = null;
        SolverCheckpoint? checkpoint = null;
        string? failure = null;
        try
        {
            checkpoint = ResumeRecord.ReadCheckpoint(stored.OutDir);
            var checkedPlan = PlanAsync(stored.Spec, stored.OutDir, CancellationToken.None).GetAwaiter().GetResult();
            plan = checkedPlan with { Settings = checkedPlan.Settings with { ResumeFrom = checkpoint } };
        }
        catch (Exception e) when (e is JobRejectedException or CliInputException)
        {
            failure = e.Message;
        }
        if (plan is null)
        {
            var failed = ServiceJob.Restore(stored, null);
            failed.Transition(JobState.Failed, $"{InterruptedMessage}: {failure}", ExitCodes.Internal);
            store.Update(failed);
            return failed;
        }
        // The trace up to the checkpoint stays; the iterations after it are done again.
        int keep = checkpoint is null ? 0 : Math.Min(stored.Trace.Count, checkpoint.Iteration + 1);
        store.TruncateTrace(stored.Id, keep);
        var job = ServiceJob.Restore(stored with { Trace = stored.Trace.Take(keep).ToArray() }, plan);
        job.AddNote(checkpoint is null
            ? "the service restarted: the job starts again (it had no checkpoint yet)"
            : string.Create(CultureInfo.InvariantCulture, $"the service restarted: the job continues from its checkpoint after iteration {checkpoint.Iteration}"));
        job.Transition(JobState.Queued);
        store.Update(job);
        return job;
    }

    /// <summary>
    /// Checks and queues a job. Throws <see cref="JobRejectedException"/>: 400 with the command line's one-line message
    /// for a bad spec, 503 when <see cref="ServiceOptions.MaxQueued"/> jobs already wait.
    /// </summary>
    public async Task<ServiceJob> SubmitAsync(string specJson, CancellationToken ct)
    {
        try
        {
            lock (_gate)
                if (_queue.Count >= options.MaxQueued)
                    throw new JobRejectedException(JobRejectedException.QueueFull,
                        $"the queue is full ({options.MaxQueued} jobs waiting; serve --max-queued); try again later");
            string id = Guid.NewGuid().ToString("N")[..12];
            string outDir = Path.Combine(options.StateDirectory, "jobs", id);
            var plan = await PlanAsync(specJson, outDir, ct).ConfigureAwait(false);
            var job = new ServiceJob(id, NormalisedSpec(specJson), outDir, DateTimeOffset.UtcNow, plan.Problem, plan.Solver, plan);
            store.Insert(job);
            lock (_gate)
            {
                _jobs[id] = job;
                _order.Add(job);
                _queue.AddLast(job);
            }
            metrics.Submitted();
            Dispatch();
            return job;
        }
        catch (JobRejectedException)
        {
            metrics.Rejected();
            throw;
        }
    }

    public ServiceJob? Get(string id)
    {
        lock (_gate) return _jobs.GetValueOrDefault(id);
    }

    /// <summary>Every job, in submission order.</summary>
    public IReadOnlyList<ServiceJob> All()
    {
        lock (_gate) return _order.ToArray();
    }

    public (int Queued, int Running) Counts()
    {
        lock (_gate) return (_queue.Count, _running);
    }

    /// <summary>
    /// Cancels a job: a queued one ends at once, a running one stops at its next iteration boundary (its files are still
    /// written); an ended one is left as it is. Null for an unknown id.
    /// </summary>
    public ServiceJob? Cancel(string id)
    {
        ServiceJob? job;
        bool wasQueued;
        lock (_gate)
        {
            job = _jobs.GetValueOrDefault(id);
            if (job is null) return null;
            wasQueued = _queue.Remove(job);
        }
        if (!job.RequestCancel()) return job;
        if (wasQueued)
        {
            job.Transition(JobState.Cancelled, "cancelled before it started", null);
            store.Update(job);
        }
        return job;
    }

    /// <summary>
    /// The service is stopping (SIGTERM, Ctrl+C): every running job stops at its next iteration, keeping its checkpoint,
    /// and stays running in the database, so that the next start continues it from there (<see cref="Restore"/>, as
    /// after a crash); queued jobs stay queued. Waits for the runs to end.
    /// </summary>
    public async Task StopAsync()
    {
        Task[] runs;
        lock (_gate)
        {
            _stopping = true;
            _queue.Clear();
            runs = _runs.ToArray();
        }
        foreach (var job in All().Where(j => j.State == JobState.Running)) job.Interrupt();
        await Task.WhenAll(runs).ConfigureAwait(false);
    }

    /// <summary>The spec, checked: the solve command's parser, then its planner (every input read and checked).</summary>
    private async Task<SolvePlan> PlanAsync(string specJson, string outDir, CancellationToken ct)
    {
        var ctx = new CliContext(TextWriter.Null, TextWriter.Null, options.WorkingDirectory);
        try
        {
            JsonElement spec;
            try
            {
                using var document = JsonDocument.Parse(specJson);
                spec = document.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new CliInputException("job spec", $"not JSON: {e.Message}");
            }
            JobSpec.CheckInputs(spec, options.WorkingDirectory, options.InputPolicy);
            string[] arguments = [.. JobSpec.ToArguments(spec), $"--out-dir={outDir}", "--progress=json"];
            var settings = SolveCommand.ParseSettings(arguments, ctx);
            // A job runs on the service's cluster: without "workers" it takes a cluster job's shards, not this machine's cores.
            settings = settings with { Workers = settings.Workers ?? ShardLayout.MostDefaultShards };
            return await Task.Run(() => SolvePlanner.Plan(settings, ctx, new DataShardLoader()), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is CliInputException or DataFormatException or ArgumentException)
        {
            throw new JobRejectedException(JobRejectedException.BadSpec, OneLineMessage(e, validating: true));
        }
    }

    /// <summary>The command line's one-line message for <paramref name="e"/> (without "error: ").</summary>
    private static string OneLineMessage(Exception e, bool validating)
    {
        var err = new StringWriter();
        ErrorReport.Write(new CliContext(TextWriter.Null, err), e, validating);
        string first = err.ToString().Split('\n')[0].TrimEnd('\r');
        return first.StartsWith("error: ", StringComparison.Ordinal) ? first["error: ".Length..] : first;
    }

    private static string NormalisedSpec(string specJson)
    {
        using var document = JsonDocument.Parse(specJson);
        return document.RootElement.GetRawText();
    }

    private void Dispatch()
    {
        var start = new List<ServiceJob>();
        lock (_gate)
        {
            while (_running < options.MaxJobs && _queue.First is { } first)
            {
                _queue.RemoveFirst();
                _running++;
                start.Add(first.Value);
            }
            foreach (var job in start)
            {
                var run = Task.Run(() => RunAsync(job));
                _runs.Add(run);
                _ = run.ContinueWith(t => { lock (_gate) _runs.Remove(t); }, TaskScheduler.Default);
            }
        }
    }

    private async Task RunAsync(ServiceJob job)
    {
        try
        {
            if (job.Plan is null)
            {
                job.Transition(JobState.Failed, "the job has no checked spec to run", ExitCodes.Internal);
                store.Update(job);
                return;
            }
            if (job.Cancellation.IsCancellationRequested)
            {
                job.Transition(JobState.Cancelled, "cancelled before it started", null);
                store.Update(job);
                return;
            }
            job.Transition(JobState.Running);
            store.Update(job);
            var lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
            var progress = new ProgressState { Entries = job.Trace().Count };
            var pump = Task.Run(async () =>
            {
                await foreach (string line in lines.Reader.ReadAllAsync().ConfigureAwait(false)) Handle(job, line, progress);
            });
            var err = new StringWriter();
            var ctx = new CliContext(new LineWriter(line => lines.Writer.TryWrite(line)), TextWriter.Synchronized(err),
                options.WorkingDirectory, interactive: false, job.Cancellation.Token);
            int code;
            try { code = await new SolveRunner(ctx, _ => backendFor(job)).RunAsync(job.Plan.Settings, job.Plan).ConfigureAwait(false); }
            catch (Exception e) { code = ErrorReport.Write(ctx, e, validating: false); }
            lines.Writer.TryComplete();
            await pump.ConfigureAwait(false);

            if (_stopping && !job.CancelRequested && code != ExitCodes.Ok && progress.Condition is null or "cancelled")
            {
                // Interrupted by the service's stop: the record stays running, and the next start resumes the job.
                job.Suspend(SuspendedMessage);
                return;
            }
            job.Transition(EndState(job.CancelRequested, code, progress.Condition), EndMessage(code, err.ToString(), progress.FinishedMessage),
                code, progress.Condition);
            store.Update(job);
        }
        catch (Exception e)
        {
            // The store or the runner itself failed: the job still ends, with the reason.
            if (!job.State.IsFinal()) job.Transition(JobState.Failed, OneLineMessage(e, validating: false), ExitCodes.Internal);
            try { store.Update(job); } catch (Exception) { /* the database is what failed; the job's state is in memory */ }
        }
        finally
        {
            lock (_gate) _running--;
            Dispatch();
        }
    }

    /// <summary>
    /// A job's final state from how its solve ended: <c>cancelled</c> when DELETE asked for it, <c>succeeded</c> at exit 0,
    /// <c>stopped</c> at exit 3 after a solve that ran and ended short of the tolerance (<paramref name="condition"/>
    /// max-iterations, stalled or diverged: the files are written, as the command line's "stopped without meeting the
    /// tolerance"), and <c>failed</c> otherwise (the job could not be carried out).
    /// </summary>
    internal static JobState EndState(bool cancelRequested, int code, string? condition)
    {
        if (cancelRequested) return JobState.Cancelled;
        if (code == ExitCodes.Ok) return JobState.Succeeded;
        if (code == ExitCodes.NotConverged && condition is "max-iterations" or "stalled" or "diverged") return JobState.Stopped;
        return JobState.Failed;
    }

    /// <summary>What the pump has seen of one job's progress lines.</summary>
    private sealed class ProgressState
    {
        public int Entries;
        public double? LastSeconds;
        public string? FinishedMessage;
        /// <summary>The finished line's solver exit condition (report.json's "exit"); null when the solve never ran.</summary>
        public string? Condition;
    }

    /// <summary>One line of the job's --progress json stdout: an iteration, a cluster note or the finish.</summary>
    private void Handle(ServiceJob job, string line, ProgressState progress)
    {
        if (JsonNode.Parse(line) is not JsonObject node) return;
        switch ((string?)node["event"])
        {
            case "iteration":
                // A resumed solve continues after its checkpoint's iteration; anything the job already has is not repeated.
                if ((int?)node["iteration"] is int iteration && iteration <= job.LastIteration) break;
                node.Remove("event");
                string entry = node.ToJsonString();
                job.AddIteration(entry);
                store.AddTrace(job.Id, progress.Entries, entry);
                double? seconds = node["seconds"] is JsonValue v && v.TryGetValue(out double s) ? s : null;
                metrics.Step(progress.Entries == 0 || seconds is null || progress.LastSeconds is null ? null : seconds - progress.LastSeconds);
                progress.LastSeconds = seconds;
                if (progress.Entries++ == 0) store.Update(job); // the shard owners are known by the first iteration
                break;
            case "cluster":
                job.AddNote((string?)node["message"] ?? "");
                break;
            case "finished":
                progress.FinishedMessage = (string?)node["message"];
                progress.Condition = (string?)node["condition"];
                break;
        }
    }

    /// <summary>A job's end in one line: the error the command printed, or why it stopped, or the solver's message.</summary>
    private static string EndMessage(int code, string err, string? finished)
    {
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (code != ExitCodes.Ok && lines.LastOrDefault(l => l.StartsWith("error: ", StringComparison.Ordinal)) is { } error)
            return error["error: ".Length..];
        if (code != ExitCodes.Ok && lines.LastOrDefault(l => l.StartsWith("dist-softmax: ", StringComparison.Ordinal)) is { } stop)
            return stop["dist-softmax: ".Length..];
        return finished ?? string.Create(CultureInfo.InvariantCulture, $"exit code {code}");
    }
}
