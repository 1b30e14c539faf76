using System.Runtime.InteropServices;
using DistSoftmax.Core.Kernels;
using Xunit;

namespace DistSoftmax.Core.Tests;

public unsafe class PopulatedArraysTests
{
    [DllImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static extern int Mincore(nint address, nuint length, byte* residency);

    private const long Page = 4096;

    [Fact]
    public void A_large_array_has_every_page_mapped_before_it_is_written()
    {
        if (!OperatingSystem.IsLinux()) return;
        // 64 MiB: far beyond the runtime's own small-object pages, so untouched memory would show as not resident.
        var array = PopulatedArrays.Uninitialized(8 << 20);
        fixed (double* first = array)
        {
            long start = ((long)first + Page - 1) & ~(Page - 1), end = ((long)first + array.Length * 8L) & ~(Page - 1);
            int pages = (int)((end - start) / Page);
            var residency = new byte[pages];
            fixed (byte* r = residency)
                Assert.Equal(0, Mincore((nint)start, (nuint)(end - start), r));
            int missing = residency.Count(b => (b & 1) == 0);
            Assert.True(missing == 0, $"{missing} of {pages} pages were not mapped");
        }
    }

    [Fact]
    public void Populating_keeps_the_values_and_ignores_small_arrays()
    {
        var large = new double[(int)(PopulatedArrays.MinBytes / sizeof(double)) * 3 + 5];
        for (int i = 0; i < large.Length; i++) large[i] = i * 0.5 - 7;
        PopulatedArrays.Populate(large);
        for (int i = 0; i < large.Length; i++) Assert.Equal(i * 0.5 - 7, large[i]);

        var small = new[] { 1.0, 2.0, 3.0 };
        PopulatedArrays.Populate(small);
        Assert.Equal(new[] { 1.0, 2.0, 3.0 }, small);
        Assert.Empty(PopulatedArrays.Uninitialized(0));
    }
}
