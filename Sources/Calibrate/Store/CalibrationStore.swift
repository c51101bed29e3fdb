import BenchKit
import Foundation

/// Errors of the calibration store and of consumers asking it. Each says which `qbench calibrate`
/// to run.
public enum CalibrationError: Error, CustomStringConvertible, Equatable {
    case missing(bench: String, role: String, kind: CalibrationKind)
    case expired(id: String, validUntil: Date, kind: CalibrationKind, bench: String)
    case foreignDevice(id: String, recorded: InstrumentIdentity, present: InstrumentIdentity, kind: CalibrationKind, bench: String)
    case corrupt(path: String, reason: String)
    case unknownRecord(id: String)
    case prerequisite(kind: CalibrationKind, missing: CalibrationKind, bench: String)
    case outOfRange(id: String, problems: [String], kind: CalibrationKind)

    public var description: String {
        switch self {
        case let .missing(b, r, k) where k == .link:
            "no active link calibration for \(r) on bench '\(b)': on one table run `qbench calibrate link --bench <file of \(b)>`; between two sites measure it jointly, `qbench serve … --calibrate-link` at the server and `qbench client … --calibrate-link` at the client (docs/two-sites.md)"
        case let .missing(b, r, k):
            "no active \(k.rawValue) calibration for \(r) on bench '\(b)': run `qbench calibrate \(k.rawValue) --bench <file of \(b)>`"
        case let .expired(id, until, k, b):
            "calibration \(id) expired on \(ISO8601DateFormatter().string(from: until)): run `qbench calibrate \(k.rawValue)` on bench '\(b)' again"
        case let .foreignDevice(id, rec, now, k, b):
            "calibration \(id) was measured on \(rec), but the bench now has \(now): run `qbench calibrate \(k.rawValue)` on bench '\(b)' for this instrument"
        case let .corrupt(p, why):
            "calibration record \(p) is refused: \(why). Records are immutable: restore it from git, or run the calibration again"
        case let .unknownRecord(id):
            "no calibration record '\(id)': see `qbench calibration list`"
        case let .outOfRange(id, problems, k):
            "calibration \(id) is refused before any light: \(problems.joined(separator: "; ")). Run `qbench calibrate \(k.rawValue)` again and check the instruments"
        case let .prerequisite(k, m, b):
            "the \(k.rawValue) calibration needs an active \(m.rawValue) calibration on bench '\(b)': run `qbench calibrate \(m.rawValue)` first (or `qbench calibrate all`)"
        }
    }
}

/// The calibration store: a folder of immutable records per bench and role, and an index per bench
/// marking the active record for each (role, kind). Superseding a record keeps it; `activate`
/// can go back to any of them.
///
/// Records are sealed with the station's secret key (`StationKey`, HMAC-SHA256) and their values
/// checked against their physical ranges (`CalibratedValueSpec`) on every load.
public struct CalibrationStore: Sendable {
    public let root: URL
    /// The key that seals and verifies this station's records.
    public let key: StationKey
    public init(root: URL, key: StationKey) { self.root = root; self.key = key }

    /// The index file of a bench: `Calibration/<bench>/index.json`.
    public struct Index: Codable, Sendable, Equatable {
        public var bench: String
        /// "<role>/<kind>" → record id.
        public var active: [String: String]
        /// Every activation, oldest first.
        public var history: [Activation]
        public struct Activation: Codable, Sendable, Equatable {
            public var id: String
            public var at: Date
            public var supersedes: String?
        }
    }

    static func key(role: String, kind: CalibrationKind) -> String { "\(role)/\(kind.rawValue)" }

    func benchDirectory(_ bench: String) -> URL { root.appendingPathComponent(bench) }
    func indexURL(_ bench: String) -> URL { benchDirectory(bench).appendingPathComponent("index.json") }
    public func url(of id: String) -> URL { root.appendingPathComponent(id + ".json") }

