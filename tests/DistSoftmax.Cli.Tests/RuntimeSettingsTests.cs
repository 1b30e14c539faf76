using System.Text.Json;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// The command's runtime settings that only work together (DistSoftmax.Cli.csproj, Directory.Build.props): tier-1
/// recompilation waits past a solve, so methods with loops must be compiled fully optimised at first call. With loops
/// left at tier 0 under the delay a 400000×400 approx-newton solve took 11.8–12.7 s instead of 4.9–6.0 s, and the
/// 200000×100 benchmark 2.3 s instead of 1.2 s (seventeenth session). Read from the command's own
/// dist-softmax.runtimeconfig.json, which the build copies beside the tests.
/// </summary>
public class RuntimeSettingsTests
{
    private static JsonElement ConfigProperties()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "dist-softmax.runtimeconfig.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").Clone();
    }

    [Fact]
    public void Tier_one_waits_only_while_loops_are_compiled_optimised()
    {
        var properties = ConfigProperties();
        Assert.True(properties.GetProperty("System.Runtime.TieredCompilation.CallCountingDelayMs").GetInt32() >= 10_000,
            "tier-1 recompilation should wait past a typical solve");
        Assert.False(properties.GetProperty("System.Runtime.TieredCompilation.QuickJitForLoops").GetBoolean(),
            "with tier 1 delayed, methods with loops must not start at tier 0");
    }
}
