namespace DistSoftmax.Core.Kernels;

/// <summary>
/// The IEEE 754 binary64 layout and the split of ln 2 that the vector elementary functions (<see cref="VectorExp"/>,
/// <see cref="VectorLog"/>) build on.
/// </summary>
internal static class DoubleFormat
{
    /// <summary>The exponent bias and the position of the exponent field (the mantissa's width).</summary>
    public const long ExponentBias = 1023;
    public const int MantissaBits = 52;

    /// <summary>
    /// ln 2 = <see cref="Ln2High"/> + <see cref="Ln2Low"/>; the high part has 21 trailing zero bits, so k·Ln2High is
    /// exact for an integer |k| &lt; 2²¹ (a reduction x − k·ln 2, or a sum e·ln 2 + ln m, loses nothing to it).
    /// </summary>
    public const double Ln2High = 6.93147180369123816490e-01, Ln2Low = 1.90821492927058770002e-10;
}
