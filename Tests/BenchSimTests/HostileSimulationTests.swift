import BenchKit
@testable import BenchSim
import Foundation
import Testing

/// Issue 11: simulated times and rates from a bench file never trap (Double → Int64 overflow in
/// `Time.duration`) and non-finite values are refused with the line.
@Suite("Simulation section: hostile values")
struct HostileSimulationTests {
    static let faults: [(String, String)] = [
        ("timeout", "delay"), ("timeout", "at"), ("timeout", "duration"), ("dead-receiver", "at"),
    ]

    func refusal(_ lines: String, marker: String) throws -> BenchFileError? {
        let text = TestBench.yaml(constants: [:]) + lines
        let description = try BenchDescription.parse(text, file: "hostile.yaml")
        do { _ = try SimulationConfiguration.parse(description.simulation); return nil } catch {
            let line = text.components(separatedBy: "\n").firstIndex { $0.contains(marker) }! + 1
            #expect(error.line == line, "\(error)")
            return error
        }
    }

    @Test(arguments: ["1e10 s", "1e999 s", "inf s", "1e20 ms"])
    func hugeFaultTimesAreRefused(_ value: String) throws {
        for (kind, key) in Self.faults {
            let role = "server.receiver"
            let lines = "  faults:\n    - role: \(role)\n      kind: \(kind)\n      \(key): \(value)\n"
            let e = try #require(try refusal(lines, marker: "\(key): \(value)"), "\(kind).\(key) = \(value) accepted")
            // The line names the key; the message names the value and the range.
            #expect(e.message.contains(value.components(separatedBy: " ")[0]))
        }
        let ramp = "  faults:\n    - role: server.modulator\n      kind: drift-burst\n      size: 0.1 rad\n      ramp: \(value)\n"
        #expect(try refusal(ramp, marker: "ramp: \(value)") != nil)
    }

    @Test func ordinaryFaultTimesStillParse() throws {
        #expect(try refusal("  faults:\n    - role: server.receiver\n      kind: timeout\n      at: 1e8 s\n      delay: 2 ms\n", marker: "at:") == nil)
    }

    /// Used to run to the end at 10 % accuracy.
    @Test(arguments: ["1e400 GBd", "inf GBd", "nan Hz", "2e12 Hz"])
    func nonFiniteOrHugeSymbolRateIsRefused(_ value: String) throws {
        let text = TestBench.yaml(constants: [:]).replacingOccurrences(of: "symbol-rate: 1 GBd", with: "symbol-rate: \(value)")
        if text.contains("symbol-rate: \(value)") {
            let description = try BenchDescription.parse(text, file: "hostile.yaml")
            #expect(throws: BenchFileError.self) { try SimulationConfiguration.parse(description.simulation) }
        } else {
            #expect(try refusal("  symbol-rate: \(value)\n", marker: "symbol-rate: \(value)") != nil)
        }
    }

    @Test func timeDurationIsNilInsteadOfTrapping() {
        #expect(Time.seconds(1e10).duration == nil)
        #expect(Time.seconds(.infinity).duration == nil)
        #expect(Time.seconds(2e-3).duration == .milliseconds(2))
    }
}
