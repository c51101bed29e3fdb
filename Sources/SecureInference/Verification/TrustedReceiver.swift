/// A calibrated value with its standard uncertainty (1σ).
public struct Measured: Sendable, Equatable, Codable {
    public var value: Double
    public var uncertainty: Double
    public init(_ value: Double, uncertainty: Double = 0) { self.value = value; self.uncertainty = uncertainty }
}

/// What the server trusts about its own homodyne receiver, from calibration (PROTOCOL.md §5b).
///
/// - `electronicNoiseVariance`: receiver output variance with the local oscillator on and the
///   signal input blocked minus the shot-noise part, i.e. with the LO off, in raw units² (V²).
///   Stable over time; measured with many samples because any error in it is charged to the client.
/// - `efficiency`: detection efficiency η of the receiver (trusted loss); noise the client adds at
///   the receiver input shows up multiplied by η.
/// - `backToBackResponse`: detected mean quadrature (SNU) per intended quadrature value (SNU), with
///   the client bypassed through the calibration switch: the reference that turns the run's
///   regression slope into T̂ (it folds in η and the server's own transmitter response).
///
/// The shot-noise unit itself is NOT trusted from yesterday: it is measured in band from vacuum
/// slots (receiver input blocked locally, interleaved with the signal), see `ReturnedLightStatistics`.
public struct TrustedReceiver: Sendable, Equatable, Codable {
    public var electronicNoiseVariance: Measured
    public var efficiency: Measured
    public var backToBackResponse: Measured

    public init(electronicNoiseVariance: Measured, efficiency: Measured = Measured(1), backToBackResponse: Measured = Measured(1)) {
        self.electronicNoiseVariance = electronicNoiseVariance
        self.efficiency = efficiency
        self.backToBackResponse = backToBackResponse
    }

    /// An ideal receiver working directly in SNU: no electronic noise, η = 1, unit response.
    public static let ideal = TrustedReceiver(electronicNoiseVariance: Measured(0))
}
