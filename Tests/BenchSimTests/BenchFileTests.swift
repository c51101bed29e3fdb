import BenchKit
@testable import BenchSim
import Foundation
import SecureInference
import Testing

/// The `simulation:` section of bench files and the shipped simulated benches.
@Suite("Simulated bench files")
struct BenchFileTests {
    struct Broken: CustomTestStringConvertible, Sendable {
        let name: String
        /// Lines appended to a valid simulation section; the error must point at `marker`.
        let lines: String
        let marker: String
        let message: String
        var testDescription: String { name }
    }

    static let broken: [Broken] = [
        .init(name: "unknown key", lines: "  sede: 3\n", marker: "sede", message: "unknown key 'sede' in the simulation section"),
        .init(name: "wrong unit", lines: "  server.modulator:\n    v-pi-i: 4.5 A\n", marker: "v-pi-i", message: "bad value for server.modulator.v-pi-i"),
        .init(name: "out of range", lines: "  server.receiver:\n    efficiency: 0.9 ± 0.2\n", marker: "efficiency", message: "leaves its physical range"),
        .init(name: "spread on an integer", lines: "  client.receiver:\n    bits: 14 ± 1\n", marker: "bits", message: "takes no spread"),
        .init(name: "unknown constant", lines: "  client.amplifier:\n    gain: 3\n", marker: "gain", message: "unknown key 'gain' in simulation.client.amplifier"),
        .init(name: "bad symbol rate", lines: "  symbol-rate: fast\n", marker: "symbol-rate", message: "bad unit"),
        .init(name: "unknown fault kind", lines: "  faults:\n    - role: server.laser\n      kind: explode\n", marker: "kind: explode", message: "unknown fault kind 'explode'"),
        .init(name: "fault on the wrong family", lines: "  faults:\n    - role: server.laser\n      kind: dead-receiver\n", marker: "kind: dead-receiver", message: "needs a homodyne receiver"),
        .init(name: "fault on an unknown role", lines: "  faults:\n    - role: server.laserr\n      kind: disconnect\n", marker: "role: server.laserr", message: "unknown role 'server.laserr'"),
        .init(name: "drift burst without size", lines: "  faults:\n    - role: server.modulator\n      kind: drift-burst\n", marker: "- role: server.modulator", message: "is missing 'size'"),
    ]

    @Test(arguments: broken)
    func errorsInTheSimulationSectionNameTheLine(_ case_: Broken) async throws {
        let text = TestBench.yaml(constants: [:]) + case_.lines
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains(case_.marker) }! + 1
        let description = try BenchDescription.parse(text, file: "broken.yaml")
        do {
            _ = try await Bench.open(description, registry: SimulatedBench.registry())
            Issue.record("\(case_.name): the bench opened")
        } catch let error as BenchFileError {
            #expect(error.file == "broken.yaml")
            #expect(error.line == line, "\(case_.name): \(error)")
            #expect(error.message.contains(case_.message), "\(case_.name): \(error)")
        }
    }

    @Test func clientBehaviourIsParsed() throws {
        for (text, behaviour) in [("greedy-tap:0.7", ClientBehaviour.greedyTap(keptFraction: 0.7)), ("over-amplify:3", .overAmplify(gain: 3)),
                                  ("intercept-resend", .interceptResend), ("honest", .honest)] {
            let d = try BenchDescription.parse(TestBench.yaml(client: text), file: "t.yaml")
            #expect(try SimulationConfiguration.parse(d.simulation).clientBehaviour == behaviour)
        }
        let bad = try BenchDescription.parse(TestBench.yaml(client: "greedy-tap:1.5"), file: "t.yaml")
        #expect(throws: BenchFileError.self) { try SimulationConfiguration.parse(bad.simulation) }
    }

    @Test func simAddressesOnly() throws {
        let text = TestBench.yaml().replacingOccurrences(of: "address: sim://trigger", with: "address: gpio://gpiochip0/17")
        let d = try BenchDescription.parse(text, file: "t.yaml")
        #expect(throws: BenchFileError.self) { try SimulatedBench.registry().validate(d) }
    }

    /// The shipped default bench opens through `Bench.open` with the sim driver: every role, the
    /// twin's identities, the paper's lossless link, limits and the cross-parameter constraint
    /// enforced, and its safe-state sequence runs.
    @Test func shippedSimBenchOpens() async throws {
        let file = TestBench.root.appendingPathComponent("Devices/benches/sim.yaml")
        let bench = try await SimulatedBench.open(file)
        #expect(bench.roles == Role.allCases)
        let engine = try await SimulatedBench.engine(of: bench)
        #expect(engine.truth.link.lossForward == Decibels(0) && engine.truth.link.lossBack == Decibels(0))
        #expect(engine.truth.serverReceiver.efficiency < 1 && engine.truth.serverReceiver.electronicNoise.si > 0)
        #expect(engine.configuration.faults.isEmpty)
        let snapshot = await bench.snapshot()
        #expect(snapshot.entries.count == Role.allCases.count)
        #expect(snapshot.entries.allSatisfy { $0.identity?.manufacturer == "qbench-sim" && $0.error == nil })

        await #expect(throws: LimitViolation.self) { try await bench.laser().setCurrent(.milliamperes(120)) }
        try await bench.laser().setCurrent(.milliamperes(90))
        await #expect(throws: LimitViolation.self) { try await bench.shutter().setOpen(true) }   // 90 mA > 80 mA
        try await bench.laser().setCurrent(.milliamperes(60))
        try await bench.attenuator().setAttenuation(Decibels(45))
        try await bench.shutter().setOpen(true)
        await #expect(throws: LimitViolation.self) { try await bench.attenuator().setAttenuation(Decibels(20)) }

        let records = await bench.enterSafeState()
        #expect(records.count == bench.description.safeState.count)
        #expect(records.allSatisfy { $0.succeeded }, "\(records)")
        #expect(try await bench.shutter().isOpen() == false)
        #expect(try await bench.laser().current() == .zero)
    }

    @Test func shippedLossyBenchHasTheLinkLoss() async throws {
        let bench = try await SimulatedBench.open(TestBench.root.appendingPathComponent("Devices/benches/sim-lossy.yaml"))
        let engine = try await SimulatedBench.engine(of: bench)
        #expect(engine.truth.link.lossForward == Decibels(0.2) && engine.truth.link.lossBack == Decibels(0.2))
        #expect(try await bench.fiberLink().length() == .kilometres(1))
    }
}
