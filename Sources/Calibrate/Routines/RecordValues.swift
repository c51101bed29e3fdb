import Foundation

extension CalibrationRecord {
    /// A value a routine needs from a prerequisite record; a record without it (another qbench
    /// version's, or an edited one resealed) is refused with its id instead of trapping.
    func required(_ name: String) throws -> CalibratedValue {
        guard let value = self[name] else {
            throw CalibrationError.corrupt(path: id, reason: "it has no value '\(name)': recalibrate \(kind.rawValue) (`qbench calibrate \(kind.rawValue)`)")
        }
        return value
    }
}
