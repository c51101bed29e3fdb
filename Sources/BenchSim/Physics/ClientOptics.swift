import SecureInference

/// A request the simulated bench cannot honour: what and what to do instead.
public struct SimulationError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What the client's optics do to mode 1 of each row during a shot (PROTOCOL.md §3.3 and §7),
/// with the settings of the client's amplifier and splitter and the client's behaviour applied.
///
/// The amplifier is phase-insensitive, a → √G a + √(G − 1) b†, with b in a thermal state of mean
/// occupation n_sp − 1 (n_sp ≥ 1 is the spontaneous-emission factor; n_sp = 1 is quantum-limited,
/// and the output then carries (G − 1) n_sp added photons as in the usual EDFA model). Each output
/// quadrature of the amplified mode has variance (SNU)
///
///     V_a = G + (G − 1)(2 n_sp − 1)                  (2G − 1 when quantum-limited)
///
/// The splitter keeps r for the client's homodyne and returns 1 − r; a vacuum v enters its other
/// port. Kept: √r A + √(1−r) v; returned: √(1−r) A − √r v. Hence
/// - reading (X of the kept part): mean 2√(rG) Re β, variance r V_a + (1 − r);
/// - returned mode 1: amplitude √((1 − r) G) β, quadrature variance 1 + x₁ with
///   x₁ = (1 − r)(V_a − 1) = 2 n_sp (G − 1)(1 − r)   (honest, n_sp = 1: g = 2 − 2/G);
/// - the measured kept X and the returned X (same phase) are correlated:
///   cov = √(r(1 − r)) (V_a − 1); the orthogonal quadratures are independent.
public struct ClientOptics: Sendable, Equatable {
    public let gain: Double
    public let keptFraction: Double
    public let spontaneousEmissionFactor: Double
    /// Heterodyne every arriving mode and re-prepare coherent states at the outcomes first.
    public let interceptResend: Bool

    public init(gain setGain: Double, keptFraction setKept: Double, spontaneousEmissionFactor nsp: Double, behaviour: ClientBehaviour) {
        var g = max(1, setGain), r = min(1, max(0, setKept))
        switch behaviour {
        case .honest, .interceptResend: break
        case let .greedyTap(kept): r = kept
        case let .overAmplify(g2): g = g2; r = 1 - 1 / g2
        }
        self.gain = g; keptFraction = r; spontaneousEmissionFactor = nsp
        interceptResend = behaviour == .interceptResend
    }

    public var amplifiedVariance: Double { gain + (gain - 1) * (2 * spontaneousEmissionFactor - 1) }
    /// k = √((1 − r) G): mode 1 comes back as k β.
    public var returnAmplitude: Double { ((1 - keptFraction) * gain).squareRoot() }
    /// x₁: excess noise of returned mode 1 (SNU), spread over the returned modes as |ξ_j|².
    public var returnedExcessNoise: Double { (1 - keptFraction) * (amplifiedVariance - 1) }
    /// Mean of the reading per unit Re β: 2√(rG).
    public var readingScale: Double { 2 * (keptFraction * gain).squareRoot() }
    /// Variance of the kept part's measured quadrature (SNU): r V_a + 1 − r.
    public var readingVariance: Double { keptFraction * amplifiedVariance + 1 - keptFraction }
    /// Covariance of the kept measured quadrature and the returned one at the same phase.
    public var keptReturnedCovariance: Double { (keptFraction * (1 - keptFraction)).squareRoot() * (amplifiedVariance - 1) }

    /// Checks a behaviour's parameters are physical.
    public static func validate(_ behaviour: ClientBehaviour) throws(SimulationError) {
        switch behaviour {
        case .honest, .interceptResend: return
        case let .greedyTap(r):
            guard r > 0, r <= 1 else { throw SimulationError("greedy-tap kept fraction \(r) is not in (0, 1]") }
        case let .overAmplify(g):
            guard g >= 1, g.isFinite else { throw SimulationError("over-amplify gain \(g) is below 1: an amplifier has G' ≥ 1") }
        }
    }
}
