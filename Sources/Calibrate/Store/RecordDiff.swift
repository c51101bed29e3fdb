import Foundation

/// How two calibration records of the same kind differ, value by value, in units of their
/// combined uncertainty (a shift of more than a few σ means the bench changed).
public struct RecordDiff: Sendable, Codable, Equatable {
    public struct Change: Sendable, Codable, Equatable {
        public let name: String
        public let unit: String
        public let old: Double?
        public let new: Double?
        public let difference: Double?
        /// |new − old| / √(u_old² + u_new²).
        public let sigmas: Double?
    }
    public let from: String
    public let to: String
    public let changes: [Change]
    public let deviceChanged: Bool

    public init(_ a: CalibrationRecord, _ b: CalibrationRecord) {
        from = a.id; to = b.id
        deviceChanged = a.device != b.device
        let names = Set(a.values.keys).union(b.values.keys).sorted()
        changes = names.map { n in
            let x = a.values[n], y = b.values[n]
            guard let x, let y else { return Change(name: n, unit: (x ?? y)!.unit, old: x?.value, new: y?.value, difference: nil, sigmas: nil) }
            let u = (x.uncertainty * x.uncertainty + y.uncertainty * y.uncertainty).squareRoot()
            let d = y.value - x.value
            return Change(name: n, unit: y.unit, old: x.value, new: y.value, difference: d, sigmas: u > 0 ? abs(d) / u : nil)
        }
    }
}
