import Foundation
import Testing

/// The safety guard at the bus level: a `qbench` process drives umockdev-emulated instruments
/// through the real libusb code (umockdev serves the devices of this test process to the
/// children it starts: they inherit LD_PRELOAD and UMOCKDEV_DIR), is killed with SIGKILL while
/// the laser emits, and the instruments' own state afterwards says whether the guard it started
/// made them safe. (The GPIO lines stay out of it: the emulated chip hands out line-handle fds of
/// this process, which another process cannot use.)
extension BusTests {
    static let qbench = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/qbench")

    /// The laser, the modulator and the output tap of the fibre test bed's server, on the
    /// emulated bus; the safe state is the default one (ramp the laser down, zero the drive).
    static let usbBench = """
    bench: emulated-usb-server
    roles:
      server.laser:
        driver: thorlabs-cld1015
        address: usbtmc://1313:804f?serial=M00443953
        limits:
          current: {min: 0 mA, max: 100 mA}
        options: {wavelength: 1550 nm}
      server.modulator:
        driver: keysight-33500b
        address: usbtmc://0957:2807?serial=MY52600001
        limits:
          drive: {min: -2 V, max: 2 V}
        options:
          i: {channel: 1}
          q: {channel: 2}
          phase: {awg: "usbtmc://0957:2807?serial=MY52600002", channel: 1, load: high-z}
      server.tap:
        driver: thorlabs-pm100usb
        address: usbtmc://1313:8072?serial=P2000001
        options: {wavelength: 1550 nm}
    """

