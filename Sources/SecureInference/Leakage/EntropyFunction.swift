import Foundation

/// h(ν) = ((ν+1)/2) log₂((ν+1)/2) − ((ν−1)/2) log₂((ν−1)/2): the von Neumann entropy (bits) of a
/// thermal mode with symplectic eigenvalue ν ≥ 1 in SNU (vacuum: ν = 1, h = 0 exactly).
///
/// Symplectic eigenvalues computed in floating point can undershoot 1 by rounding; values in
/// [1 − 1e-9, 1] are treated as 1. Anything smaller is unphysical and throws.
public func vonNeumannEntropy(symplecticEigenvalue nu: Double) throws(ProtocolDomainError) -> Double {
    try require(nu >= 1 - 1e-9 && nu.isFinite, "symplectic eigenvalue ν", nu, "ν ≥ 1 (uncertainty principle, SNU)")
    guard nu > 1 else { return 0 }
    let plus = (nu + 1) / 2, minus = (nu - 1) / 2
    return plus * log2(plus) - minus * log2(minus)
}
