namespace DistSoftmax.Cli.Commands;

/// <summary>
/// "Did you mean …" for a mistyped option, value or command: the closest candidate by edit distance (insertions,
/// deletions, substitutions and swaps of neighbouring characters, so <c>--sovler</c> is one edit from
/// <c>--solver</c>), offered only when it is close enough to be a typo rather than a different word.
/// </summary>
internal static class Suggestions
{
    /// <summary>
    /// The candidate closest to <paramref name="typed"/> (case-insensitive), or null when none is within
    /// max(1, ⌊length/3⌋) edits of it, or a unique candidate starts with it (an abbreviation of at least 3 characters).
    /// </summary>
    public static string? Closest(string typed, IEnumerable<string> candidates)
    {
        string t = typed.ToLowerInvariant();
        string? best = null;
        int bestDistance = int.MaxValue;
        var prefixed = new List<string>();
        foreach (string candidate in candidates.Distinct())
        {
            string c = candidate.ToLowerInvariant();
            if (c == t) continue;
            if (c.StartsWith(t, StringComparison.Ordinal) && t.TrimStart('-').Length >= 3) prefixed.Add(candidate);
            int d = Distance(t, c);
            if (d < bestDistance) (best, bestDistance) = (candidate, d);
        }
        int allowed = Math.Max(1, t.TrimStart('-').Length / 3);
        if (best is not null && bestDistance <= allowed) return best;
        return prefixed.Count == 1 ? prefixed[0] : null;
    }

    /// <summary>"; did you mean X?" for <see cref="Closest"/>, or the empty string.</summary>
    public static string DidYouMean(string typed, IEnumerable<string> candidates, string quote = "") =>
        Closest(typed, candidates) is { } s ? $"; did you mean {quote}{s}{quote}?" : "";

    /// <summary>Optimal-string-alignment distance: edits, counting a swap of two neighbours as one.</summary>
    internal static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                int v = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) v = Math.Min(v, d[i - 2, j - 2] + 1);
                d[i, j] = v;
            }
        return d[a.Length, b.Length];
    }
}
