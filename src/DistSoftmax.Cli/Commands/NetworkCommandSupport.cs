using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using DistSoftmax.Core.Linear;
using DistSoftmax.Data;

namespace DistSoftmax.Cli.Commands;

/// <summary>Helpers shared by the train, diffusion and sensitivity commands (option validation, files, JSON).</summary>
internal static class NetworkCommandSupport
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>Reads an n×k matrix, accepting a 1-D array (or CSV column) as n×1.</summary>
    public static DenseMatrix ReadMatrixOrColumn(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
        try { return MatrixFile.ReadDense(path); }
        catch (DataFormatException)
        {
            var v = MatrixFile.ReadVector(path);
            return new DenseMatrix(v.Length, 1, v);
        }
    }

    public static void WriteJson(string path, object value)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(value, Json));
        File.Move(tmp, path, overwrite: true);
    }

    public static Option<T> Positive<T>(this Option<T> option) where T : IComparable<T>
    {
        option.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<T>();
            if (v is not null && v.CompareTo(default!) <= 0) r.AddError($"{option.Name} must be > 0 (got {v})");
        });
        return option;
    }

    public static Option<T> NonNegative<T>(this Option<T> option) where T : IComparable<T>
    {
        option.Validators.Add(r =>
        {
            var v = r.GetValueOrDefault<T>();
            if (v is not null && v.CompareTo(default!) < 0) r.AddError($"{option.Name} must be ≥ 0 (got {v})");
        });
        return option;
    }

    public static Option<string> OneOf(this Option<string> option, params string[] allowed)
    {
        option.AcceptOnlyFromAmong(allowed);
        return option;
    }

    /// <summary>Runs a command body, turning argument and data errors into one red line and exit code 2.</summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try { return await body(); }
        catch (Exception e) when (e is ArgumentException or DataFormatException or FileNotFoundException or DirectoryNotFoundException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
    }

    public static string Percent(double v) => double.IsFinite(v) ? $"{100 * v:F1} %" : v.ToString();
}
