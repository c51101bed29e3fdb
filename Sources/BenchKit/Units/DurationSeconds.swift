extension Duration {
    /// The duration in seconds, as a Double (bench-time bookkeeping, rates).
    public var inSeconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

extension Duration {
    /// The longest span a file may give (about 31.7 years): far beyond any calibration validity,
    /// fault time or run, and well inside `Duration`'s and Int64 nanoseconds' range.
    public static let maximumFileSeconds: Double = 1e9

    /// `.seconds(s)` for a value read from outside (a file, an option): nil when `s` is not
    /// finite or is beyond ±`maximumFileSeconds`, where `.seconds(_:)` would trap or saturate.
    public init?(checkedSeconds s: Double) {
        guard s.isFinite, abs(s) <= Self.maximumFileSeconds else { return nil }
        self = .nanoseconds(Int64((s * 1e9).rounded()))
    }
}
