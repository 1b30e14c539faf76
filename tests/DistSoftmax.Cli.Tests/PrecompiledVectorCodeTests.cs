using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using Xunit;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// Vector&lt;T&gt;'s width is decided when the process starts, so ReadyToRun code (the installed tool) cannot inline its
/// members: every `new Vector&lt;double&gt;(span)` in a precompiled loop became a call into unoptimised runtime code, and
/// the check of A ran at about 1 GB/s. Each method of ours that uses Vector&lt;T&gt; is therefore marked
/// AggressiveOptimization (never precompiled, compiled fully at first call). This test reads every method's IL and
/// names those that call into Vector&lt;T&gt; or System.Numerics.Vector without the mark.
/// </summary>
public sealed class PrecompiledVectorCodeTests
{
    private static readonly Assembly[] Ours =
    [
        typeof(DistSoftmax.Core.NumericLimits).Assembly,        // DistSoftmax.Core
        typeof(DistSoftmax.Data.DataFormatException).Assembly,   // DistSoftmax.Data
        typeof(DistSoftmax.Cluster.Worker.WorkerActor).Assembly, // DistSoftmax.Cluster
        typeof(DistSoftmax.SoftmaxRegression).Assembly,          // DistSoftmax
        typeof(DistSoftmax.Cli.Solving.SolveRunner).Assembly,    // dist-softmax
    ];

    [Fact]
    public void Every_method_that_uses_Vector_of_T_is_compiled_at_first_call_rather_than_precompiled()
    {
        var unmarked = new List<string>();
        int users = 0;
        foreach (var assembly in Ours)
        foreach (var type in assembly.GetTypes())
        foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                     .Cast<MethodBase>().Concat(type.GetConstructors(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly)))
        {
            if (!UsesVectorOfT(method)) continue;
            users++;
            if ((method.MethodImplementationFlags & MethodImplAttributes.AggressiveOptimization) == 0)
                unmarked.Add($"{type.FullName}.{method.Name}");
        }
        Assert.True(users >= 4, $"the scan found only {users} methods using Vector<T>: the IL reader no longer sees them");
        Assert.True(unmarked.Count == 0, "uses Vector<T> without [MethodImpl(MethodImplOptions.AggressiveOptimization)]: " + string.Join(", ", unmarked));
    }

    /// <summary>Whether the method's IL calls, constructs or loads a member of System.Numerics.Vector&lt;T&gt; or Vector.</summary>
    private static bool UsesVectorOfT(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception) { return false; }
        if (il is null) return false;
        var module = method.Module;
        Type[]? typeArgs = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        Type[]? methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (int i = 0; i < il.Length;)
        {
            var op = ReadOpCode(il, ref i);
            if (op.OperandType is OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType)
            {
                int token = BitConverter.ToInt32(il, i);
                if (IsVectorMember(module, token, typeArgs, methodArgs)) return true;
            }
            i += OperandSize(op, il, i);
        }
        return false;
    }

    private static bool IsVectorMember(Module module, int token, Type[]? typeArgs, Type[]? methodArgs)
    {
        Type? declaring;
        try { declaring = module.ResolveMember(token, typeArgs, methodArgs) switch { MethodBase m => m.DeclaringType, Type ty => ty, FieldInfo f => f.DeclaringType, _ => null }; }
        catch (Exception) { return false; }
        if (declaring is null || declaring.Namespace != "System.Numerics") return false;
        var definition = declaring.IsGenericType ? declaring.GetGenericTypeDefinition() : declaring;
        return definition == typeof(System.Numerics.Vector<>) || definition == typeof(System.Numerics.Vector);
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    private static OpCode ReadOpCode(byte[] il, ref int i)
    {
        short value = il[i++];
        if (value == 0xFE) value = unchecked((short)(0xFE00 | il[i++]));
        return OpCodesByValue[value];
    }

    private static int OperandSize(OpCode op, byte[] il, int i) => op.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
        _ => 4,
    };
}
