import BenchKit

/// The server's variable attenuator (twin): true attenuation = set value + hidden offset.
actor SimAttenuator: VariableAttenuator, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .attenuator }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }
    /// A passive attenuator has no unsafe state.
    func makeSafe() async throws { try await gate("makeSafe") }
    func settings() async throws -> [String: String] {
        try await gate("settings")
        return ["attenuation": "\(Decibels(engine.read { $0.attenuation }))"]
    }

    func setAttenuation(_ attenuation: Decibels) async throws {
        try await gate("setAttenuation")
        guard SimDriver.attenuationRange.contains(attenuation.dB) else {
            throw invalid("attenuation \(attenuation) is outside \(Decibels(SimDriver.attenuationRange.lowerBound)) … \(Decibels(SimDriver.attenuationRange.upperBound))",
                          "set an attenuation the VOA can reach")
        }
        engine.update { $0.attenuation = attenuation.dB }
    }

    func attenuation() async throws -> Decibels {
        try await gate("attenuation")
        return Decibels(engine.read { $0.attenuation })
    }
}

/// The power meter on the server's tap (twin): reads the tapped static-drive light times its
/// responsivity and wavelength-correction errors, plus a dark offset (removed by `zero()` in the
/// dark) and noise ∝ 1/√(averaging). Each reading advances the simulated clock by its averaging time.
actor SimPowerMeter: PowerMeter, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .powerMeter }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }
    func makeSafe() async throws { try await gate("makeSafe") }
    func settings() async throws -> [String: String] {
        try await gate("settings")
        let m = engine.read { $0.powerMeter }
        return ["wavelength": "\(Length(si: m.wavelength))", "zero-offset": "\(Power(si: m.zero))"]
    }

    func setWavelength(_ wavelength: Length) async throws {
        try await gate("setWavelength")
        guard (800e-9...1700e-9).contains(wavelength.si) else {
            throw invalid("wavelength correction \(wavelength) is outside the InGaAs head's 800 nm … 1700 nm", "set the laser's wavelength, e.g. 1550 nm")
        }
        engine.update { $0.powerMeter.wavelength = wavelength.si }
    }

    func readPower(averaging: Duration) async throws -> Power {
        try await gate("readPower")
        return try engine.readPower(averaging: averaging)
    }

    func zero() async throws {
        try await gate("zero")
        engine.zeroPowerMeter()
    }
}

/// The calibration switch (twin): client round trip or back-to-back with a hidden loss and phase.
actor SimSwitch: OpticalSwitch, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .opticalSwitch }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }
    func makeSafe() async throws { try await gate("makeSafe") }
    func settings() async throws -> [String: String] {
        try await gate("settings")
        return ["path": engine.read { $0.path }.rawValue]
    }
    func route(_ path: SwitchPath) async throws {
        try await gate("route")
        engine.update { $0.path = path }
    }
    func path() async throws -> SwitchPath {
        try await gate("path")
        return engine.read { $0.path }
    }
}

/// The fibre between server and client (twin): passive; its loss and phase are hidden constants.
actor SimFiberLink: FiberLink, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .fiberLink }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }
    func makeSafe() async throws { try await gate("makeSafe") }
    func settings() async throws -> [String: String] {
        try await gate("settings")
        return ["length": "\(engine.truth.link.length)"]
    }
    func length() async throws -> Length {
        try await gate("length")
        return engine.truth.link.length
    }
}
