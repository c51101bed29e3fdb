import BenchKit

/// Dimensions the simulated bench needs beyond BenchKit's: bench files give every hidden constant
/// with its unit, parsed by BenchKit's `Quantity`.

/// Time, for fault schedules and simulated-clock spans ("2 ms", "1.5 s").
public enum TimeDimension: PhysicalDimension { public static let unit = "s"; public static let name = "time" }

/// Laser slope efficiency above threshold (W/A; "mW/mA" is the same unit).
public enum SlopeEfficiencyDimension: PhysicalDimension {
    public static let unit = "W/A"; public static let name = "slope efficiency"
    public static let acceptsPrefixes = false
    public static let aliases: [(symbol: String, factor: Double, offset: Double)] = [("mW/mA", 1, 0)]
}

/// Homodyne shot-noise scale: output variance per watt of local oscillator (V²/W).
public enum NoiseScaleDimension: PhysicalDimension {
    public static let unit = "V²/W"; public static let name = "shot-noise scale"
    public static let acceptsPrefixes = false
    public static let aliases: [(symbol: String, factor: Double, offset: Double)] = [("V^2/W", 1, 0), ("mV²/mW", 1e-3, 0), ("mV^2/mW", 1e-3, 0)]
}

/// Linear phase drift rate ("0.01 mrad/s").
public enum PhaseRateDimension: PhysicalDimension {
    public static let unit = "rad/s"; public static let name = "phase drift rate"
    public static let aliases: [(symbol: String, factor: Double, offset: Double)] = [("deg/s", Double.pi / 180, 0)]
}

/// Random-walk phase diffusion, as the rms phase after one second ("0.1 mrad/√s").
public enum PhaseWalkDimension: PhysicalDimension {
    public static let unit = "rad/√s"; public static let name = "phase random walk"
    public static let aliases: [(symbol: String, factor: Double, offset: Double)] = [("rad/sqrt(s)", 1, 0), ("mrad/sqrt(s)", 1e-3, 0)]
}

public typealias Time = Quantity<TimeDimension>
public typealias SlopeEfficiency = Quantity<SlopeEfficiencyDimension>
public typealias NoiseScale = Quantity<NoiseScaleDimension>
public typealias PhaseRate = Quantity<PhaseRateDimension>
public typealias PhaseWalk = Quantity<PhaseWalkDimension>

extension Quantity where D == TimeDimension {
    public static func seconds(_ s: Double) -> Self { Self(si: s) }
    public var seconds: Double { si }
    /// The span as a `Duration`, or nil when it is not finite or beyond ±`Duration.maximumFileSeconds`
    /// (about 31 years), where converting to Int64 nanoseconds would trap.
    public var duration: Duration? { Duration(checkedSeconds: si) }
    public init(_ duration: Duration) { self.init(si: duration.inSeconds) }
}

