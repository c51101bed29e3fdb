extension Duration {
    /// The duration in seconds, as a Double (bench-time bookkeeping, rates).
    public var inSeconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
