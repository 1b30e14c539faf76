using BenchmarkDotNet.Running;
using DistSoftmax.Benchmarks;

// `scale [n] [d] [solvers]` runs the end-to-end solver comparison, `cluster` the loopback cluster overheads,
// `networks [n] [d] [m] [epochs]` the network training throughput and the diffusion demo;
// `passes [n] [d]` the per-pass profile of an approximate-Newton iteration; `gemm ROWS N D` a matrix shard's products;
// `matrix-passes [n] [d] [shards]` one worker's share of a multiple softmax regression pass against its dense products;
// `gemm-kernels [n] [d]` a matrix shard's n-wide products, OpenBLAS against the AVX-512 kernel;
// `syrk ROWS D` a vector shard's weighted Gram, OpenBLAS's dsyrk against the managed kernel;
// `algebra [d…]` the d×d operations, managed against OpenBLAS;
// `solve-compare A.npy b.npy [solvers] [workers] [rounds]` whole-process CLI solves against a streaming read of A
// (`streaming-read A.npy`, run by it in a child process);
// `crossover [png] [n·d] [iterations] [nnz per row]` the per-iteration time of approx-newton and newton against d;
// anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "scale") return ScaleRun.Run(args[1..]);
if (args.Length > 0 && args[0] == "passes") return PassBreakdown.Run(args[1..]);
if (args.Length > 0 && args[0] == "crossover") return CrossoverPlot.Run(args[1..]);
if (args.Length > 0 && args[0] == "solve-compare") return CliComparison.Run(args[1..]);
if (args.Length > 0 && args[0] == "streaming-read") return CliComparison.StreamingReadCommand(args[1..]);
if (args.Length > 0 && args[0] == "algebra") return DenseAlgebraBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "matrix") return MatrixScaleRun.Run(args[1..]);
if (args.Length > 0 && args[0] == "cluster") return ClusterBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "networks") return NetworkBenchmarks.Run(args[1..]);
if (args.Length > 0 && args[0] == "gemm") return GemmShapes.Run(args[1..]);
if (args.Length > 0 && args[0] == "gemm-kernels") return GemmKernels.Run(args[1..]);
if (args.Length > 0 && args[0] == "matrix-passes") return MatrixPassBreakdown.Run(args[1..]);
if (args.Length > 0 && args[0] == "syrk") return SyrkShapes.Run(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(BenchmarkInstance).Assembly).Run(args);
return 0;
