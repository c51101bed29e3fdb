import Foundation

/// One finished point: its operating point, its session and what the session measured.
public struct ExperimentRow: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        /// The session served every image (certified or still collecting).
        case completed
        /// The server's check stopped serving the client.
        case aborted
        /// A station refused the session before any light (the client's privacy budget, the
        /// server's lifetime ledger): a property of the operating point, recorded, not an error.
        case refused
    }
    public var point: Int
    public var parameters: ExperimentPoint
    public var runId: String
    public var outcome: Outcome
    public var reason: String?
    /// The client's accuracy over the images it was served.
    public var accuracy: Double?
    public var certified: Bool
    /// Images served before the first certified block (nil: never certified).
    public var certifiedImages: Int?
    public var aborted: Bool
    public var abortBlock: Int?
    public var abortImages: Int?
    public var imagesServed: Int
    public var modes: Int
    public var transmittance: Double?
    public var excessNoise: Double?
    public var excessNoiseUpperBound: Double?
    public var weightLeakage: Double?
    public var weightLeakageUpperBound: Double?
    public var dataLeakage: Double?
    /// The session's own wall time, and the point's including its calibrations.
    public var seconds: Double
    public var pointSeconds: Double
    /// The records the server's preflight used.
    public var calibrationIds: [String]
}

/// The experiment's table: one CSV row per finished point, in point order.
public enum ExperimentTable {
    public static let columns = [
        "point", "photons", "gain", "budget", "delta", "images", "block_images", "client", "seed", "privacy_budget",
        "run_id", "outcome", "accuracy", "certified", "certified_images", "aborted", "abort_block", "abort_images", "images_served",
        "modes", "transmittance", "excess_noise_snu", "excess_noise_upper_snu", "weight_leakage_bit_per_mode",
        "weight_leakage_upper_bit_per_mode", "data_leakage_bit_per_symbol", "session_seconds", "point_seconds", "reason",
    ]

    public static func csv(_ rows: [ExperimentRow]) -> String {
        var out = columns.joined(separator: ",") + "\n"
        for r in rows.sorted(by: { $0.point < $1.point }) {
            let p = r.parameters
            let fields: [String] = [
                "\(r.point)", num(p.photons), num(p.gain), num(p.budget), num(p.delta), "\(p.images)", "\(p.blockImages)", p.client,
                p.seed.map { "\($0)" } ?? "", num(p.privacyBudget),
                r.runId, r.outcome.rawValue, opt(r.accuracy), "\(r.certified)", r.certifiedImages.map { "\($0)" } ?? "", "\(r.aborted)",
                r.abortBlock.map { "\($0)" } ?? "", r.abortImages.map { "\($0)" } ?? "", "\(r.imagesServed)", "\(r.modes)",
                opt(r.transmittance), opt(r.excessNoise), opt(r.excessNoiseUpperBound), opt(r.weightLeakage), opt(r.weightLeakageUpperBound),
                opt(r.dataLeakage), String(format: "%.2f", r.seconds), String(format: "%.2f", r.pointSeconds), r.reason ?? "",
            ]
            out += fields.map(quote).joined(separator: ",") + "\n"
        }
        return out
    }

    static func num(_ v: Double) -> String { String(format: "%.10g", v) }
    static func opt(_ v: Double?) -> String { v.map(num) ?? "" }

    /// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
    static func quote(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
