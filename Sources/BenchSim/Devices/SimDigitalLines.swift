import BenchKit

/// The bench trigger (twin): `fire(shots:)` runs the physics of that many shots with the current
/// settings of every device and delivers the samples to the armed receivers.
actor SimTrigger: TriggerOutput, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .trigger }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }
    func makeSafe() async throws { try await gate("makeSafe") }
    func settings() async throws -> [String: String] {
        try await gate("settings")
        return ["pulses": "\(engine.read { $0.triggerPulses })"]
    }
    func fire(shots: Int) async throws {
        try await gate("fire")
        guard shots > 0 else { throw invalid("cannot fire \(shots) shots", "fire at least one shot") }
        try engine.fire(shots: shots)
    }
}

/// The shutter on the server's output (twin), after the tap: closed, no light leaves the server.
actor SimShutter: Shutter, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .shutter }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }
    func makeSafe() async throws {
        try await gate("makeSafe")
        engine.update { $0.shutterOpen = false }
    }
    func settings() async throws -> [String: String] {
        try await gate("settings")
        return ["state": SettingFormat.flag(engine.read { $0.shutterOpen }, "open", "closed")]
    }
    func setOpen(_ open: Bool) async throws {
        try await gate("setOpen")
        engine.update { $0.shutterOpen = open }
    }
    func isOpen() async throws -> Bool {
        try await gate("isOpen")
        return engine.read { $0.shutterOpen }
    }
}

/// The interlock input (twin): follows `SimulationEngine.setInterlock(clear:)`.
actor SimInterlock: InterlockInput, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .interlock }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }
    func makeSafe() async throws { try await gate("makeSafe") }
    func settings() async throws -> [String: String] {
        try await gate("settings")
        return ["state": SettingFormat.flag(clear, "clear", "open")]
    }
    /// This role's chain: the server's (`interlock`) or the client's (`client.interlock`).
    nonisolated var clear: Bool { engine.read { role == .clientInterlock ? $0.clientInterlockClear : $0.interlockClear } }

    func isClear() async throws -> Bool {
        try await gate("isClear")
        return clear
    }
    func waitForChange(timeout: Duration) async throws -> Bool? {
        try await gate("waitForChange")
        let start = clear
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            let now = clear
            if now != start { return now }
            try await Task.sleep(for: min(.milliseconds(1), deadline - ContinuousClock.now))
        }
        return nil
    }
}
