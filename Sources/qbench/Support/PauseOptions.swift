import ArgumentParser
import Drivers
import Sequencer

/// How long a run pauses, instead of failing, for a tripped interlock to clear and for an
/// instrument found gone (unplugged, power-cycled) to come back at its address with its serial
/// number (docs/hardware.md §2.5). A pause that outlasts its timeout stops the run with the
/// hardware safe; `--resume` continues it.
struct PauseOptions: ParsableArguments {
    @Option(name: .customLong("interlock-timeout"), help: "How long to wait for a tripped interlock to clear before stopping the run (e.g. '60 s', '500 ms'; at most a day).")
    var interlockTimeout = "60 s"
    @Option(name: .customLong("reconnect-timeout"), help: "How long to wait for an instrument found gone to be reconnected (same address and serial number) before stopping the run (e.g. '60 s'; '0 s': stop at once).")
    var reconnectTimeout = "60 s"

    static func parse(_ text: String, option: String) throws -> Duration {
        guard let d = DurationText.parse(text) else {
            throw ValidationError("--\(option) '\(text)' is not a duration: write a number from 0 to \(Int(DurationText.maximumSeconds)) with s, ms, µs (or us) or ns, e.g. '60 s'")
        }
        return d
    }

    func validate() throws {
        _ = try Self.parse(interlockTimeout, option: "interlock-timeout")
        _ = try Self.parse(reconnectTimeout, option: "reconnect-timeout")
    }

    /// Sets both timeouts on a station's environment, or on an in-process run's (both stations
    /// take them from it).
    func apply(to env: inout some PauseTimeouts) throws {
        env.interlockTimeout = try Self.parse(interlockTimeout, option: "interlock-timeout")
        env.reconnectTimeout = try Self.parse(reconnectTimeout, option: "reconnect-timeout")
    }
}
