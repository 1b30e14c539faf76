namespace DistSoftmax.Core.Statistics;

/// <summary>
/// How a shard returns the CountSketch S_k·diag(√|D|)·A_k of its rows (m×d, m = SketchRows).
/// <see cref="Rows"/>: the m×d rows themselves (row-major); replies merge by adding them, which is the sketch of the
/// whole matrix with one set of m buckets.
/// <see cref="Triangle"/>: only the packed upper triangle (d(d+1)/2) of R from a Householder QR of the shard's sketch,
/// at most a d×d triangle on the wire whatever m is; replies merge by a QR of the stacked R's (TSQR, see
/// <see cref="Kernels.HouseholderQr.MergePacked"/>), so the merged R is that of the stacked per-shard sketches
/// [S_1 A_1; S_2 A_2; …] (RᵀR = Σ_k (S_k A_k)ᵀ(S_k A_k)). Each S_k is a subspace embedding of its block's column space, so
/// the stack embeds the whole: for every x, ‖S_k A_k x‖² ≈ ‖A_k x‖² within (1 ± ε) and the sum over k gives
/// ‖Ax‖² within (1 ± ε). The merged R depends on the shard layout (each shard sketches with its own m buckets), and is
/// reproducible for a fixed layout because replies merge in shard order.
/// </summary>
public enum SketchForm : byte { Rows = 0, Triangle = 1 }
