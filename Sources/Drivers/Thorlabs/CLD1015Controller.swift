import BenchIO
import BenchKit
import Foundation

/// The laser-diode side of a Thorlabs CLD1015 controller (Series 4000 SCPI command set, "Series
/// 4000 SCPI Programmer's Reference Manual" v3.3), shared by every driver that drives a diode on
/// it: the server's laser (`ThorlabsCLD1015`) and the client's semiconductor optical amplifier
/// (`ThorlabsCLD1015SOA`). It sends what it is told; the callers check values against their
/// limits before calling it.
///
/// - `SOURce[1]:CURRent:LIMit[:AMPLitude]?` (§3.7.2): the controller's own LD current limit;
/// - `SOURce[1]:CURRent[:LEVel][:IMMediate][:AMPLitude] <A>` and `?` (§3.7.3): the setpoint;
/// - `OUTPut1[:STATe] ON|OFF` and `?` (§3.4.1): the LD output; `OUTPut2[:STATe]?`: the TEC;
/// - `SOURce2:TEMPerature?` and `MEASure[:SCALar]:TEMPerature?` (§3.3.6): TEC setpoint, diode
///   temperature;
/// - `SOURce[1]:FUNCtion:MODE` (§3.7.1) and `SOURce[1]:AM[:STATe]` (§3.7.6): constant current
///   and modulation off, forced before every switch-on;
/// - `STATus:MEASurement:CONDition?` (§3.14.3): keylock, interlock and TEC faults after switch-on.
struct CLD1015Controller: Sendable {
    let link: InstrumentLink
    let device: String

    /// The controller's LD current limit (front panel), read back.
    func currentLimit() async throws -> Current {
        let amps = try await link.run(device) { s in try await s.queryDouble("SOUR:CURR:LIM:AMPL?") }
        guard amps.isFinite, amps >= 0 else {
            throw DeviceError(.instrumentError, device: device, message: "the controller reports a current limit of \(amps) A",
                              remedy: "set the LD current limit on the controller's front panel")
        }
        return .amperes(amps)
    }

    func writeSetpoint(_ current: Current) async throws {
        try await link.run(device) { s in try await s.write("SOUR:CURR \(SCPINumber.format(current.amperes))") }
    }

    func setpoint() async throws -> Current {
        .amperes(try await link.run(device) { s in try await s.queryDouble("SOUR:CURR?") })
    }

    func isOutputOn() async throws -> Bool {
        try await link.run(device) { s in try await s.queryBool("OUTP1:STAT?") }
    }

    func switchOff() async throws {
        try await link.run(device) { s in try await s.write("OUTP1:STAT OFF") }
    }

    /// Setpoint steps from `from` to `to`, none larger than `step`, `interval` apart; the last
    /// step lands on `to` exactly (a ramp down ends at 0 A, not at a rounding residue).
    func ramp(from: Current, to target: Current, step: Current, interval: Duration) async throws {
        var i = from
        while i.si != target.si {
            i = abs(target.si - i.si) <= step.si + 1e-12 ? target : Current(si: i.si + (target.si > i.si ? step.si : -step.si))
            try await writeSetpoint(i)
            if i.si != target.si { try await Task.sleep(for: interval) }
        }
    }

    /// The safe state (docs/hardware.md §6.6): with the output on, the setpoint ramped to 0 in
    /// steps, then the output off; with it off, setpoint 0 and off again (idempotent).
    func rampDownAndSwitchOff(step: Current, interval: Duration) async throws {
        if try await isOutputOn() {
            try await ramp(from: try await setpoint(), to: .zero, step: step, interval: interval)
            try await switchOff()
        } else {
            try await link.run(device) { s in
                try await s.write("SOUR:CURR 0")
                try await s.write("OUTP1:STAT OFF")
            }
        }
    }

