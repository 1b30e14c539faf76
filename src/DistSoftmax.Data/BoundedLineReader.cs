using System.Text;

namespace DistSoftmax.Data;

/// <summary>
/// Reads text lines like <see cref="StreamReader.ReadLine"/> (ending at "\n", "\r\n" or "\r"), but refuses a line longer
/// than <see cref="MaxLineChars"/> with a one-line <see cref="DataFormatException"/> naming the file and the line,
/// instead of growing one string without bound (a text file that is one endless line would otherwise take all memory).
/// </summary>
public sealed class BoundedLineReader : IDisposable
{
    /// <summary>Longest line accepted: 16 Mi characters (a CSV row of a million values at 16 characters each).</summary>
    public const int MaxLineChars = 1 << 24;

    private readonly StreamReader _reader;
    private readonly string _path;
    private readonly char[] _buffer = new char[1 << 16];
    private readonly StringBuilder _line = new();
    private int _start, _end;
    private int _lineNumber;

    internal BoundedLineReader(StreamReader reader, string path)
    {
        _reader = reader;
        _path = path;
    }

    /// <summary>The next line without its terminator, or null at the end of the file.</summary>
    internal string? ReadLine()
    {
        _line.Clear();
        bool any = false;
        while (true)
        {
            if (_start == _end)
            {
                try { _end = _reader.Read(_buffer, 0, _buffer.Length); }
                catch (IOException e) { throw new DataFormatException(_path, $"cannot read: {FileIo.OneLine(e.Message)}", e); }
                _start = 0;
                if (_end == 0) return any ? Finish() : null;
            }
            any = true;
            int i = _start;
            while (i < _end && _buffer[i] != '\n' && _buffer[i] != '\r') i++;
            Append(_start, i - _start);
            if (i == _end) { _start = _end; continue; }
            char terminator = _buffer[i];
            _start = i + 1;
            if (terminator == '\r')
            {
                if (_start == _end)
                {
                    try { _end = _reader.Read(_buffer, 0, _buffer.Length); }
                    catch (IOException e) { throw new DataFormatException(_path, $"cannot read: {FileIo.OneLine(e.Message)}", e); }
                    _start = 0;
                }
                if (_start < _end && _buffer[_start] == '\n') _start++;
            }
            return Finish();
        }
    }

    private void Append(int from, int count)
    {
        if (_line.Length + count > MaxLineChars)
            throw new DataFormatException(_path, $"line {_lineNumber + 1} is longer than {MaxLineChars} characters");
        _line.Append(_buffer, from, count);
    }

    private string Finish()
    {
        _lineNumber++;
        return _line.ToString();
    }

    public void Dispose() => _reader.Dispose();
}
