import BenchKit
import Calibrate
import Foundation

/// What a drift check measured: each re-measured value against the record it replaced.
public struct DriftOutcome: Sendable, Codable, Equatable {
    public struct Value: Sendable, Codable, Equatable {
        public var kind: String
        public var role: String
        public var name: String
        public var unit: String
        public var old: Double
        public var new: Double
        /// |new − old| / √(u_old² + u_new²).
        public var sigmas: Double
        /// Whether the change fails the check: beyond the tolerance in σ and not below the
        /// plan's minimum change for its unit (nil in records older than the minimum change).
        public var fails: Bool?
    }
    public var kinds: [String]
    /// The values that moved most (at most five), those that fail the check first, then by σ.
    public var largest: [Value]
    public var maximumSigmas: Double
    public var toleranceSigmas: Double
    /// The plan's smallest change that matters, per unit (empty: σ alone decides).
    public var minimumChange: [String: Double]?
    /// How many values failed the check (nil in records older than the minimum change).
    public var failing: Int?
    public var passed: Bool { failing.map { $0 == 0 } ?? (maximumSigmas <= toleranceSigmas) }
    /// The new records (now active).
    public var recordIds: [String]

    public var summary: String {
        let worst = largest.first.map { String(format: "%@ %@ moved %.3g σ (%.6g → %.6g %@)", $0.kind, $0.name, $0.sigmas, $0.old, $0.new, $0.unit) } ?? "no comparable value"
        let floors = (minimumChange ?? [:]).sorted { $0.key < $1.key }.map { String(format: "%.3g %@", $0.value, $0.key) }
        let tolerance = String(format: "a tolerance of %.3g σ", toleranceSigmas) + (floors.isEmpty ? "" : " and a minimum change of " + floors.joined(separator: ", "))
        let count = failing.map { "\($0) value\($0 == 1 ? "" : "s") failed; " } ?? ""
        return count + String(format: "largest change %.3g σ against ", maximumSigmas) + tolerance + ": " + worst
    }
}

/// Calibrations an experiment makes on one bench: on first use, at a new operating point, before
/// each point, and the drift check. Every routine leaves the bench in its safe state.
struct ExperimentCalibrator {
    let bench: Bench
    let store: CalibrationStore
    let policy: CalibrationPolicy
    let codeVersion: String

    func settings(photons: Double, gain: Double) -> CalibrationSettings {
        var s = CalibrationSettings()
        s.photonsPerMode = photons
        s.gain = gain
        if let shots = policy.referenceShots { s.referenceShots = shots }
        return s
    }

    /// Runs `kinds` (in dependency order) at this operating point; the new records become active.
    func calibrate(_ kinds: [CalibrationKind], photons: Double, gain: Double) async throws -> [CalibrationRecord] {
        let ctx = CalibrationContext(bench: bench, store: store, settings: settings(photons: photons, gain: gain), codeVersion: codeVersion)
        var records: [CalibrationRecord] = []
        do {
            for kind in kinds.sorted() { records += try await CalibrationRunner.run(kind, ctx) }
        } catch {
            _ = await bench.enterSafeState()
            throw error
        }
        _ = await bench.enterSafeState()
        return records
    }

    /// Whether the store holds valid records for both stations (none missing or expired).
    func hasValidRecords() async throws -> Bool {
        do {
            _ = try await ServerCalibration.load(bench: bench, store: store)
            _ = try await ClientCalibration.load(bench: bench, store: store)
            return true
        } catch let error as CalibrationError {
            switch error {
            case .missing, .expired: return false
            default: throw error
            }
        }
    }

    /// The kinds a point at (μ, G) needs re-measured: back-to-back and link for another μ (the
    /// link's frames are at μ too), link for another G, nothing when the active records match.
    func operatingPointNeeds(photons: Double, gain: Double) async throws -> [CalibrationKind] {
        let server = try await ServerCalibration.load(bench: bench, store: store)
        if abs(server.photonsPerMode - photons) > 1e-9 { return [.backToBack, .link] }
        let client = try await ClientCalibration.load(bench: bench, store: store)
        if abs(client.gain - gain) > 1e-9 { return [.link] }
        return []
    }

    /// A change fails when it is beyond the tolerance in σ and at least the unit's minimum change.
    static func fails(sigmas: Double, change: Double, unit: String, check: CalibrationPolicy.DriftCheck) -> Bool {
        sigmas > check.toleranceSigmas && change >= (check.minimumChange[unit] ?? 0)
    }

    /// Re-measures `check.kinds` at the active operating point and compares every value with the
    /// record it replaces (the new records stay active: they are the bench as it is now).
    func driftCheck(_ check: CalibrationPolicy.DriftCheck, photons: Double, gain: Double) async throws -> DriftOutcome {
        let before = try store.loadIndex(bench.description.name).active
        let records = try await calibrate(check.kinds, photons: photons, gain: gain)
        var values: [DriftOutcome.Value] = []
        for r in records {
            guard let previousId = before["\(r.role)/\(r.kind.rawValue)"], previousId != r.id else { continue }
            let previous = try store.load(previousId)
            for c in RecordDiff(previous, r).changes {
                guard let s = c.sigmas, let old = c.old, let new = c.new, s.isFinite else { continue }
                values.append(.init(kind: r.kind.rawValue, role: r.role, name: c.name, unit: c.unit, old: old, new: new, sigmas: s,
                                    fails: Self.fails(sigmas: s, change: abs(new - old), unit: c.unit, check: check)))
            }
        }
        values.sort { ($0.fails == true ? 1 : 0, $0.sigmas) > ($1.fails == true ? 1 : 0, $1.sigmas) }
        return DriftOutcome(kinds: check.kinds.map(\.rawValue), largest: Array(values.prefix(5)), maximumSigmas: values.map(\.sigmas).max() ?? 0,
                            toleranceSigmas: check.toleranceSigmas, minimumChange: check.minimumChange,
                            failing: values.filter { $0.fails == true }.count, recordIds: records.map(\.id))
    }
}
