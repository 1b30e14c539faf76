using System.Text.Json.Serialization;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// Compile-time JSON metadata for report.json and the JSON progress lines: serializing through reflection cost about
/// 100 ms of a 0.5 s process (building the metadata of every type at first use); the generated code is precompiled with
/// the assembly. The naming, number and enum rules stay those of <see cref="SolveReport.Json"/>.
/// </summary>
[JsonSerializable(typeof(SolveReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
