using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// Fused operators on one complete row z (n values, its own normaliser: a row of M in a matrix problem), for a family
/// whose loss, z-gradient and z-Hessian all follow from the row's values v(z) (normalized softmax: f = softmax(z)) and
/// b, without first writing D, q and C (<see cref="IVectorFamily.OwnGlobalsAndRowTerms"/>). A Hessian-vector product
/// needs only B(z)·y and a gradient only g; forming the terms wrote three n-wide rows per row of M and read them back,
/// which on a 2048×4096 shard was most of the row work and bound it by memory rather than arithmetic. A matrix shard
/// also keeps the values instead of M between requests at the same x (<see cref="Shards.MatrixShard"/>), so the
/// exponentials of a row are taken once per x, not once per request. Results equal the terms' to rounding.
/// </summary>
public interface IOwnRowOperators
{
    /// <summary>Scratch values <see cref="HessianProduct"/> needs per entry of a row.</summary>
    const int ScratchPerEntry = 1;

    /// <summary>The row's values v(z) into <paramref name="values"/>, which may be <paramref name="z"/>'s own storage.</summary>
    void RowValues(ReadOnlySpan<double> z, Span<double> values);

    /// <summary>
    /// <see cref="RowValues"/> of a row of M formed in single precision (every z a float widened), where the family can
    /// take them in single precision (within 3e-7 + 6e-8·|z − max z| of <see cref="RowValues"/>'s, relative, as M's own
    /// rounding; <paramref name="scratch"/>: n floats).
    /// A shard takes every row's values at a single-precision pass's iterate this way, whichever request forms them.
    /// </summary>
    void RowValuesFromSingleM(ReadOnlySpan<double> z, Span<double> values, Span<float> scratch);

    /// <summary>
    /// <see cref="RowValuesFromSingleM"/> of the row of M as sgemm left it, in floats: the same values, bit for bit, as
    /// from the row widened to doubles (a float widened and narrowed again is itself), without that widening.
    /// </summary>
    void RowValuesFromSingleLogits(ReadOnlySpan<float> z, Span<double> values, Span<float> scratch);

    /// <summary>ℓ = ½‖c‖² of the row from its values (the residual's own form, without the cancelling phase-1 sums).</summary>
    double HalfSquaredResidual(ReadOnlySpan<double> values, ReadOnlySpan<double> b);

    /// <summary>g = ∇ℓ of the row from its values (no regulariser).</summary>
    void Gradient(ReadOnlySpan<double> values, ReadOnlySpan<double> b, Span<double> g);

    /// <summary>
    /// A loss-and-gradient pass's row: returns <see cref="HalfSquaredResidual"/>, writes <see cref="Gradient"/>'s g and,
    /// where <paramref name="terms"/> is not empty, <see cref="SingleRowTerms"/>' terms and sums — the same values as
    /// those three give, computed together.
    /// </summary>
    double GradientPass(ReadOnlySpan<double> values, ReadOnlySpan<double> b, Span<double> g, Span<float> terms, Span<double> sums);

    /// <summary>
    /// The row terms of the z-Hessian of the <paramref name="kind"/> from the row's values: D (n), q (k×n row-major) and
    /// C (k×k row-major), k = <see cref="IVectorFamily.LowRankCount"/>, as <see cref="IVectorFamily.OwnGlobalsAndRowTerms"/>
    /// and <see cref="IVectorFamily.LowRankCoefficients"/> give them from z (for the Kronecker factors).
    /// </summary>
    void TermsFromValues(ReadOnlySpan<double> values, ReadOnlySpan<double> b, HessianKind kind, Span<double> d, Span<double> q, Span<double> c);