    @Test("kill -9 of qbench while its laser emits: the safety guard it started ramps the laser down and holds the modulator's arms at their biases, through libusb, and says so in guard.log")
    func guardMakesTheBenchSafeAfterSIGKILL() async throws {
        try await withEmulatedBus { bus in
            let lab = try EmulatedLab(bus)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-guard-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let benchFile = folder.appendingPathComponent("usb-server.yaml")
            try Self.usbBench.write(to: benchFile, atomically: true, encoding: .utf8)
            let home = folder.appendingPathComponent("home")

            let engine = Process()
            engine.executableURL = Self.qbench
            engine.arguments = ["align", "--bench", benchFile.path, "--current", "40 mA"]
            engine.environment = ProcessInfo.processInfo.environment.merging(["QBENCH_HOME": home.path]) { $1 }
            // Files, not pipes: the guard inherits the engine's stderr and outlives it.
            let output = folder.appendingPathComponent("engine.out")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            let log = try FileHandle(forWritingTo: output)
            engine.standardOutput = log
            engine.standardError = log
            try engine.run()
            defer { if engine.isRunning { kill(engine.processIdentifier, SIGKILL) } }

            // The engine has the laser on at 40 mA and (as a session would) the modulator's arms on.
            let emitting = await eventually(seconds: 60) { lab.laser.device.withModel { $0.laserOn && abs($0.setpoint - 0.04) < 1e-9 } }
            let engineOutput = { String(decoding: (try? Data(contentsOf: output)) ?? Data(), as: UTF8.self) }
            try #require(emitting, "the engine never switched the laser on: \(engineOutput())")
            lab.awg1.device.withModel { awg in
                for (k, bias) in [(0, 0.25), (1, -0.25)] {   // each arm playing its waveform on its bias (the carrier null)
                    awg.channels[k].function = "ARB"; awg.channels[k].burst = true
                    awg.channels[k].offset = bias; awg.channels[k].output = true
                }
            }

            let sentBeforeKill = lab.laser.device.receivedMessages.count
            let killed = ContinuousClock.now
            kill(engine.processIdentifier, SIGKILL)
            engine.waitUntilExit()
            #expect(engine.terminationReason == .uncaughtSignal && engine.terminationStatus == SIGKILL)

            // Nothing in the engine ran after the kill; whatever changes now is the guard's doing.
            let safe = await eventually(seconds: 30) { !lab.laser.device.withModel { $0.laserOn } }
            print("safety guard: laser off \(killed.duration(to: .now)) after SIGKILL of the engine")
            #expect(safe, "the laser is still on after the engine was killed: \(engineOutput())")
            #expect(lab.laser.device.withModel { $0.setpoint } == 0)
            // Zero drive: each arm a DC level at its bias (the carrier null stays; an output switched
            // off would leave the modulator at 0 V, off its null, letting light through).
            let driveZero = await eventually(seconds: 10) {
                lab.awg1.device.withModel { awg in
                    zip([0.25, -0.25], awg.channels).allSatisfy { bias, ch in ch.function == "DC" && !ch.burst && abs(ch.offset - bias) < 1e-9 }
                }
            }
            #expect(driveZero, "the modulator's arms are not held at their biases: \(lab.awg1.device.withModel { $0.channels.map { ($0.function, $0.burst, $0.offset, $0.output) } }) \(engineOutput())")
            // The laser was ramped down in steps (10 mA, the bench default), not switched off at 40 mA.
            let afterKill = lab.laser.device.receivedMessages.dropFirst(sentBeforeKill)
            let currents = afterKill.filter { $0.hasPrefix("SOUR:CURR ") }.compactMap { Double($0.dropFirst("SOUR:CURR ".count)) }
            #expect(currents.count >= 4 && currents.last == 0 && zip(currents, currents.dropFirst()).allSatisfy { $0 > $1 } && (currents.first ?? 1) <= 0.03 + 1e-12,
                    "expected a ramp down from 40 mA, got \(Array(afterKill))")

            // The guard's record.
            let guardLog = home.appendingPathComponent("guard.log")
            let logged = await eventually(seconds: 10) { ((try? String(contentsOf: guardLog, encoding: .utf8)) ?? "").hasSuffix("\n") }
            try #require(logged, "no guard.log: \(engineOutput())")
            let line = try String(contentsOf: guardLog, encoding: .utf8)
            #expect(line.contains("emulated-usb-server") && line.contains("server.laser: ramp-down") && !line.contains("\"succeeded\":false"), "\(line)")
            #expect(engineOutput().contains("qbench guard: bench 'emulated-usb-server' is in its safe state"), "\(engineOutput())")
        }
    }

    @Test("a qbench process that ends normally makes its bench safe itself and its guard stands down: no guard.log")
    func guardStandsDownAfterANormalEnd() async throws {
        try await withEmulatedBus { bus in
            let lab = try EmulatedLab(bus)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-guard-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let benchFile = folder.appendingPathComponent("usb-server.yaml")
            try Self.usbBench.write(to: benchFile, atomically: true, encoding: .utf8)
            let home = folder.appendingPathComponent("home")
            let engine = Process()
            engine.executableURL = Self.qbench
            let trace = folder.appendingPathComponent("io.jsonl")
            engine.arguments = ["align", "--bench", benchFile.path, "--current", "30 mA", "--seconds", "1", "--io-trace", trace.path]
            engine.environment = ProcessInfo.processInfo.environment.merging(["QBENCH_HOME": home.path]) { $1 }
            let output = folder.appendingPathComponent("engine.out")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            let log = try FileHandle(forWritingTo: output)
            engine.standardOutput = log
            engine.standardError = log
            try engine.run()
            engine.waitUntilExit()
            let text = String(decoding: (try? Data(contentsOf: output)) ?? Data(), as: UTF8.self)
            #expect(engine.terminationStatus == 0, "\(text)")
            #expect(!lab.laser.device.withModel { $0.laserOn })
            try await Task.sleep(for: .seconds(1))
            #expect(!FileManager.default.fileExists(atPath: home.appendingPathComponent("guard.log").path), "\(text)")
            #expect(!text.contains("qbench guard:"), "\(text)")
            // The I/O trace: the laser's commands and replies, with the instrument and a timestamp.
            struct Line: Decodable { let at: String; let instrument: String; let message: String }
            let lines = try String(contentsOf: trace, encoding: .utf8).split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
            let laser = lines.filter { $0.instrument.contains("M00443953") }.map(\.message)
            #expect(laser.contains("→ SOUR:CURR 0.03") && laser.contains("→ SOUR:CURR?") && laser.contains { $0.hasPrefix("← ") }, "\(laser.prefix(40))")
            #expect(lines.allSatisfy { $0.at.hasPrefix("20") })
        }
    }
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass.
private func eventually(seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
