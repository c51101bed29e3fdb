import Foundation
import Testing
@testable import BenchKit

/// Issue 11: bench files from outside never crash qbench or hang it; every refusal names the
/// file, the line and what to do.
@Suite("Bench files: hostile input")
struct BenchFileRobustnessTests {
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func refusal(_ text: String) -> BenchFileError? {
        do { _ = try BenchDescription.parse(text, file: "t.yaml"); return nil } catch { return error }
    }

    /// `Duration.seconds(v·86400)` used to trap for these (overflow of Duration's Int128 or an
    /// infinite value).
    @Test(arguments: ["inf d", "1e300 d", "1e16 d", "nan d", "11575 d"])
    func calibrationValidityBeyondRangeIsRefused(_ value: String) throws {
        let text = goodBench + "\ncalibration-validity:\n  modulator: \(value)\n"
        let e = try #require(refusal(text))
        #expect(e.line == text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("modulator: \(value)") }! + 1)
        #expect(e.message.contains(value.components(separatedBy: " ")[0]))
    }

    @Test func calibrationValidityInRangeIsRead() throws {
        let b = try BenchDescription.parse(goodBench + "\ncalibration-validity:\n  modulator: 3650 d\n  back-to-back: 90 s\n", file: "t.yaml")
        #expect(b.calibrationValidity["modulator"] == .seconds(3650 * 86400))
        #expect(b.calibrationValidity["back-to-back"] == .seconds(90))
    }

    @Test func misspeltCalibrationValidityKeyIsRefused() throws {
        let e = try #require(refusal(goodBench + "\ncalibration-validity:\n  modulater: 1 h\n"))
        #expect(e.message.contains("unknown key 'modulater'"))
        #expect(e.message.contains("back-to-back"))
        #expect(e.line == goodBench.split(separator: "\n", omittingEmptySubsequences: false).count + 2)
    }

    /// The classic "billion laughs": 4.8 kB that expand to ~10^9 values. Refused at the first
    /// anchor, in well under a second, before anything is expanded.
    @Test func billionLaughsIsRefusedBeforeExpansion() throws {
        var text = "bench: laughs\nroles: {}\nlol0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
        for k in 1...12 { text += "lol\(k): &a\(k) [" + Array(repeating: "*a\(k - 1)", count: 9).joined(separator: ", ") + "]\n" }
        let started = ContinuousClock.now
        let e = try #require(refusal(text))
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(e.line == 3)
        #expect(e.message.contains("anchor"))
    }

    @Test(arguments: [
        ("bench: a\nroles: {}\nx: *undefined\n", 3, "alias"),
        ("bench: a\nroles: {}\nx: &y 1\n", 3, "anchor"),
        ("bench: a\nroles: {}\nx:\n  - &y {a: 1}\n", 4, "anchor"),
        ("bench: a\nroles: {}\nx: [1, *y]\n", 3, "alias"),
    ])
    func anchorsAndAliasesAreRefused(_ text: String, _ line: Int, _ word: String) throws {
        let e = try #require(refusal(text))
        #expect(e.line == line)
        #expect(e.message.contains(word))
    }

    /// '&' and '*' inside values (not at a node's start) and in comments and quoted or block
    /// text are ordinary characters.
    @Test func ampersandsAndStarsInTextAreAccepted() throws {
        let text = goodBench.replacingOccurrences(of: "description: a small bench for tests",
                                                  with: "description: R&D bench * 2 # &comment *x\n# *note\n") + "\n"
        #expect(refusal(text) == nil)
        let quoted = goodBench.replacingOccurrences(of: "description: a small bench for tests", with: "description: \"*starred & 'quoted'\"")
        #expect(refusal(quoted) == nil)
        let block = goodBench.replacingOccurrences(of: "description: a small bench for tests", with: "description: |\n  *OPC? then &x\n    * nested\n")
        #expect(refusal(block) == nil)
    }

