import BenchKit
import Foundation

/// The client's interferometer (twin): holds ξ per shot and the frame layout; U_x acts during
/// triggered shots (see `ShotComputation`). Idle, it passes light straight through.
actor SimClientProcessor: ClientProcessor, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .clientProcessor }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }
    func makeSafe() async throws {
        try await gate("makeSafe")
        engine.update { $0.processor = .init() }
    }
    func settings() async throws -> [String: String] {
        try await gate("settings")
        let p = engine.read { $0.processor }
        guard let l = p.layout else { return ["program": "none"] }
        return ["program": "\(p.symbols.count) shots", "layout": "\(l.rows) rows × (\(l.modesPerRow) modes + \(l.vacuumSlotsPerRow) vacuum slots)"]
    }

    /// Programs ξ for successive shots. Each ξ must have `layout.modesPerRow` symbols and norm 1 (a
    /// passive unitary's first row), or be all zero (an all-zero input).
    func program(_ symbols: [[ComplexSymbol]], layout: FrameLayout) async throws {
        try await gate("program")
        guard layout.rows > 0, layout.modesPerRow > 0, layout.vacuumSlotsPerRow >= 0 else {
            throw invalid("layout \(layout.rows) × (\(layout.modesPerRow) + \(layout.vacuumSlotsPerRow)) is empty", "give at least one row of at least one mode")
        }
        for (k, xi) in symbols.enumerated() {
            guard xi.count == layout.modesPerRow else {
                throw invalid("ξ of shot \(k) has \(xi.count) symbols, the layout \(layout.modesPerRow) modes per row", "pack ⌈N_in/2⌉ symbols per shot")
            }
            var norm2 = 0.0
            for z in xi { norm2 += Double(z.re) * Double(z.re) + Double(z.im) * Double(z.im) }
            guard norm2 == 0 || abs(norm2 - 1) < 1e-3 else {
                throw invalid("ξ of shot \(k) has norm² \(norm2): U_x needs a unit first row", "normalise the layer input (x̂ = z/‖z‖) before packing ξ")
            }
        }
        engine.update { $0.processor = .init(symbols: symbols, layout: layout) }
    }
}

/// The client's phase-insensitive amplifier on mode 1 (twin): gain G, added noise set by the
/// hidden n_sp (see `ClientOptics`). Safe state: pump off, G = 1.
actor SimAmplifier: OpticalAmplifier, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .amplifier }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }
    func makeSafe() async throws {
        try await gate("makeSafe")
        engine.update { $0.gain = 1 }
    }
    func settings() async throws -> [String: String] {
        try await gate("settings")
        return ["gain": String(format: "%.6g", engine.read { $0.gain })]
    }
    func setGain(_ gain: Double) async throws {
        try await gate("setGain")
        guard gain.isFinite, gain >= 1, gain <= SimDriver.maximumGain else {
            throw invalid("gain \(gain) is outside 1 … \(SimDriver.maximumGain)", "a phase-insensitive amplifier has G ≥ 1")
        }
        engine.update { $0.gain = gain }
    }
    func gain() async throws -> Double {
        try await gate("gain")
        return engine.read { $0.gain }
    }
}

/// The client's splitter after the amplifier (twin): keeps r for the client's homodyne.
actor SimSplitter: TunableSplitter, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .splitter }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }
    func makeSafe() async throws { try await gate("makeSafe") }
    func settings() async throws -> [String: String] {
        try await gate("settings")
        return ["kept-fraction": String(format: "%.6g", engine.read { $0.keptFraction })]
    }
    func setKeptFraction(_ fraction: Double) async throws {
        try await gate("setKeptFraction")
        guard fraction.isFinite, (0...1).contains(fraction) else {
            throw invalid("kept fraction \(fraction) is outside 0 … 1", "set a splitting ratio between 0 and 1")
        }
        engine.update { $0.keptFraction = fraction }
    }
    func keptFraction() async throws -> Double {
        try await gate("keptFraction")
        return engine.read { $0.keptFraction }
    }
}
