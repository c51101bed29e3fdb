import SecureInference

extension TrustedReceiver {
    /// The server's trusted receiver from its calibration records: σ²_el from the homodyne record;
    /// η and the back-to-back response from the back-to-back record (ideal without one).
    public init(homodyne: CalibrationRecord, backToBack: CalibrationRecord?) throws {
        func measured(_ r: CalibrationRecord, _ name: String) throws -> Measured {
            guard let v = r[name] else { throw CalibrationError.corrupt(path: r.id, reason: "it has no value '\(name)'") }
            return Measured(v.value, uncertainty: v.uncertainty)
        }
        self.init(electronicNoiseVariance: try measured(homodyne, "electronic"),
                  efficiency: try backToBack.map { try measured($0, "efficiency") } ?? Measured(1),
                  backToBackResponse: try backToBack.map { try measured($0, "response") } ?? Measured(1))
    }
}
