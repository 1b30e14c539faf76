using DistSoftmax.Core.Problems;
using DistSoftmax.Data;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// A generated instance's folder (generate --out-dir, a sweep's instances/KEY/): the data files
/// (<see cref="Generators.WriteVectorInstance"/>, <see cref="Generators.WriteMatrixInstance"/>) and
/// <see cref="Manifest"/>, a dist-softmax report of command "generate" whose "files" lists them. The manifest is how a
/// later generate into the folder knows those files are its own to replace (<see cref="OutputOwnership"/>); any other
/// file under an instance file's name is the user's and refused.
/// </summary>
internal static class InstanceFiles
{
    public const string Manifest = "generate.json";

    /// <summary>The files a vector instance writes or removes as stale (A of the other format, an unknown x_true).</summary>
    private static readonly string[] VectorNames = [Generators.AFileDense, Generators.AFileSparse, Generators.BFile, Generators.XTrueFile, Manifest];

    /// <summary>The files a matrix instance writes or removes as stale (an unknown X_true).</summary>
    private static readonly string[] MatrixNames = [Generators.A1File, Generators.A2File, Generators.BMatrixFile, Generators.XTrueMatrixFile, Manifest];

    /// <summary>Refuses (exit 2, naming the file) a file of the user's that writing a vector or matrix instance into <paramref name="directory"/> would replace or remove.</summary>
    public static void RequireReplaceable(string directory, bool matrix) =>
        OutputOwnership.RequireListed(directory, Manifest, matrix ? MatrixNames : VectorNames, "generate");

    /// <summary>
    /// Writes <paramref name="instance"/> into <paramref name="directory"/> (created if needed), removes the data files of
    /// an earlier instance there that its manifest listed and this one did not write (a matrix instance's over a vector
    /// one's: until the twenty-seventh session both stayed, and the new manifest claimed all of them under the new
    /// arguments; QA audit), then writes the manifest listing the files written. Returns the data files' paths. Call
    /// <see cref="RequireReplaceable"/> first.
    /// </summary>
    /// <param name="arguments">The command line that asked for it, for the manifest.</param>
    public static IReadOnlyList<string> Write(string directory, object instance, IReadOnlyList<string> arguments)
    {
        string manifest = Path.Combine(directory, Manifest);
        var earlier = OutputOwnership.Listed(manifest, "generate");
        var written = instance switch
        {
            VectorInstance v => Generators.WriteVectorInstance(directory, v),
            MatrixInstance m => Generators.WriteMatrixInstance(directory, m),
            _ => throw new InvalidOperationException($"unexpected instance type {instance.GetType().Name}"),
        };
        var writtenNames = written.Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        foreach (var name in earlier)
        {
            // Only an instance's own names: the manifest lists nothing else, and nothing else is removed on its word.
            if (name == Manifest || writtenNames.Contains(name) || !(VectorNames.Contains(name) || MatrixNames.Contains(name))) continue;
            string stale = Path.Combine(directory, name);
            if (File.Exists(stale)) File.Delete(stale);
        }
        var files = written.Append(manifest).ToArray();
        ReportEnvelope.Write(manifest, "generate", arguments, new { Files = files });
        return written;
    }
}
