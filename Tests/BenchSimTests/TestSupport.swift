import BenchKit
@testable import BenchSim
import Foundation
import Numerics
import NumericsKit

/// Bench files and helpers for the twin's tests.
enum TestBench {
    /// Repository root (for the shipped bench files).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Constants that make the receivers ideal (η = 1, no electronic noise, no offset, a 24-bit
    /// digitiser) and freeze every drift, so statistics compare directly with PROTOCOL.md's SNU.
    static let ideal: [String: [String: String]] = [
        "server.receiver": ["efficiency": "1", "electronic-noise": "0 V", "offset": "0 V", "bits": "24", "range": "10 V", "lo-phase-walk": "0 rad/√s"],
        "client.receiver": ["efficiency": "1", "electronic-noise": "0 V", "offset": "0 V", "bits": "24", "range": "10 V", "lo-phase-walk": "0 rad/√s"],
        "server.modulator": ["drift-rate": "0 rad/s", "drift-walk": "0 rad/√s"],
        "link": ["phase-walk": "0 rad/√s"],
    ]

    /// Only the drifts frozen; the receivers keep their realistic hidden η, noise and offsets.
    static let frozen: [String: [String: String]] = [
        "server.receiver": ["lo-phase-walk": "0 rad/√s"], "client.receiver": ["lo-phase-walk": "0 rad/√s"],
        "server.modulator": ["drift-rate": "0 rad/s", "drift-walk": "0 rad/√s"], "link": ["phase-walk": "0 rad/√s"],
    ]

    static func merge(_ a: [String: [String: String]], _ b: [String: [String: String]]) -> [String: [String: String]] {
        var m = a
        for (section, keys) in b { m[section, default: [:]].merge(keys) { $1 } }
        return m
    }

    /// A bench with every role on the sim driver, no limits, and the given simulation section.
    static func yaml(seed: UInt64 = 7, client: String = "honest", constants: [String: [String: String]] = ideal, extra: String = "") -> String {
        var text = "bench: test\nroles:\n"
        for role in Role.allCases { text += "  \(role.rawValue):\n    driver: sim\n    address: sim://\(role.rawValue)\n" }
        text += "simulation:\n  seed: \(seed)\n  client: \(client)\n"
        for section in constants.keys.sorted() {
            text += "  \(section):\n"
            for key in constants[section]!.keys.sorted() { text += "    \(key): \(constants[section]![key]!)\n" }
        }
        return text + extra
    }

    static func open(_ yaml: String) async throws -> (Bench, SimulationEngine) {
        let description = try BenchDescription.parse(yaml, file: "test.yaml")
        let bench = try await Bench.open(description, registry: SimulatedBench.registry())
        return (bench, try await SimulatedBench.engine(of: bench))
    }

    /// Laser on at `current`, shutter open, attenuator, LO powers, switch path, biases at the
    /// encoder's operating point.
    static func start(_ bench: Bench, engine: SimulationEngine, current: Current = .milliamperes(60), attenuation: Decibels = Decibels(50),
                      lo: Power = .milliwatts(5), path: SwitchPath = .backToBack) async throws {
        try await bench.laser().setCurrent(current)
        try await bench.laser().setEmission(true)
        try await bench.shutter().setOpen(true)
        try await bench.attenuator().setAttenuation(attenuation)
        try await bench.receiver(.serverReceiver).setLocalOscillatorPower(lo)
        try await bench.receiver(.clientReceiver).setLocalOscillatorPower(lo)
        try await bench.opticalSwitch().route(path)
        let b = TruthEncoder(engine: engine).operatingBiases
        try await bench.modulator().setBias(.i, b.i)
        try await bench.modulator().setBias(.q, b.q)
        try await bench.modulator().setBias(.phase, b.phase)
    }

    /// Attenuation that gives `scale` √photons per mode at unit field for the laser at `current`.
    static func attenuation(_ engine: SimulationEngine, scale: Double, current: Current = .milliamperes(60)) -> Decibels {
        TruthEncoder(engine: engine).attenuation(fieldScale: scale, current: current, symbolRate: engine.configuration.symbolRate)
    }