    @Test(arguments: [String(repeating: "[", count: 100_000), String(repeating: "- ", count: 5_000) + "x",
                      (0..<200).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")])
    func deepNestingIsRefused(_ nest: String) throws {
        let e = try #require(refusal("bench: deep\nroles: {}\nx:\n" + nest + "\n"))
        #expect(e.message.contains("deep"))
    }

    @Test func oversizedFileIsRefused() throws {
        let text = goodBench + "\n" + String(repeating: "# padding padding padding\n", count: 20_000)
        let e = try #require(refusal(text))
        #expect(e.message.contains("KiB"))
    }

    /// Used to say "cannot be read: check the path" for a file that is there.
    @Test func nonUTF8FileIsReportedAsNotUTF8WithItsLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-utf8-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("latin1.yaml")
        var bytes = Array("bench: test\ndescription: caf".utf8)
        bytes.append(0xE9)   // é in Latin-1
        bytes += Array("\nroles: {}\n".utf8)
        try Data(bytes).write(to: url)
        do { _ = try BenchDescription.load(url); Issue.record("accepted a Latin-1 file") } catch {
            #expect(error.line == 2)
            #expect(error.message.contains("not UTF-8"))
            #expect(error.message.contains("byte 28"))
        }
        do { _ = try BenchDescription.load(dir.appendingPathComponent("missing.yaml")); Issue.record("accepted a missing file") } catch {
            #expect(error.message.contains("does not exist"))
        }
    }

    @Test(arguments: ["1e400 GBd", "inf Hz", "nan GBd", "1e306 THz", "0 GBd", "1e13 Hz", "-1 GBd"])
    func nonFiniteOrOutOfRangeSymbolRateIsRefused(_ rate: String) throws {
        let text = goodBench.replacingOccurrences(of: "roles:", with: "symbol-rate: \(rate)\nroles:")
        let e = try #require(refusal(text))
        #expect(e.line == 3)
    }

    @Test(arguments: ["1e400 V", "inf V", "nan mV", "1e306 kV"])
    func nonFiniteQuantitiesAreRefused(_ text: String) {
        #expect(throws: UnitParseError.self) { try Voltage.parse(text) }
    }

    @Test(arguments: ["current: {max: 1e400 mA}", "current: {max: nan mA}"])
    func nonFiniteLimitsAreRefused(_ limit: String) throws {
        let e = try #require(refusal(goodBench.replacingOccurrences(of: "current: {max: 150 mA}", with: limit)))
        #expect(e.line == 8)
    }

    /// The safe state must leave no emitting device (laser, modulator, shutter) as it was.
    @Test(arguments: [
        ("safe-state: []", ["server.laser", "server.modulator", "shutter"]),
        ("safe-state:\n  - shutter: close\n  - server.modulator: zero-drive", ["server.laser"]),
        ("safe-state:\n  - server.laser: ramp-down\n  - server.voa: safe", ["server.modulator", "shutter"]),
    ])
    func safeStateMustCoverEveryEmittingDevice(_ safeState: String, _ missing: [String]) throws {
        let text = goodBench.components(separatedBy: "safe-state:")[0] + safeState + "\n"
        let e = try #require(refusal(text))
        #expect(e.line == text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("safe-state:") }! + 1)
        for role in missing { #expect(e.message.contains(role)) }
        #expect(e.message.contains("add"))
    }

    @Test func safeStateWithSafeActionCovers() throws {
        let text = goodBench.components(separatedBy: "safe-state:")[0] + "safe-state:\n  - server.laser: safe\n  - shutter: safe\n  - server.modulator: safe\n"
        #expect(refusal(text) == nil)
    }

    @Test(arguments: ["sim.yaml", "sim-lossy.yaml", "fiber-testbed.yaml"])
    func shippedBenchesStillValidate(_ name: String) throws {
        let b = try BenchDescription.load(Self.repositoryRoot.appendingPathComponent("Devices/benches/\(name)"))
        let covered = Set(b.safeState.map(\.role))
        for role in b.roles where BenchDescription.emittingFamilies.contains(role.family) { #expect(covered.contains(role)) }
    }

    @Test func checkedDurationRefusesWhatWouldTrap() {
        #expect(Duration(checkedSeconds: .infinity) == nil)
        #expect(Duration(checkedSeconds: .nan) == nil)
        #expect(Duration(checkedSeconds: 1e10) == nil)
        #expect(Duration(checkedSeconds: 1.5) == .milliseconds(1500))
    }
}
