/// The time-bin layout of one shot (one layer for one image): for each weight row, its n modes
/// followed by v vacuum slots in which the server sends nothing and its receiver measures its
/// locally blocked input (the in-band shot-noise reference).
public struct FrameLayout: Sendable, Hashable, Codable {
    public var rows: Int
    public var modesPerRow: Int
    public var vacuumSlotsPerRow: Int
    public init(rows: Int, modesPerRow: Int, vacuumSlotsPerRow: Int) {
        self.rows = rows; self.modesPerRow = modesPerRow; self.vacuumSlotsPerRow = vacuumSlotsPerRow
    }
    public var slotsPerRow: Int { modesPerRow + vacuumSlotsPerRow }
    public var slotsPerShot: Int { rows * slotsPerRow }
    /// Whether slot `s` of a shot carries a signal mode (else it is a vacuum slot).
    public func isSignal(slot s: Int) -> Bool { s % slotsPerRow < modesPerRow }
}

/// One complex symbol ξ_j = x̂_{2j} + i x̂_{2j+1} of the client's normalised data.
public struct ComplexSymbol: Sendable, Hashable, Codable {
    public var re: Float
    public var im: Float
    public init(_ re: Float, _ im: Float) { self.re = re; self.im = im }
}

/// The client's programmable interferometer (time-domain loop of variable beam splitters or a
/// mesh): applies U_x, whose first row is conj(ξ), to the n modes of each inner product, and U_x†
/// to what it returns.
public protocol ClientProcessor: BenchDevice {
    /// Programs ξ for successive shots: shot k uses `symbols[k]` (`layout.modesPerRow` symbols)
    /// for every row of the layer the server plays during that shot; vacuum slots pass through.
    func program(_ symbols: [[ComplexSymbol]], layout: FrameLayout) async throws
}

/// The client's phase-insensitive amplifier on mode 1.
public protocol OpticalAmplifier: BenchDevice {
    /// Linear power gain G ≥ 1.
    func setGain(_ gain: Double) async throws
    func gain() async throws -> Double
}

/// The client's tunable splitter after the amplifier: the kept fraction goes to the client's
/// homodyne, the rest is re-injected and returned (honest: kept = 1 − 1/G).
public protocol TunableSplitter: BenchDevice {
    func setKeptFraction(_ fraction: Double) async throws
    func keptFraction() async throws -> Double
}