    /// <summary>
    /// <see cref="TermsFromValues"/> for the Kronecker factors' single-precision projection, fused (no regulariser):
    /// q (k×n) narrowed straight into <paramref name="q"/>, C into <paramref name="c"/>, D added to
    /// <paramref name="diagonal"/> times <paramref name="weight"/> (the row's 1/p in a sample, else 1), and returned
    /// ⟨D, <paramref name="columnNorms"/>⟩ (τ's diagonal part, ‖a2_i‖² the column norms). The same q, bit for bit, as
    /// <see cref="TermsFromValues"/> followed by narrowing, and C, D and the trace to rounding (sums in another order),
    /// without writing D and q in double and reading them back (and, for the Gauss–Newton kind, without reading b):
    /// a shard's single-precision factor request spent most of its time there.
    /// </summary>
    double FactorTermsSingle(ReadOnlySpan<double> values, ReadOnlySpan<double> b, HessianKind kind, Span<float> q,
        Span<double> c, Span<double> diagonal, double weight, ReadOnlySpan<double> columnNorms);

    /// <summary>
    /// y ← B·y + w²∘y in place, B the z-Hessian of the <paramref name="kind"/> (exact or Gauss–Newton) that
    /// <see cref="IVectorFamily.OwnGlobalsAndRowTerms"/> with <see cref="IVectorFamily.LowRankCoefficients"/> describes, from
    /// the row's values (w² empty: no regulariser). Scratch: <see cref="ScratchPerEntry"/>·n values.
    /// </summary>
    void HessianProduct(ReadOnlySpan<double> values, ReadOnlySpan<double> b, HessianKind kind, ReadOnlySpan<double> w2,
        Span<double> y, Span<double> scratch);

    /// <summary>
    /// <see cref="HessianProduct"/> for a y held in single precision (a single-precision Hessian-vector product's rows):
    /// computed in double from the row's values (and b, for the exact kind), y read and written as floats.
    /// Scratch: <see cref="ScratchPerEntry"/>·n values.
    /// </summary>
    void HessianProductSingle(ReadOnlySpan<double> values, ReadOnlySpan<double> b, HessianKind kind, ReadOnlySpan<double> w2,
        Span<float> y, Span<double> scratch);

    /// <summary>Single-precision terms per entry of a row, and double sums per row, that <see cref="SingleRowTerms"/> writes.</summary>
    const int SingleTermsPerEntry = 2, SingleTermSumsPerRow = 2;

    /// <summary>Whether <see cref="SingleRowTerms"/> and <see cref="HessianProductFromSingleTerms"/> run on this processor.</summary>
    bool SingleRowTermsAvailable { get; }

    /// <summary>
    /// A row's terms for <see cref="HessianProductFromSingleTerms"/>, from its values and b in double:
    /// <see cref="SingleTermsPerEntry"/>·n floats and <see cref="SingleTermSumsPerRow"/> doubles, a deterministic
    /// function of the two rows (a matrix shard keeps them between a pass at x and its single-precision products).
    /// </summary>
    void SingleRowTerms(ReadOnlySpan<double> values, ReadOnlySpan<double> b, Span<float> terms, Span<double> sums);

    /// <summary>
    /// The same terms straight from the row's logits z in single precision, the values computed in single precision
    /// (where <see cref="SingleRowTermsAvailable"/>): for a single-precision product on a row of which a shard keeps
    /// nothing, whose M it forms by sgemm for the product anyway.
    /// </summary>
    void SingleRowTermsFromLogits(ReadOnlySpan<float> z, ReadOnlySpan<double> b, Span<float> terms, Span<double> sums);

    /// <summary>
    /// <see cref="HessianProductSingle"/> without a regulariser, computed in single precision from the row's
    /// <see cref="SingleRowTerms"/> (its dot products summed in short single-precision blocks added in double).
    /// </summary>
    void HessianProductFromSingleTerms(ReadOnlySpan<float> terms, ReadOnlySpan<double> sums, HessianKind kind, Span<float> y);

    /// <summary>
    /// <see cref="HessianProductFromSingleTerms"/> from the row's values alone in single precision (what a shard
    /// without the M cache keeps) and b in double, the rest of the terms formed on the fly (where
    /// <see cref="SingleRowTermsAvailable"/>; no regulariser).
    /// </summary>
    void HessianProductFromSingleValues(ReadOnlySpan<float> values, ReadOnlySpan<double> b, HessianKind kind, Span<float> y);
}
