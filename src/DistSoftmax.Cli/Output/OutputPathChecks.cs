namespace DistSoftmax.Cli.Output;

/// <summary>
/// The checks every command makes of its output paths before any work (solve's planner, train, diffusion): the output
/// directory can be created (it is no file, nor below one), and no output path names an input file.
/// </summary>
internal static class OutputPathChecks
{
    /// <summary>Refuses (--out-dir) a directory <paramref name="full"/> that is a file or would have to be created below one.</summary>
    public static void RequireCreatableDirectory(string full)
    {
        if (File.Exists(full)) throw new CliInputException("--out-dir", $"{full} is a file, not a directory");
        for (string? parent = Path.GetDirectoryName(full); parent is not null && !Directory.Exists(parent); parent = Path.GetDirectoryName(parent))
            if (File.Exists(parent)) throw new CliInputException("--out-dir", $"cannot create {full}: {parent} is a file, not a directory");
    }

    /// <summary>Refuses (--out-dir) an output <paramref name="path"/> that is one of the <paramref name="inputs"/> (null paths skipped).</summary>
    public static void RequireNotAnInput(string path, IEnumerable<(string Option, string? Path)> inputs)
    {
        foreach (var (option, input) in inputs)
            if (input is not null && SamePath(path, input))
                throw new CliInputException("--out-dir", $"writing {path} would overwrite the input file given by {option}; choose another --out-dir");
    }

    /// <summary>Whether two paths name the same file (after making them absolute and following symbolic links).</summary>
    public static bool SamePath(string a, string b)
    {
        var cmp = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return string.Equals(Canonical(a), Canonical(b), cmp) || string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), cmp);
    }

    private static string Canonical(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            // Only an existing file can be a link to an input (File.Exists follows links); resolving a missing one throws,
            // and most of the outputs checked do not exist yet.
            var target = File.Exists(full) ? new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) : null;
            if (target is not null) return target.FullName;
            // A link in a parent directory: resolve the directory and keep the file name.
            string? dir = Path.GetDirectoryName(full);
            if (dir is not null && Directory.Exists(dir) &&
                new DirectoryInfo(dir).ResolveLinkTarget(returnFinalTarget: true) is { } dirTarget)
                return Path.Combine(dirTarget.FullName, Path.GetFileName(full));
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return full;
    }
}
