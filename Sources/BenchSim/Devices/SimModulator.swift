import BenchKit

/// The server's IQ Mach–Zehnder modulator with its AWG and bias supplies (twin). Each arm transmits
/// field cos ϕ + iδ sin ϕ, ϕ = π(V + V_bias)/(2Vπ) + φ0 (hidden Vπ, φ0 drifting, extinction 1/δ²);
/// the outer section sets θ = π V_phase/Vπ + θ0. Uploaded frames play on triggers; the static drive
/// plays in between (what the power meter and free-running captures see).
actor SimModulator: Modulator, SimulatedDevice {
    nonisolated let engine: SimulationEngine
    nonisolated let role: Role
    nonisolated var family: DeviceFamily { .modulator }
    init(engine: SimulationEngine, role: Role) { self.engine = engine; self.role = role }

    func identify() async throws -> InstrumentIdentity { try await identifyDevice() }

    func makeSafe() async throws {
        try await gate("makeSafe")
        clearDrive()
    }

    func settings() async throws -> [String: String] {
        try await gate("settings")
        let m = engine.read { $0.modulator }
        var s = ["static-drive-i": "\(Voltage(si: m.staticI))", "static-drive-q": "\(Voltage(si: m.staticQ))",
                 "bias-i": "\(Voltage(si: m.bias[.i]!))", "bias-q": "\(Voltage(si: m.bias[.q]!))", "bias-phase": "\(Voltage(si: m.bias[.phase]!))"]
        if let f = m.frame {
            s["frames"] = "\(f.count) samples at \(engine.configuration.symbolRate)"
        } else {
            s["frames"] = "none"
        }
        return s
    }

    func loadDrive(i: Waveform, q: Waveform) async throws {
        try await gate("loadDrive")
        try engine.loadDrive(i: i, q: q)
    }

    func setStaticDrive(i: Voltage, q: Voltage) async throws {
        try await gate("setStaticDrive")
        for v in [i, q] where !(v.si.isFinite && abs(v.si) <= SimDriver.maximumDrive) {
            throw invalid("static drive \(v) is beyond ±\(Voltage(si: SimDriver.maximumDrive))", "keep drives within the AWG's range")
        }
        engine.update { $0.modulator.staticI = i.si; $0.modulator.staticQ = q.si }
    }

    func setBias(_ channel: ModulatorChannel, _ voltage: Voltage) async throws {
        try await gate("setBias")
        guard voltage.si.isFinite, abs(voltage.si) <= SimDriver.maximumBias else {
            throw invalid("bias \(voltage) is beyond ±\(Voltage(si: SimDriver.maximumBias))", "keep biases within the supply's range")
        }
        engine.update { $0.modulator.bias[channel] = voltage.si }
    }

    func bias(_ channel: ModulatorChannel) async throws -> Voltage {
        try await gate("bias")
        return Voltage(si: engine.read { $0.modulator.bias[channel]! })
    }

    func zeroDrive() async throws {
        try await gate("zeroDrive")
        clearDrive()
    }

    private func clearDrive() {
        engine.update { $0.modulator.staticI = 0; $0.modulator.staticQ = 0; $0.modulator.frame = nil }
    }
}
