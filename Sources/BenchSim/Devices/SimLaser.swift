import BenchKit

/// The server's CW laser on its current/TEC controller (twin). Below threshold it emits nothing;
/// above, P = η_s (I − I_th) with hidden I_th and η_s. It cannot emit while the interlock is open.
/// `wavelength()` reports the nominal wavelength at the set temperature, as a controller would.
actor SimLaser: Laser, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .laser }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }

    func makeSafe() async throws {
        try await gate("makeSafe")
        engine.update { $0.laser.current = 0; $0.laser.emissionRequested = false }
    }

    func settings() async throws -> [String: String] {
        try await gate("settings")
        let s = engine.read { $0.laser }
        let clear = engine.read { $0.interlockClear }
        return ["current": "\(Current(si: s.current))", "emission": SettingFormat.flag(s.emissionRequested && clear),
                "temperature": String(format: "%.2f °C", s.temperature - 273.15),
                "wavelength": "\(nominalWavelength(s.temperature))"]
    }

    func setCurrent(_ current: Current) async throws {
        try await gate("setCurrent")
        guard current.si >= 0, current.si <= SimDriver.maximumLaserCurrent else {
            throw invalid("current \(current) is outside 0 … \(Current(si: SimDriver.maximumLaserCurrent))", "set a current the controller can deliver")
        }
        engine.update { $0.laser.current = current.si }
    }

    func current() async throws -> Current {
        try await gate("current")
        return Current(si: engine.read { $0.laser.current })
    }

    func setEmission(_ on: Bool) async throws {
        try await gate("setEmission")
        if on, !engine.read({ $0.interlockClear }) {
            throw DeviceError(.notReady, device: role.rawValue, message: "emission refused: the interlock chain is open",
                              remedy: "close the interlock (doors, key) before switching the laser on")
        }
        engine.update { $0.laser.emissionRequested = on }
    }

    func isEmitting() async throws -> Bool {
        try await gate("isEmitting")
        return engine.read { $0.laser.emissionRequested && $0.interlockClear }
    }

    func wavelength() async throws -> Length {
        try await gate("wavelength")
        return nominalWavelength(engine.read { $0.laser.temperature })
    }

    nonisolated func nominalWavelength(_ temperature: Double) -> Length {
        let nominal = engine.configuration.constant("server.laser", "wavelength").nominal
        return .metres(nominal + engine.truth.laser.tuning.si * (temperature - 298.15))
    }

    func setTemperature(_ setpoint: Temperature) async throws {
        try await gate("setTemperature")
        guard SimDriver.temperatureRange.contains(setpoint.si) else {
            throw invalid("TEC setpoint \(setpoint) is outside \(Temperature(si: SimDriver.temperatureRange.lowerBound)) … \(Temperature(si: SimDriver.temperatureRange.upperBound))",
                          "choose a setpoint the TEC can hold")
        }
        engine.update { $0.laser.temperature = setpoint.si }
    }

    func temperature() async throws -> Temperature {
        try await gate("temperature")
        return Temperature(si: engine.read { $0.laser.temperature })
    }
}
