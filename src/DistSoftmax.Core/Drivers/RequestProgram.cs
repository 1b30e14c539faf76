using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Drivers;

/// <summary>
/// A computation written in direct style against an <see cref="IShardEvaluator"/> (the post-solve analysis), run as an
/// <see cref="IRequestProgram"/> so that a coordinator can drive it over its workers' shards. The computation runs on a
/// thread of its own; each of its Evaluate calls hands the request to the driver and waits for the merged reply.
/// Exactly one of the two threads runs at any time — <see cref="Start"/> and <see cref="Submit"/> return only once
/// the computation has asked for its next request or finished — so its work between requests costs the driver's
/// thread what it would cost inline, as a solver's own work does in a coordinator.
/// </summary>
public sealed class RequestProgram<T> : IRequestProgram
{
    private readonly Func<IShardEvaluator, T> _body;
    /// <summary>Turns: the driver releases <see cref="_toProgram"/> and waits on <see cref="_toDriver"/>, and back.</summary>
    private readonly SemaphoreSlim _toProgram = new(0), _toDriver = new(0);
    private Thread? _thread;
    private ShardRequest? _request;
    private ShardReply? _reply;
    private string? _abandoned;
    private volatile bool _finished;
    private T? _result;
    private Exception? _error;

    public RequestProgram(Func<IShardEvaluator, T> body) => _body = body;

    /// <summary>Whether the computation has returned or thrown.</summary>
    public bool Finished => _finished;

    /// <summary>What the computation threw (an <see cref="OperationCanceledException"/> when abandoned), or null.</summary>
    public Exception? Error => _finished ? _error : null;

    /// <summary>What the computation returned.</summary>
    public T Result => _finished && _error is null
        ? _result!
        : throw new InvalidOperationException(_finished ? "the program failed: " + _error!.Message : "the program has not finished");

    public ShardRequest? Start()
    {
        if (_thread is not null || _finished) throw new InvalidOperationException("the program has already started");
        _thread = new Thread(Run) { IsBackground = true, Name = "request-program" };
        _thread.Start();
        _toDriver.Wait();
        return Next();
    }

    public ShardRequest? Submit(ShardReply merged)
    {
        if (_thread is null || _finished) throw new InvalidOperationException("the program is not waiting for a reply");
        _reply = merged;
        _toProgram.Release();
        _toDriver.Wait();
        return Next();
    }

    public void Abandon(string reason)
    {
        if (_finished) return;
        _abandoned = reason;
        if (_thread is null)
        {
            _error = new OperationCanceledException(reason);
            _finished = true;
            return;
        }
        // The computation waits inside Evaluate: it throws there, unwinds and finishes.
        _toProgram.Release();
        _toDriver.Wait();
    }

    private ShardRequest? Next() => _finished ? null : _request;

    private void Run()
    {
        try { _result = _body(new Evaluator(this)); }
        catch (Exception e) { _error = e; }
        _finished = true;
        _toDriver.Release();
    }

    private ShardReply Evaluate(ShardRequest request)
    {
        ThrowIfAbandoned();
        _request = request;
        _toDriver.Release();
        _toProgram.Wait();
        ThrowIfAbandoned();
        return _reply!;
    }

    private void ThrowIfAbandoned()
    {
        if (_abandoned is string reason) throw new OperationCanceledException(reason);
    }

    private sealed class Evaluator(RequestProgram<T> program) : IShardEvaluator
    {
        public ShardReply Evaluate(ShardRequest request) => program.Evaluate(request);
    }
}
