import ArgumentParser
import BenchKit
import Foundation
import Sequencer

/// Alignment light: the server's laser on at a set current, held while someone aligns or patches
/// fibre, with the output tap's power printed, until Ctrl-C (or `--seconds`); then the safe state.
struct AlignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "align",
        abstract: "Hold the server's laser on at a set current for alignment, printing the output tap's power, until Ctrl-C.",
        discussion: """
            Checks the interlock, switches the laser on from zero and ramps it to --current (every value through the \
            bench's limits: a current beyond them is refused before it reaches the controller), opens the shutter only \
            with --open-shutter (the bench's constraints apply), and prints the tap's power once a second. Ctrl-C, \
            SIGTERM, SIGHUP (a closed terminal), an interlock trip or the end of --seconds ramp the laser down and put \
            the bench in its safe state. On a bench with real instruments a safety guard makes the bench safe even if \
            this process is killed (docs/safety-guard.md).
            """)

    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @Option(help: "Laser current, e.g. '40 mA'.") var current: String
    @Flag(name: .customLong("open-shutter"), help: "Open the shutter while the laser is on (default: closed).") var openShutter = false
    @Option(parsing: .unconditional, help: "Hold this many seconds, then stop (default: until interrupted).") var seconds: Double?

    func validate() throws {
        if let seconds, !(seconds.isFinite && seconds > 0 && seconds <= 86_400) {
            throw ValidationError("--seconds must be a number of seconds in (0, 86400]")
        }
        do { _ = try Current.parse(current) } catch { throw ValidationError("--current: \(error)") }
    }

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try logging.bootstrap()
        let target = try Current.parse(current)
        let opened = try await BenchOpening.open(bench)
        let stop = StopRequest()
        let signals = installSignalHandlers(stop)
        defer { _ = signals }
        do {
            try await hold(opened, at: target, stop: stop)
        } catch {
            await opened.enterSafeState()
            throw error
        }
        let steps = await opened.enterSafeState()
        let failed = steps.filter { !$0.succeeded }
        guard failed.isEmpty else {
            throw CLIError("safe-state step(s) failed: \(failed.map { "\($0.step): \($0.error ?? "")" }.joined(separator: "; ")); make those instruments safe by hand")
        }
        printLine("laser off; bench '\(opened.description.name)' in its safe state")
    }

    private func hold(_ bench: Bench, at target: Current, stop: StopRequest) async throws {
        guard try await bench.interlockIsClear() else {
            throw CLIError("the interlock of bench '\(bench.description.name)' is open: close the enclosure or clear the safety chain, then run again")
        }
        if bench.has(.shutter) { try await bench.shutter().setOpen(false) }
        let laser = try bench.laser()
        // The guard's limits admit or refuse the target before any current flows.
        try await bench.limits.admit(.serverLaser, "current", target.si)
        try await laser.setCurrent(.zero)
        try await laser.setEmission(true)
        try await laser.ramp(to: target)
        if openShutter { try await bench.shutter().setOpen(true) }
        printLine("laser on at \(target)\(openShutter ? ", shutter open" : ""); Ctrl-C to stop")
        let started = ContinuousClock.now
        while stop.requested == nil {
            if let seconds, started.duration(to: .now) >= .seconds(seconds) { break }
            guard try await bench.interlockIsClear() else {
                throw CLIError("the interlock opened: laser ramped down and the bench put in its safe state; clear the safety chain before switching on again")
            }
            if bench.has(.serverTap) {
                let p = try await bench.powerMeter().readPower(averaging: .milliseconds(100))
                printLine("tap \(p)")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }
}
