using System.Reflection;
using System.Reflection.Emit;
using DistSoftmax.Core.Solvers;
using Xunit.Abstractions;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// The folders of DistSoftmax.Core are layered: the graph "namespace N uses a type of namespace M" over the
/// top-level namespaces (DistSoftmax.Core.X, sub-namespaces counted with X) has no cycle. Uses are read from the
/// compiled assembly — signatures, base types, fields, and every type, method and field token in the IL of every
/// method body (iterator and lambda bodies are nested types of the type that wrote them) — so a use inside a method
/// body counts as much as one in a signature. Documentation crefs do not count.
/// </summary>
public sealed class NamespaceLayeringTests(ITestOutputHelper output)
{
    private const string Root = "DistSoftmax.Core";

    [Fact]
    public void CoreNamespacesFormNoCycle()
    {
        var graph = NamespaceGraph(typeof(Solver).Assembly);
        foreach (var (from, to) in graph.OrderBy(e => e.Key, StringComparer.Ordinal))
            output.WriteLine($"{from} -> {string.Join(", ", to.OrderBy(t => t, StringComparer.Ordinal))}");
        var cycle = FindCycle(graph);
        Assert.True(cycle is null, $"namespace cycle: {string.Join(" -> ", cycle ?? new List<string>())}");
    }

    [Fact]
    public void LowerLayersDoNotUseUpperOnes()
    {
        // The intended order, bottom to top (docs/ARCHITECTURE.md, "Layers of Core"); a namespace may use only
        // namespaces listed before it.
        string[] layers =
        {
            "Linear", "Random", "Kernels", "Statistics", "Sketching", "Problems", "Shards", "Solvers", "Sources",
            "Drivers", "Networks", "Diffusion", "Sensitivity", "Analysis",
        };
        var graph = NamespaceGraph(typeof(Solver).Assembly);
        Assert.Empty(graph.Keys.Except(layers));
        foreach (var (from, to) in graph)
        {
            int level = Array.IndexOf(layers, from);
            var upward = to.Where(t => Array.IndexOf(layers, t) > level).ToList();
            Assert.True(upward.Count == 0, $"{from} uses {string.Join(", ", upward)}, which sit above it");
        }
    }

    /// <summary>Top-level namespace under Core ("Solvers" for DistSoftmax.Core.Solvers.Curvature), or null.</summary>
    private static string? Group(Type? type)
    {
        while (type?.DeclaringType is not null) type = type.DeclaringType;
        var ns = type?.Namespace;
        if (ns is null || !ns.StartsWith(Root + ".", StringComparison.Ordinal)) return null;
        var rest = ns[(Root.Length + 1)..];
        int dot = rest.IndexOf('.');
        return dot < 0 ? rest : rest[..dot];
    }

    private static Dictionary<string, HashSet<string>> NamespaceGraph(Assembly assembly)
    {
        var graph = new Dictionary<string, HashSet<string>>();
        foreach (var type in assembly.GetTypes())
        {
            if (Group(type) is not { } from) continue;
            if (!graph.TryGetValue(from, out var uses)) graph[from] = uses = new HashSet<string>();
            foreach (var used in UsedTypes(type))
                if (Group(used) is { } to && to != from) uses.Add(to);
        }
        return graph;
    }

