/// Where the reference power meter's fibre can be connected. Calibrating μ and the links needs
/// readings beyond the monitor tap (docs/hardware.md §6.5: tap ratio and fixed losses are measured once
/// at high power with the reference meter on the other ports).
public enum ProbePoint: String, Sendable, Codable, CaseIterable {
    /// The monitor tap after the server's VOA (the normal position).
    case tap
    /// The server's output port, where the link starts (after the tap, before the calibration switch).
    case serverOutput = "server-output"
    /// The client's input (end of the forward link).
    case clientInput = "client-input"
    /// The input of the server's homodyne receiver (after the calibration switch).
    case serverReceiverInput = "server-receiver-input"
}

/// Moves the reference meter between probe points. On a real bench a person moves the fibre (the
/// CLI asks and waits); the twin moves it on request. Every move is part of the calibration's
/// raw-data record.
public protocol PatchPanel: Sendable {
    func connect(_ meter: Role, to point: ProbePoint) async throws
}

/// The patch panel of a bench without a way to move the meter: asks for nothing and refuses.
public struct FixedPatchPanel: PatchPanel {
    public init() {}
    public func connect(_ meter: Role, to point: ProbePoint) async throws {
        guard point == .tap else {
            throw DeviceError(.invalidRequest, device: meter.rawValue,
                              message: "cannot move the reference meter to \(point.rawValue) on this bench",
                              remedy: "run the calibration interactively (it will ask you to move the fibre) or on the simulated bench")
        }
    }
}