    /// Switches the LD output on, only with the TEC on and within `tecWindow` of its setpoint and
    /// the setpoint at most `switchOnCurrent`; forces constant current and modulation off first,
    /// and reads back the output and the status register after (a keylock, an open interlock or
    /// a TEC fault keeps the output off without an error-queue entry).
    func switchOn(tecWindow: Temperature, switchOnCurrent: Current) async throws {
        try await link.run(device) { s in
            guard try await s.queryBool("OUTP2:STAT?") else {
                throw DeviceError(.notReady, device: device, message: "emission refused: the TEC is off",
                                  remedy: "switch the TEC on (OUTP2 / front panel) and wait for the temperature to settle")
            }
            let setpoint = try await s.queryDouble("SOUR2:TEMP?"), measured = try await s.queryDouble("MEAS:TEMP?")
            guard abs(measured - setpoint) <= tecWindow.si else {
                throw DeviceError(.notReady, device: device,
                                  message: String(format: "emission refused: the diode is at %.3f °C, %.3f K from the TEC setpoint %.3f °C (window %.3f K)",
                                                  measured, abs(measured - setpoint), setpoint, tecWindow.si),
                                  remedy: "wait for the TEC to settle, or check the TEC connection")
            }
            let current = try await s.queryDouble("SOUR:CURR?")
            guard current <= switchOnCurrent.si + 1e-12 else {
                throw DeviceError(.notReady, device: device,
                                  message: "emission refused: the setpoint is \(Current.amperes(current)), above the switch-on current \(switchOnCurrent)",
                                  remedy: "set the current to at most \(switchOnCurrent), switch on, then ramp")
            }
            try await ensureConstantCurrent(s)
            try await s.write("OUTP1:STAT ON")
            // §3.14.3: a keylock, an open interlock or a TEC fault keeps the output off or trips
            // it; neither shows in the error queue, so read the output state and the register.
            let on = try await s.queryBool("OUTP1:STAT?")
            let condition = try await s.queryInt("STAT:MEAS:COND?")
            let problems = Self.blockingConditions.filter { condition & $0.bit != 0 }.map(\.text)
            if !on || !problems.isEmpty {
                try await s.write("OUTP1:STAT OFF")
                throw DeviceError(.notReady, device: device,
                                  message: "emission did not start: the LD output reads \(on ? "on" : "off") and STAT:MEAS:COND? is \(condition)"
                                      + (problems.isEmpty ? "" : " (\(problems.joined(separator: ", ")))") + "; the output was switched off again",
                                  remedy: "check the keylock and the LD interlock plug, the TEC and its cable, then switch on again")
            }
        }
    }

    /// STATus:MEASurement bits that mean the LD must not (or cannot) emit (§3.14.3 table).
    static let blockingConditions: [(bit: Int, text: String)] = [
        (1, "keylock protection active"), (4, "LD interlock active"), (8, "LD current limit reached"), (16, "LD output inhibit active"),
        (256, "temperature protection active"), (512, "temperature window failure"), (1024, "temperature sensor failure"),
        (4096, "TEC connection failure"), (16384, "over temperature"),
    ]

    /// Constant-current mode and analog modulation off (§3.7.1, §3.7.6), forced when another
    /// program or the front panel left them otherwise, then read back.
    private func ensureConstantCurrent(_ s: SCPISession) async throws {
        if try await s.query("SOUR:FUNC:MODE?").uppercased().hasPrefix("CURR") == false {
            try await s.write("SOUR:FUNC:MODE CURR")
            guard try await s.query("SOUR:FUNC:MODE?").uppercased().hasPrefix("CURR") else {
                throw DeviceError(.instrumentError, device: device, message: "emission refused: the LD source stays out of constant-current mode",
                                  remedy: "select constant current on the controller's front panel")
            }
        }
        if try await s.queryBool("SOUR:AM:STAT?") {
            try await s.write("SOUR:AM:STAT OFF")
            guard try await !s.queryBool("SOUR:AM:STAT?") else {
                throw DeviceError(.instrumentError, device: device, message: "emission refused: analog modulation stays on, so the diode current is not the setpoint",
                                  remedy: "switch modulation off on the controller's front panel")
            }
        }
    }

    func identify() async throws -> InstrumentIdentity {
        let idn = try await link.run(device) { s in try await s.identify() }
        return InstrumentIdentity(manufacturer: idn.manufacturer, model: idn.model, serial: idn.serialNumber, firmware: idn.firmware)
    }
}