    /// A script for determinism and the split twin: two bursts through the client (the second later, so the drifts have moved) and one
    /// back-to-back burst the client records (vacuum), as the server's and the client's devices see them.
    static func clientPathScript(server: Bench, client: Bench, serverEngine: SimulationEngine) async throws -> (server: [Float], client: [Float]) {
        let engine = serverEngine
        try await server.laser().setCurrent(.milliamperes(60))
        try await server.laser().setEmission(true)
        try await server.shutter().setOpen(true)
        try await server.attenuator().setAttenuation(Decibels(50))
        try await server.receiver(.serverReceiver).setLocalOscillatorPower(.milliwatts(5))
        try await client.receiver(.clientReceiver).setLocalOscillatorPower(.milliwatts(5))
        try await server.opticalSwitch().route(.client)
        let b = TruthEncoder(engine: engine).operatingBiases
        try await server.modulator().setBias(.i, b.i)
        try await server.modulator().setBias(.q, b.q)
        try await server.modulator().setBias(.phase, b.phase)
        try await client.amplifier().setGain(2)
        try await client.splitter().setKeptFraction(0.5)
        let rows = 300, n = 100
        var rng = Xoshiro256(seed: 99)
        let fields = (0..<(rows * (n + 4))).map { s in s % (n + 4) < n ? Complex(0.4 * rng.nextUnit() - 0.2, 0.4 * rng.nextUnit() - 0.2) : .zero }
        let d = TruthEncoder(engine: engine).drives(for: fields)
        try await server.modulator().loadDrive(i: TestBench.waveform(d.i, engine), q: TestBench.waveform(d.q, engine))
        let xi: [[ComplexSymbol]] = (0..<5).map { _ in
            let v = (0..<(2 * n)).map { _ in rng.nextUnit() - 0.5 }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return (0..<n).map { ComplexSymbol(Float(v[2 * $0] / norm), Float(v[2 * $0 + 1] / norm)) }
        }
        let layout = FrameLayout(rows: rows, modesPerRow: n, vacuumSlotsPerRow: 4)
        try await client.clientProcessor().program(xi, layout: layout)
        try await server.receiver(.serverReceiver).loadSlotPattern([.x, .p, .x, .vacuum])
        var serverSamples: [Float] = [], clientReadings: [Float] = []
        for (path, shots) in [(SwitchPath.client, 5), (.client, 3), (.backToBack, 2)] {
            try await server.opticalSwitch().route(path)
            try await server.receiver(.serverReceiver).arm(shots: shots)
            try await client.receiver(.clientReceiver).arm(shots: shots)
            try await server.trigger().fire(shots: shots)
            serverSamples += try await server.receiver(.serverReceiver).fetch(timeout: .seconds(10)).volts
            clientReadings += try await client.receiver(.clientReceiver).fetch(timeout: .seconds(10)).volts
            // Let the drifts move between bursts.
            engine.advanceClock(by: .milliseconds(250))
        }
        return (serverSamples, clientReadings)
    }

    static func waveform(_ v: [Float], _ engine: SimulationEngine) -> Waveform {
        Waveform(volts: v, sampleRate: engine.configuration.symbolRate)
    }
}

/// The forward physics, written out again from PROTOCOL.md §8 and the hidden constants, to check
/// the engine against (independent of its kernels).
enum Forward {
    /// Field transmission of the IQ modulator for arm drives and bias voltages, phases now.
    static func field(_ t: SimulationTruth, _ phases: TruePhases, driveI: Double, driveQ: Double,
                      biasI: Double, biasQ: Double, biasPhase: Double) -> Complex<Double> {
        func arm(_ v: Double, _ vb: Double, _ c: ModulatorChannel) -> Complex<Double> {
            let m = t.modulator[c]
            let phi = Double.pi * (v + vb) / (2 * m.vPi.si) + phases.modulator[c]!
            return Complex(cos(phi), m.leakage * sin(phi))
        }
        let theta = Double.pi * biasPhase / t.modulator.phase.vPi.si + phases.modulator[.phase]!
        return (arm(driveI, biasI, .i) + Complex(cos(theta), sin(theta)) * arm(driveQ, biasQ, .q)) * Complex(0.5)
    }

    /// √photons per mode at unit field at the server output: L-I, insertion loss, attenuator with
    /// its offset, tap, output loss, hν at the true wavelength, one symbol period.
    static func fieldScale(_ t: SimulationTruth, current: Double, attenuation: Double, symbolRate: Double, temperature: Double = 298.15) -> Double {
        let p = t.laser.slopeEfficiency.si * max(0, current - t.laser.thresholdCurrent.si)
            * pow(10, -t.modulator.insertionLoss.dB / 10) * pow(10, -(attenuation + t.tap.attenuatorOffset.dB) / 10)
            * (1 - t.tap.fraction) * pow(10, -t.tap.outputLoss.dB / 10)
        let lambda = t.laser.wavelength.si + t.laser.tuning.si * (temperature - 298.15)
        return (p / symbolRate / (6.62607015e-34 * 299_792_458 / lambda)).squareRoot()
    }

    static func link(loss: Double, phase: Double) -> Complex<Double> {
        let a = pow(10, -loss / 20)
        return Complex(a * cos(phase), a * sin(phase))
    }
}

/// Per-group moments of samples.
func groupedMoments(_ xs: [Float], groups: Int, group: (Int) -> Int, _ transform: (Double) -> Double = { $0 }) -> [RunningMoments] {
    var m = [RunningMoments](repeating: RunningMoments(), count: groups)
    for (k, x) in xs.enumerated() { m[group(k)].add(transform(Double(x))) }
    return m
}

/// Tolerance of a sample variance of n Gaussian samples: `z` standard errors.
func varianceTolerance(_ variance: Double, count: Int, z: Double = 5) -> Double {
    z * variance * (2.0 / Double(count - 1)).squareRoot()
}
