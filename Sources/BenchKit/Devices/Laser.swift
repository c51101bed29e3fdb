/// A CW laser diode on a current/TEC controller (the server's source; its light is also the
/// receivers' local oscillator).
public protocol Laser: BenchDevice {
    func setCurrent(_ current: Current) async throws
    func current() async throws -> Current
    func setEmission(_ on: Bool) async throws
    func isEmitting() async throws -> Bool
    func wavelength() async throws -> Length
    func setTemperature(_ setpoint: Temperature) async throws
    func temperature() async throws -> Temperature
}

extension Laser {
    /// Ramps the current to zero in steps (no current step larger than `step`), then switches the
    /// emission off: the safe way down for a laser diode.
    public func rampDown(step: Current = .milliamperes(10), interval: Duration = .milliseconds(20)) async throws {
        var i = try await current()
        while i.si > 0 {
            i = Current(si: max(0, i.si - step.si))
            try await setCurrent(i)
            if i.si > 0 { try await Task.sleep(for: interval) }
        }
        try await setEmission(false)
    }

    /// Ramps the current to `target` in steps of at most `step`.
    public func ramp(to target: Current, step: Current = .milliamperes(10), interval: Duration = .milliseconds(20)) async throws {
        var i = try await current()
        while abs(i.si - target.si) > 1e-12 {
            let delta = max(-step.si, min(step.si, target.si - i.si))
            i = Current(si: i.si + delta)
            try await setCurrent(i)
            if abs(i.si - target.si) > 1e-12 { try await Task.sleep(for: interval) }
        }
    }
}