    static let timestampFormat: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f
    }()

    public static var decoder: JSONDecoder { let d = JSONDecoder(); d.dateDecodingStrategy = .iso8601; return d }
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }

    /// A new record id for (bench, role, kind) at `date`; unique within the folder.
    public func newID(bench: String, role: String, kind: CalibrationKind, at date: Date) -> String {
        var t = date
        while true {
            let id = "\(bench)/\(role)/\(Self.timestampFormat.string(from: t))-\(kind.rawValue)"
            if !FileManager.default.fileExists(atPath: url(of: id).path) { return id }
            t = t.addingTimeInterval(1)
        }
    }

    public func loadIndex(_ bench: String) throws -> Index {
        let u = indexURL(bench)
        guard let data = FileManager.default.contents(atPath: u.path) else { return Index(bench: bench, active: [:], history: []) }
        do { return try Self.decoder.decode(Index.self, from: data) } catch {
            throw CalibrationError.corrupt(path: u.path, reason: "the index is not valid JSON (\(error))")
        }
    }

    func saveIndex(_ index: Index) throws {
        try FileManager.default.createDirectory(at: benchDirectory(index.bench), withIntermediateDirectories: true)
        try Self.encoder.encode(index).write(to: indexURL(index.bench), options: .atomic)
    }

    /// Writes a record (sealed), its raw data and plot, and makes it active. Never overwrites.
    @discardableResult
    public func add(_ record: CalibrationRecord, rawData: Data, plot: String?) throws -> CalibrationRecord {
        let problems = record.valueProblems
        guard problems.isEmpty else {
            throw CalibrationError.outOfRange(id: record.id, problems: problems, kind: record.kind)
        }
        let sealed = try record.sealed(with: key)
        let u = url(of: sealed.id)
        guard !FileManager.default.fileExists(atPath: u.path) else {
            throw CalibrationError.corrupt(path: u.path, reason: "a record with this id exists already and records are immutable")
        }
        let dir = u.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try rawData.write(to: dir.appendingPathComponent(sealed.rawData), options: .withoutOverwriting)
        if let plot, let name = sealed.plot {
            try Data(plot.utf8).write(to: dir.appendingPathComponent(name), options: .withoutOverwriting)
        }
        try CalibrationRecord.canonicalJSON(sealed).write(to: u, options: .withoutOverwriting)
        try activate(sealed.id)
        return sealed
    }

    /// Loads and verifies a record: schema, the station's seal, that the id matches its path, and
    /// every value against its physical range and unit.
    public func load(_ id: String) throws -> CalibrationRecord {
        let u = url(of: id)
        guard let data = FileManager.default.contents(atPath: u.path) else { throw CalibrationError.unknownRecord(id: id) }
        let r: CalibrationRecord
        do { r = try Self.decoder.decode(CalibrationRecord.self, from: data) } catch {
            throw CalibrationError.corrupt(path: u.path, reason: "not a calibration record (\(error))")
        }
        guard r.schema == CalibrationRecord.schemaVersion else {
            throw CalibrationError.corrupt(path: u.path, reason: "schema \(r.schema), this qbench reads schema \(CalibrationRecord.schemaVersion)")
        }
        guard r.id == id else { throw CalibrationError.corrupt(path: u.path, reason: "its id '\(r.id)' does not match its location '\(id)'") }
        if let problem = r.sealProblem(with: key) {
            throw CalibrationError.corrupt(path: u.path, reason: problem)
        }
        let problems = r.valueProblems
        guard problems.isEmpty else { throw CalibrationError.outOfRange(id: id, problems: problems, kind: r.kind) }
        return r
    }

    /// Makes `id` the active record for its (role, kind).
    public func activate(_ id: String, at date: Date = Date()) throws {
        let r = try load(id)
        var index = try loadIndex(r.bench)
        let key = Self.key(role: r.role, kind: r.kind)
        let previous = index.active[key]
        index.active[key] = id
        index.history.append(.init(id: id, at: date, supersedes: previous == id ? nil : previous))
        try saveIndex(index)
    }

    /// Every record of a bench (or all benches), newest first.
    public func list(bench: String? = nil) throws -> [CalibrationRecord] {
        let fm = FileManager.default
        let benches = try bench.map { [$0] } ?? (fm.contentsOfDirectory(atPath: root.path).filter {
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: root.appendingPathComponent($0).path, isDirectory: &isDir) && isDir.boolValue
        })
        var records: [CalibrationRecord] = []
        for b in benches.sorted() {
            guard let e = fm.enumerator(atPath: benchDirectory(b).path) else { continue }
            for case let rel as String in e where rel.hasSuffix(".json") && rel != "index.json" && !rel.hasSuffix(".raw.json") {
                records.append(try load("\(b)/\(rel.dropLast(5))"))
            }
        }
        return records.sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
    }

    public func activeID(bench: String, role: String, kind: CalibrationKind) throws -> String? {
        try loadIndex(bench).active[Self.key(role: role, kind: kind)]
    }

    /// The active record for (bench, role, kind), checked for expiry and for the instrument it was
    /// measured on (when the caller knows which instrument is there now).
    public func active(bench: String, role: String, kind: CalibrationKind, device: InstrumentIdentity? = nil, now: Date = Date()) throws -> CalibrationRecord {
        guard let id = try activeID(bench: bench, role: role, kind: kind) else {
            throw CalibrationError.missing(bench: bench, role: role, kind: kind)
        }
        let r = try load(id)
        guard r.bench == bench, r.role == role, r.kind == kind else {
            throw CalibrationError.corrupt(path: url(of: id).path, reason: "the index names it as the \(kind.rawValue) record of \(role) on '\(bench)', but it is the \(r.kind.rawValue) record of \(r.role) on '\(r.bench)'")
        }
        guard r.validUntil > now else { throw CalibrationError.expired(id: id, validUntil: r.validUntil, kind: kind, bench: bench) }
        if let device, device != r.device {
            throw CalibrationError.foreignDevice(id: id, recorded: r.device, present: device, kind: kind, bench: bench)
        }
        return r
    }
}
