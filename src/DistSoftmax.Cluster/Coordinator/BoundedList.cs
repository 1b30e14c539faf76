namespace DistSoftmax.Cluster.Coordinator;

/// <summary>
/// Shard indices or worker names as a message shows them: all of them up to <see cref="MostListed"/>, beyond that the
/// first <see cref="MostListed"/> and "and N more". A solve has up to 1024 shards (and as many workers), and a message
/// listing every one of them (a service job's end message, a warning line) buries the reason it carries.
/// </summary>
internal static class BoundedList
{
    /// <summary>Most items a message lists one by one.</summary>
    public const int MostListed = 8;

    /// <summary>"0, 1, 2" or "0, 1, 2, 3, 4, 5, 6, 7 and 1016 more", in the order given.</summary>
    public static string Describe<T>(IEnumerable<T> items)
    {
        var all = items.ToList();
        string listed = string.Join(", ", all.Take(MostListed));
        return all.Count <= MostListed ? listed : $"{listed} and {all.Count - MostListed} more";
    }
}
