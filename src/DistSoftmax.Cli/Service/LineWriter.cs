using System.Text;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// A <see cref="TextWriter"/> that hands every complete line to <paramref name="line"/> (which must not block: it is
/// called on whatever thread writes, an actor thread for progress lines). A job's <c>--progress json</c> stdout.
/// </summary>
internal sealed class LineWriter(Action<string> line) : TextWriter
{
    private readonly StringBuilder _pending = new();

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        string? complete = null;
        lock (_pending)
        {
            if (value == '\n')
            {
                complete = _pending.ToString().TrimEnd('\r');
                _pending.Clear();
            }
            else _pending.Append(value);
        }
        if (complete is not null) line(complete);
    }

    public override void Write(string? value)
    {
        if (value is null) return;
        foreach (char c in value) Write(c);
    }
}
