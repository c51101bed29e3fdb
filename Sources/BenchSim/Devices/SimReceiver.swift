import BenchKit

/// A balanced homodyne receiver with its digitiser (twin). Its LO is drawn from the server laser
/// (at most `lo-split` of its power); the shot-noise unit is N0 = k · P_LO with a hidden k (V²/W);
/// samples come in volts: offset + √N0 √η · quadrature + noise, quantised (hidden offset, bits, range).
/// Triggered: `loadSlotPattern`, `arm`, the trigger fires, `fetch` (the server receiver gives one
/// sample per slot of every shot, the client receiver one per row). Free-running: `acquire`.
/// `localOscillatorPower()` reports the setting; the delivered LO is lower if the laser cannot supply it.
actor SimReceiver: HomodyneReceiver, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .homodyneReceiver }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }

    /// Disarms and blocks the input; the LO stays (it is not a hazard).
    func makeSafe() async throws {
        try await gate("makeSafe")
        engine.arm(role, shots: 0)
        engine.update { $0.receivers[role]!.inputBlocked = true }
    }

    func settings() async throws -> [String: String] {
        try await gate("settings")
        let r = engine.read { $0.receivers[role]! }
        let bits = engine.truth.receiver(role).bits
        return ["lo-power": "\(Power(si: r.loPower))", "lo-phase": "\(Phase(si: r.loPhase))",
                "slot-pattern": r.pattern.isEmpty ? "x (default)" : "\(r.pattern.count) slots",
                "input": SettingFormat.flag(r.inputBlocked, "blocked", "open"),
                "armed": "\(r.armedShots) shots (\(r.recordedShots) recorded)",
                "digitiser": "\(bits) bits, ±\(engine.truth.receiver(role).range), \(engine.configuration.symbolRate)"]
    }

    func setLocalOscillatorPower(_ power: Power) async throws {
        try await gate("setLocalOscillatorPower")
        guard power.si.isFinite, power.si >= 0, power.si <= SimDriver.maximumLOPower else {
            throw invalid("LO power \(power) is outside 0 … \(Power(si: SimDriver.maximumLOPower))", "set an LO power the receiver's photodiodes take")
        }
        engine.update { $0.receivers[role]!.loPower = power.si }
    }

    func localOscillatorPower() async throws -> Power {
        try await gate("localOscillatorPower")
        return Power(si: engine.read { $0.receivers[role]!.loPower })
    }

    func setLocalOscillatorPhase(_ phase: Phase) async throws {
        try await gate("setLocalOscillatorPhase")
        guard phase.si.isFinite else { throw invalid("LO phase \(phase) is not finite", "give a phase in radians") }
        engine.update { $0.receivers[role]!.loPhase = phase.si }
    }

    func loadSlotPattern(_ pattern: [SlotKind]) async throws {
        try await gate("loadSlotPattern")
        engine.update { $0.receivers[role]!.pattern = pattern }
    }

    func setInputBlocked(_ blocked: Bool) async throws {
        try await gate("setInputBlocked")
        engine.update { $0.receivers[role]!.inputBlocked = blocked }
    }

    func arm(shots: Int) async throws {
        try await gate("arm")
        guard shots > 0 else { throw invalid("cannot arm for \(shots) shots", "arm for at least one shot") }
        engine.arm(role, shots: shots)
    }

    func fetch(timeout: Duration) async throws -> SampleBlock {
        try await gate("fetch", timeout: timeout)
        return try await engine.fetch(role, timeout: timeout)
    }

    /// The server receiver hands a burst's record to `sink` tile by tile as its twin computes it
    /// (`SampleSink`), so the record is never kept; anything else goes over whole.
    func fetch(timeout: Duration, shots: Int, slotsPerShot: Int, into sink: any SampleSink) async throws -> StreamedRecord {
        try await gate("fetch", timeout: timeout)
        return try await engine.fetch(role, timeout: timeout, shots: shots, slotsPerShot: slotsPerShot, into: sink)
    }

    func acquire(count: Int) async throws -> SampleBlock {
        try await gate("acquire")
        return try engine.acquire(role, count: count)
    }
}
