/// The roles of a secure-inference bench (docs/PROTOCOL.md §8, docs/ARCHITECTURE.md): each is bound in a bench
/// file to a driver and an address.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    case serverLaser = "server.laser"
    case serverModulator = "server.modulator"
    case serverAttenuator = "server.voa"
    case serverTap = "server.tap"
    case serverSwitch = "server.switch"
    case serverReceiver = "server.receiver"
    case link
    case clientProcessor = "client.processor"
    case clientAmplifier = "client.amplifier"
    case clientSplitter = "client.splitter"
    case clientReceiver = "client.receiver"
    case trigger
    case shutter
    case interlock
    case clientInterlock = "client.interlock"

    public var family: DeviceFamily {
        switch self {
        case .serverLaser: .laser
        case .serverModulator: .modulator
        case .serverAttenuator: .attenuator
        case .serverTap: .powerMeter
        case .serverSwitch: .opticalSwitch
        case .serverReceiver, .clientReceiver: .homodyneReceiver
        case .link: .fiberLink
        case .clientProcessor: .clientProcessor
        case .clientAmplifier: .amplifier
        case .clientSplitter: .splitter
        case .trigger: .trigger
        case .shutter: .shutter
        case .interlock, .clientInterlock: .interlock
        }
    }

    public var summary: String {
        switch self {
        case .serverLaser: "server's CW laser (also the local oscillator)"
        case .serverModulator: "server's IQ modulator, driven by an AWG: encodes the weights"
        case .serverAttenuator: "server's variable attenuator: sets μ"
        case .serverTap: "power meter on the server's output tap"
        case .serverSwitch: "calibration switch: client round trip or back-to-back"
        case .serverReceiver: "server's homodyne receiver of returned light"
        case .link: "fibre between server and client"
        case .clientProcessor: "client's interferometer U_x"
        case .clientAmplifier: "client's phase-insensitive amplifier (gain G)"
        case .clientSplitter: "client's tap after the amplifier (keeps 1 − 1/G)"
        case .clientReceiver: "client's homodyne receiver (its inner products)"
        case .trigger: "trigger line: starts each shot"
        case .shutter: "shutter on the server's output"
        case .interlock: "laser-safety interlock input"
        case .clientInterlock: "client's laser-safety interlock input (its LO laser, its amplifier's pump)"
        }
    }

    /// The station that owns the role's instrument (nil: the fibre between them, nobody's).
    /// The trigger, the shutter and the interlock of a one-table bench are the server's: it emits
    /// the light; on a two-site testbed each site file has its own.
    public var station: Station? {
        switch self {
        case .serverLaser, .serverModulator, .serverAttenuator, .serverTap, .serverSwitch, .serverReceiver, .trigger, .shutter, .interlock: .server
        case .clientProcessor, .clientAmplifier, .clientSplitter, .clientReceiver, .clientInterlock: .client
        case .link: nil
        }
    }

    public static func < (a: Role, b: Role) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
}

/// The two parties of the protocol, each a station with its own PC, instruments and secrets.
public enum Station: String, Sendable, Codable, CaseIterable {
    case server, client

    /// The roles this station's code may touch.
    public var roles: Set<Role> { Set(Role.allCases.filter { $0.station == self }) }
}
