import Foundation
import Testing
@testable import BenchKit

@Suite("Limits and safe state")
struct LimitTests {
    func open() async throws -> (Bench, CallLog) {
        let log = CallLog()
        let bench = try await Bench.open(try BenchDescription.parse(goodBench, file: "test.yaml"), registry: DriverRegistry([RecordingDriver(log: log)]))
        return (bench, log)
    }

    /// A request beyond a limit never reaches the device (so never produces a byte on a wire).
    @Test(arguments: [160.0, -1.0, .infinity])
    func laserCurrentBeyondLimitNeverReachesTheDevice(mA: Double) async throws {
        let (bench, log) = try await open()
        let laser = try bench.laser()
        await #expect(throws: LimitViolation.self) { try await laser.setCurrent(.milliamperes(mA)) }
        #expect(await log.calls.isEmpty)
        try await laser.setCurrent(.milliamperes(100))
        #expect(await log.calls == ["laser.current=100.0"])
    }

    @Test func violationMessageSaysWhereTheLimitIsDeclared() async throws {
        let (bench, _) = try await open()
        do { try await bench.laser().setCurrent(.milliamperes(151)); Issue.record("accepted") } catch let e as LimitViolation {
            #expect(e.description.contains("server.laser.current"))
            #expect(e.description.contains("test.yaml:8"))
            #expect(e.description.contains("150 mA"))
        }
    }

    @Test func waveformOutsideDriveRangeIsRefusedWhole() async throws {
        let (bench, log) = try await open()
        let m = try bench.modulator()
        let ok = Waveform(volts: [0, 0.5, -0.9], sampleRate: .gigahertz(1))
        let bad = Waveform(volts: [0, 0.5, -1.2], sampleRate: .gigahertz(1))
        await #expect(throws: LimitViolation.self) { try await m.loadDrive(i: ok, q: bad) }
        #expect(await log.calls.isEmpty)
        try await m.loadDrive(i: ok, q: ok)
        #expect(await log.calls == ["modulator.load 3"])
    }

    /// A sample that is not a number anywhere in a waveform refuses it whole: the range of the
    /// samples must not skip it (a NaN weight in a model file would otherwise reach the AWG).
    @Test(arguments: [[0, Float.nan, 0.5], [Float.nan, 0.2], [0.3, -0.2, .nan], [0.1, .infinity],
                      [Float](repeating: 0.2, count: 20) + [.nan] + [Float](repeating: -0.1, count: 19),
                      [Float](repeating: 0.2, count: 33) + [-.infinity] + [Float](repeating: 0.1, count: 6)])
    func waveformWithANonNumberIsRefusedWhole(volts: [Float]) async throws {
        let (bench, log) = try await open()
        let m = try bench.modulator()
        let ok = Waveform(volts: [0, 0.5, -0.9], sampleRate: .gigahertz(1))
        let bad = Waveform(volts: volts, sampleRate: .gigahertz(1))
        await #expect(throws: LimitViolation.self) { try await m.loadDrive(i: bad, q: ok) }
        await #expect(throws: LimitViolation.self) { try await m.loadDrive(i: ok, q: bad) }
        #expect(await log.calls.isEmpty)
    }

    /// The cross-parameter constraint works both ways: no opening the shutter while the current is
    /// above 80 mA, and no raising the current above 80 mA while it is open.
    @Test func constraintAcrossParameters() async throws {
        let (bench, log) = try await open()
        let laser = try bench.laser(), shutter = try bench.shutter()
        try await laser.setCurrent(.milliamperes(120))
        await #expect(throws: LimitViolation.self) { try await shutter.setOpen(true) }
        try await laser.setCurrent(.milliamperes(70))
        try await shutter.setOpen(true)
        await #expect(throws: LimitViolation.self) { try await laser.setCurrent(.milliamperes(90)) }
        try await laser.setCurrent(.milliamperes(80))
        #expect(await log.calls == ["laser.current=120.0", "laser.current=70.0", "shutter.open=true", "laser.current=80.0"])
    }

    @Test func failedDeviceCallDoesNotLeaveTheAdmittedValue() async throws {
        let (bench, _) = try await open()
        await bench.limits.observe(.serverModulator, "bias", 1)
        let m = try bench.modulator()
        let inner = try #require(await (m as? GuardedModulator)?.inner as? RecordingModulator)
        await inner.failNextCall()
        await #expect(throws: DeviceError.self) { try await m.setBias(.i, .volts(2)) }
        #expect(await bench.limits.value(.serverModulator, "bias") == 1)
    }

    @Test func safeStateRunsInDeclaredOrderAndReportsEveryStep() async throws {
        let (bench, log) = try await open()
        try await bench.laser().setCurrent(.milliamperes(45))
        try await bench.laser().setEmission(true)
        var seen: [String] = []
        let records = await bench.enterSafeState { seen.append($0.step) }
        #expect(records.allSatisfy { $0.succeeded })
        #expect(seen == ["shutter: close", "server.laser: ramp-down", "server.modulator: zero-drive", "server.voa: safe"])
        let calls = await log.calls
        #expect(calls.first == "laser.current=45.0")
        // Ramp in 10 mA steps: 35, 25, 15, 5, 0, then emission off.
        let ramp = calls.filter { $0.hasPrefix("laser.current=") }.dropFirst().compactMap { Double($0.dropFirst(14)) }
        #expect(ramp.count == 5)
        for (got, want) in zip(ramp, [35.0, 25, 15, 5, 0]) { #expect(abs(got - want) < 1e-9) }
        #expect(calls.last == "voa.makeSafe")
        #expect(try await bench.laser().isEmitting() == false)
    }

    @Test func snapshotHasEveryRole() async throws {
        let (bench, _) = try await open()
        let s = await bench.snapshot()
        #expect(s.entries.map(\.role) == ["server.laser", "server.modulator", "server.voa", "shutter"])
        #expect(s.entries.allSatisfy { $0.identity != nil })
        #expect(s.benchFile == goodBench)
    }
}
