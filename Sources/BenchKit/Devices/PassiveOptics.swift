/// A variable optical attenuator: sets μ at the client input.
public protocol VariableAttenuator: BenchDevice {
    func setAttenuation(_ attenuation: Decibels) async throws
    func attenuation() async throws -> Decibels
}

/// An optical power meter on a tap of the server's transmitter.
public protocol PowerMeter: BenchDevice {
    func setWavelength(_ wavelength: Length) async throws
    /// Averages over `averaging` and returns the power corrected for the set wavelength.
    func readPower(averaging: Duration) async throws -> Power
    /// Zeroes the dark offset (with no light on the head).
    func zero() async throws
}

/// The calibration switch of the server: routes its transmitter through the client and back
/// (`.client`) or straight into its own receiver (`.backToBack`, the trusted reference of
/// PROTOCOL.md §5b).
public enum SwitchPath: String, Sendable, Codable { case client, backToBack = "back-to-back" }

public protocol OpticalSwitch: BenchDevice {
    func route(_ path: SwitchPath) async throws
    func path() async throws -> SwitchPath
}

/// The fibre between server and client: passive, described (length, loss) rather than driven.
public protocol FiberLink: BenchDevice {
    func length() async throws -> Length
}
