import Foundation
import GRDB
import SecureInference

extension RunDatabase {
    public enum RecordError: Error, CustomStringConvertible {
        case unknownRun(String)
        case notResumable(String, RunStatus)
        public var description: String {
            switch self {
            case let .unknownRun(id): "no run '\(id)' in the run database: see `qbench runs`"
            case let .notResumable(id, s): "run \(id) is \(s.rawValue) and cannot be resumed (only interrupted, failed or running runs can)"
            }
        }
    }

    /// A new run id: UTC time and a random suffix, sortable.
    public static func newRunID(at date: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd-HHmmss"
        return "\(f.string(from: date))-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    public func createRun(id: String, configuration: RunConfiguration, bench: String, benchSnapshot: Data?,
                          calibrationIds: [String], modelId: String, codeVersion: String, arguments: [String]) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO run (id, createdAt, status, bench, benchSnapshot, calibrationIds, modelId, codeVersion, arguments, seed, configuration)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, Date(), RunStatus.running.rawValue, bench, benchSnapshot,
                                 String(decoding: try Self.json(calibrationIds), as: UTF8.self), modelId, codeVersion,
                                 String(decoding: try Self.json(arguments), as: UTF8.self), Int64(0),
                                 try Self.json(configuration)])
        }
    }

    public func setStatus(_ id: String, _ status: RunStatus, result: RunResult? = nil) throws {
        try write { db in
            let finished: Date? = status == .running ? nil : Date()
            try db.execute(sql: "UPDATE run SET status = ?, finishedAt = ?, result = COALESCE(?, result) WHERE id = ?",
                           arguments: [status.rawValue, finished, try result.map(Self.json), id])
        }
    }

    /// Journals one completed step durably, with the block record it produced (if any) and the
    /// checkpoint to resume from, in one transaction.
    @discardableResult
    public func journal(_ runId: String, kind: JournalEntry.Kind, step: String, detail: String? = nil,
                        block: BlockRecord? = nil, checkpoint: Data? = nil) throws -> Int {
        try write { db in
            let next = (try Int.fetchOne(db, sql: "SELECT MAX(sequence) FROM journal WHERE runId = ?", arguments: [runId]) ?? -1) + 1
            try db.execute(sql: "INSERT INTO journal (runId, sequence, at, kind, step, detail, checkpoint) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [runId, next, Date(), kind.rawValue, step, detail, checkpoint.map(CheckpointSeal.seal)])
            if let block {
                try db.execute(sql: "INSERT OR REPLACE INTO block (runId, blockIndex, record) VALUES (?, ?, ?)",
                               arguments: [runId, block.blockIndex, try Self.json(block)])
            }
            return next
        }
    }

    public func saveRawSamples(_ runId: String, blockIndex: Int, kind: String, samples: [Float]) throws {
        let data = samples.withUnsafeBufferPointer { Data(buffer: $0) }
        try write { db in
            try db.execute(sql: "INSERT INTO rawSamples (runId, blockIndex, kind, samples) VALUES (?, ?, ?, ?)",
                           arguments: [runId, blockIndex, kind, data])
        }
    }

    public func rawSampleCount(_ runId: String) throws -> Int {
        try read { db in
            try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(LENGTH(samples)), 0) / 4 FROM rawSamples WHERE runId = ?", arguments: [runId]) ?? 0
        }
    }

    /// The newest checkpoint of a run, with the sequence number of its journal entry; its
    /// checksum is verified (a damaged checkpoint throws `.damagedCheckpoint`, never resumes).
    public func latestCheckpoint(_ runId: String) throws -> (sequence: Int, step: String, data: Data)? {
        let found: (Int, String, Data)? = try read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT sequence, step, checkpoint FROM journal WHERE runId = ? AND checkpoint IS NOT NULL
                ORDER BY sequence DESC LIMIT 1
                """, arguments: [runId]) else { return nil }
            return (try field(row, "sequence", "journal entry of run \(runId)"), try field(row, "step", "journal entry of run \(runId)"),
                    try field(row, "checkpoint", "checkpoint of run \(runId)"))
        }
        guard let (sequence, step, sealed) = found else { return nil }
        guard let data = CheckpointSeal.open(sealed) else {
            throw RunDatabaseError.damagedCheckpoint(path: url.path, runId: runId, sequence: sequence)
        }
        return (sequence, step, data)
    }

    /// Every intact checkpoint of a run, newest first (a damaged one is skipped: an older one may
    /// still be the one a resume needs).
    public func checkpoints(_ runId: String) throws -> [Data] {
        let rows: [Data] = try read { db in
            try Data.fetchAll(db, sql: "SELECT checkpoint FROM journal WHERE runId = ? AND checkpoint IS NOT NULL ORDER BY sequence DESC", arguments: [runId])
        }
        return rows.compactMap { CheckpointSeal.open($0) }
    }

    /// One run's record; its configuration is validated (a damaged one throws
    /// `.invalidConfiguration` naming the value, so `--resume` never runs it).
    public func run(_ id: String) throws -> RunSummary {
        guard let r = try read({ db in try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = ?", arguments: [id]) }) else {
            throw RecordError.unknownRun(id)
        }
        return try summary(r)
    }

    /// The newest runs. A damaged row throws (naming the run), it is not skipped silently.
    public func runs(limit: Int = 100) throws -> [RunSummary] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY createdAt DESC, id DESC LIMIT ?", arguments: [limit]) }
            .map(summary)
    }

    /// One line of the run list: a readable run, or a damaged one with what is wrong.
    public enum RunListing: Sendable {
        case run(RunSummary)
        case damaged(id: String, problem: String)
    }

    /// The newest runs, each either readable or reported as damaged, so one damaged row does
    /// not hide the others (`qbench runs`).
    public func listRuns(limit: Int = 100) throws -> [RunListing] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY createdAt DESC, id DESC LIMIT ?", arguments: [limit]) }
            .map { row in
                do { return .run(try summary(row)) } catch {
                    let id = (try? row.decode(String?.self, forColumn: "id")).flatMap { $0 } ?? "?"
                    return .damaged(id: id, problem: "\(error)")
                }
            }
    }

    /// A column of a row, decoded with GRDB's throwing accessor (its subscript traps on a NULL or
    /// a value of the wrong type, which one flipped byte on disk can produce).
    func field<T: DatabaseValueConvertible>(_ row: Row, _ column: String, _ what: String) throws -> T {
        do { return try row.decode(T.self, forColumn: column) } catch {
            throw RunDatabaseError.damagedRecord(path: url.path, what: what, detail: "column \(column): \(error)")
        }
    }

    func optionalField<T: DatabaseValueConvertible>(_ row: Row, _ column: String, _ what: String) throws -> T? {
        do { return try row.decode(T?.self, forColumn: column) } catch {
            throw RunDatabaseError.damagedRecord(path: url.path, what: what, detail: "column \(column): \(error)")
        }
    }

    func decodeJSON<T: Decodable>(_ type: T.Type, _ data: Data, _ what: String) throws -> T {
        do { return try Self.decode(type, data) } catch {
            throw RunDatabaseError.damagedRecord(path: url.path, what: what, detail: "its JSON does not decode: \(error)")
        }
    }

    func summary(_ r: Row) throws -> RunSummary {
        let rawId: String? = try? r.decode(String?.self, forColumn: "id")
        let id = rawId ?? "?"
        let what = "record of run \(id)"
        let idText: String = try field(r, "id", what)
        let resultData: Data? = try optionalField(r, "result", what)
        let idsText: String = try field(r, "calibrationIds", what), argsText: String = try field(r, "arguments", what)
        let seed: Int64 = try field(r, "seed", what)
        let statusText: String = try field(r, "status", what)
        guard let status = RunStatus(rawValue: statusText) else {
            throw RunDatabaseError.damagedRecord(path: url.path, what: what, detail: "status '\(statusText)' is not one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let configuration = try decodeJSON(RunConfiguration.self, try field(r, "configuration", what), "configuration of run \(id)")
        do { try configuration.validate() } catch {
            throw RunDatabaseError.invalidConfiguration(path: url.path, runId: id, problem: error.description)
        }
        return RunSummary(id: idText, createdAt: try field(r, "createdAt", what), finishedAt: try optionalField(r, "finishedAt", what),
                          status: status, bench: try field(r, "bench", what), modelId: try field(r, "modelId", what),
                          seed: UInt64(bitPattern: seed), configuration: configuration,
                          calibrationIds: try decodeJSON([String].self, Data(idsText.utf8), "calibration ids of run \(id)"),
                          codeVersion: try field(r, "codeVersion", what),
                          arguments: try decodeJSON([String].self, Data(argsText.utf8), "arguments of run \(id)"),
                          result: try resultData.map { try decodeJSON(RunResult.self, $0, "result of run \(id)") })
    }

    public func benchSnapshot(_ id: String) throws -> Data? {
        try read { db in try Data.fetchOne(db, sql: "SELECT benchSnapshot FROM run WHERE id = ?", arguments: [id]) }
    }

    public func blocks(_ runId: String) throws -> [BlockRecord] {
        try read { db in try Data.fetchAll(db, sql: "SELECT record FROM block WHERE runId = ? ORDER BY blockIndex", arguments: [runId]) }
            .enumerated().map { try decodeJSON(BlockRecord.self, $1, "block record \($0) of run \(runId)") }
    }

    public func journalEntries(_ runId: String) throws -> [JournalEntry] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT sequence, at, kind, step, detail FROM journal WHERE runId = ? ORDER BY sequence", arguments: [runId])
                .map { row in
                    let what = "journal entry of run \(runId)"
                    let kind: String = try field(row, "kind", what)
                    return JournalEntry(sequence: try field(row, "sequence", what), at: try field(row, "at", what),
                                        kind: JournalEntry.Kind(rawValue: kind) ?? .event, step: try field(row, "step", what),
                                        detail: try optionalField(row, "detail", what))
                }
        }
    }
}

extension RunDatabase {
    public func setCalibrationIds(_ runId: String, _ ids: [String]) throws {
        try write { db in
            try db.execute(sql: "UPDATE run SET calibrationIds = ? WHERE id = ?", arguments: [String(decoding: try Self.json(ids), as: UTF8.self), runId])
        }
    }
}

/// A checkpoint as stored: "QCK1", the CRC-32 of the payload (UInt32 little-endian), the payload
/// length (UInt64 little-endian), the payload (the checkpoint's JSON). A flipped byte anywhere
/// fails the check, so a damaged checkpoint is refused instead of resumed from.
enum CheckpointSeal {
    static let magic = Array("QCK1".utf8)

    static func seal(_ payload: Data) -> Data {
        var out = Data(magic)
        let crc = payload.withUnsafeBytes { crc32Checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(payload.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(payload)
        return out
    }

    /// The payload, or nil when the seal is missing or does not match.
    static func open(_ sealed: Data) -> Data? {
        let bytes = [UInt8](sealed)
        guard bytes.count >= 16, Array(bytes[0..<4]) == magic else { return nil }
        let crc = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[4 + $1]) << (8 * $1) }
        let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[8 + $1]) << (8 * $1) }
        guard length == UInt64(bytes.count - 16) else { return nil }
        let payload = Data(bytes[16...])
        guard payload.withUnsafeBytes({ crc32Checksum($0) }) == crc else { return nil }
        return payload
    }
}