    private const BindingFlags Declared =
        BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static IEnumerable<Type> UsedTypes(Type type)
    {
        var found = new List<Type>();
        void Add(Type? t)
        {
            if (t is null) return;
            if (t.HasElementType) { Add(t.GetElementType()); return; }
            if (t.IsGenericType && !t.IsGenericTypeDefinition)
            {
                foreach (var a in t.GetGenericArguments()) Add(a);
                Add(t.GetGenericTypeDefinition());
                return;
            }
            if (!t.IsGenericParameter) found.Add(t);
        }

        Add(type.BaseType);
        foreach (var i in type.GetInterfaces()) Add(i);
        foreach (var f in type.GetFields(Declared)) Add(f.FieldType);
        foreach (var p in type.GetProperties(Declared)) Add(p.PropertyType);
        foreach (var e in type.GetEvents(Declared)) Add(e.EventHandlerType);
        var methods = type.GetMethods(Declared).Cast<MethodBase>().Concat(type.GetConstructors(Declared));
        foreach (var m in methods)
        {
            if (m is MethodInfo mi) Add(mi.ReturnType);
            foreach (var p in m.GetParameters()) Add(p.ParameterType);
            var body = m.GetMethodBody();
            if (body is null) continue;
            foreach (var local in body.LocalVariables) Add(local.LocalType);
            foreach (var member in IlOperands(m, body)) Add(member);
        }
        return found;
    }

    /// <summary>The declaring or referenced types of every type/method/field token in a method body.</summary>
    private static IEnumerable<Type?> IlOperands(MethodBase method, MethodBody body)
    {
        var il = body.GetILAsByteArray();
        if (il is null) yield break;
        var module = method.Module;
        var typeArgs = method.DeclaringType?.IsGenericType == true ? method.DeclaringType.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int pos = 0;
        while (pos < il.Length)
        {
            OpCode op;
            if (il[pos] == 0xFE) { op = TwoByte[il[pos + 1]]; pos += 2; }
            else { op = OneByte[il[pos]]; pos += 1; }
            switch (op.OperandType)
            {
                case OperandType.InlineMethod:
                case OperandType.InlineField:
                case OperandType.InlineType:
                case OperandType.InlineTok:
                {
                    int token = BitConverter.ToInt32(il, pos);
                    MemberInfo? member = null;
                    try { member = module.ResolveMember(token, typeArgs, methodArgs); }
                    catch (ArgumentException) { }
                    switch (member)
                    {
                        case Type t: yield return t; break;
                        case FieldInfo f: yield return f.DeclaringType; yield return f.FieldType; break;
                        case MethodBase mb:
                            yield return mb.DeclaringType;
                            if (mb is MethodInfo mi) yield return mi.ReturnType;
                            if (mb.IsGenericMethod && !mb.IsGenericMethodDefinition)
                                foreach (var a in mb.GetGenericArguments()) yield return a;
                            break;
                    }
                    pos += 4;
                    break;
                }
                case OperandType.InlineSwitch:
                    pos += 4 + 4 * BitConverter.ToInt32(il, pos);
                    break;
                default:
                    pos += OperandSize(op.OperandType);
                    break;
            }
        }
    }

    private static int OperandSize(OperandType type) => type switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => 4,
    };

    private static readonly OpCode[] OneByte = new OpCode[256];
    private static readonly OpCode[] TwoByte = new OpCode[256];

    static NamespaceLayeringTests()
    {
        foreach (var f in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            if (f.GetValue(null) is not OpCode op) continue;
            ushort value = (ushort)op.Value;
            if (op.Size == 1) OneByte[value] = op;
            else TwoByte[value & 0xFF] = op;
        }
    }

    /// <summary>A cycle of the graph (first node repeated at the end), or null.</summary>
    private static List<string>? FindCycle(Dictionary<string, HashSet<string>> graph)
    {
        var state = new Dictionary<string, int>(); // 1 on the stack, 2 done
        var stack = new List<string>();
        List<string>? Visit(string node)
        {
            state[node] = 1;
            stack.Add(node);
            foreach (var next in graph.GetValueOrDefault(node) ?? new HashSet<string>())
            {
                if (state.GetValueOrDefault(next) == 1)
                    return stack.Skip(stack.IndexOf(next)).Append(next).ToList();
                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found) return found;
            }
            stack.RemoveAt(stack.Count - 1);
            state[node] = 2;
            return null;
        }
        foreach (var node in graph.Keys.OrderBy(k => k, StringComparer.Ordinal))
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle) return cycle;
        return null;
    }
}
