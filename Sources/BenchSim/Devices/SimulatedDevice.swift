import BenchKit

/// A device of the digital twin: an actor bound to a role of one bench, sharing that bench's
/// `SimulationEngine` with the other simulated devices.
protocol SimulatedDevice: BenchDevice {
    nonisolated var engine: SimulationEngine { get }
    nonisolated var role: Role { get }
}

extension SimulatedDevice {
    /// Every call passes here first: counts the call and plays the role's call faults.
    func gate(_ operation: String, timeout: Duration? = nil) async throws {
        try await engine.gate(role, operation, timeout: timeout)
    }

    func invalid(_ message: String, _ remedy: String) -> DeviceError {
        DeviceError(.invalidRequest, device: role.rawValue, message: message, remedy: remedy)
    }

    /// The twin's instruments keep their state through a simulated disconnect: reconnecting
    /// succeeds once the role's disconnect fault is cleared (`SimulationEngine.clearFaults`) and
    /// fails with `.disconnected` again until then.
    func reconnect() async throws {
        try await gate("reconnect")
    }

    func identifyDevice() async throws -> InstrumentIdentity {
        try await gate("identify")
        return engine.identity(for: role)
    }
}

extension SimulationEngine {
    /// Counts a call to `role` and, if a fault is due, fails it the way the instrument would.
    func gate(_ role: Role, _ operation: String, timeout: Duration? = nil) async throws {
        let outcome = locked { faultBook.call(role, at: clock) }
        switch outcome {
        case .proceed:
            return
        case let .timeout(delay):
            let wait = timeout ?? delay
            try await Task.sleep(for: wait)
            throw DeviceError(.timeout, device: role.rawValue, message: "\(operation) got no answer within \(wait) (simulated timeout)",
                              remedy: "retry the call; if it keeps timing out, power-cycle the instrument and reopen the bench")
        case .disconnected:
            throw DeviceError(.disconnected, device: role.rawValue, message: "\(operation) failed: the instrument is not connected (simulated disconnect)",
                              remedy: "reconnect the instrument (cable, power) and reopen the bench")
        case let .instrumentError(message):
            throw DeviceError(.instrumentError, device: role.rawValue, message: "\(operation) rejected by the instrument: \(message) (simulated)",
                              remedy: "read the instrument's error queue, correct the request and retry")
        }
    }
}

/// Formatting of settings for `settings()` and `qbench devices`.
enum SettingFormat {
    static func flag(_ b: Bool, _ on: String = "on", _ off: String = "off") -> String { b ? on : off }
}
