import Foundation
import GRDB

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
        try queue.write { db in
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
        try queue.write { db in
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
        try queue.write { db in
            let next = (try Int.fetchOne(db, sql: "SELECT MAX(sequence) FROM journal WHERE runId = ?", arguments: [runId]) ?? -1) + 1
            try db.execute(sql: "INSERT INTO journal (runId, sequence, at, kind, step, detail, checkpoint) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [runId, next, Date(), kind.rawValue, step, detail, checkpoint])
            if let block {
                try db.execute(sql: "INSERT OR REPLACE INTO block (runId, blockIndex, record) VALUES (?, ?, ?)",
                               arguments: [runId, block.blockIndex, try Self.json(block)])
            }
            return next
        }
    }

    public func saveRawSamples(_ runId: String, blockIndex: Int, kind: String, samples: [Float]) throws {
        let data = samples.withUnsafeBufferPointer { Data(buffer: $0) }
        try queue.write { db in
            try db.execute(sql: "INSERT INTO rawSamples (runId, blockIndex, kind, samples) VALUES (?, ?, ?, ?)",
                           arguments: [runId, blockIndex, kind, data])
        }
    }

    public func rawSampleCount(_ runId: String) throws -> Int {
        try queue.read { db in
            try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(LENGTH(samples)), 0) / 4 FROM rawSamples WHERE runId = ?", arguments: [runId]) ?? 0
        }
    }

    /// The newest checkpoint of a run, with the sequence number of its journal entry.
    public func latestCheckpoint(_ runId: String) throws -> (sequence: Int, step: String, data: Data)? {
        try queue.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT sequence, step, checkpoint FROM journal WHERE runId = ? AND checkpoint IS NOT NULL
                ORDER BY sequence DESC LIMIT 1
                """, arguments: [runId]) else { return nil }
            return (row["sequence"], row["step"], row["checkpoint"])
        }
    }

    public func run(_ id: String) throws -> RunSummary {
        guard let r = try queue.read({ db in try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = ?", arguments: [id]) }) else {
            throw RecordError.unknownRun(id)
        }
        return try Self.summary(r)
    }

    public func runs(limit: Int = 100) throws -> [RunSummary] {
        try queue.read { db in try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY createdAt DESC, id DESC LIMIT ?", arguments: [limit]) }
            .map(Self.summary)
    }

    static func summary(_ r: Row) throws -> RunSummary {
        let resultData: Data? = r["result"]
        let idsText: String = r["calibrationIds"], argsText: String = r["arguments"]
        let seed: Int64 = r["seed"]
        return RunSummary(id: r["id"], createdAt: r["createdAt"], finishedAt: r["finishedAt"],
                          status: RunStatus(rawValue: r["status"]) ?? .failed, bench: r["bench"], modelId: r["modelId"],
                          seed: UInt64(bitPattern: seed), configuration: try decode(RunConfiguration.self, r["configuration"]),
                          calibrationIds: try decode([String].self, Data(idsText.utf8)), codeVersion: r["codeVersion"],
                          arguments: try decode([String].self, Data(argsText.utf8)), result: try resultData.map { try decode(RunResult.self, $0) })
    }

    public func benchSnapshot(_ id: String) throws -> Data? {
        try queue.read { db in try Data.fetchOne(db, sql: "SELECT benchSnapshot FROM run WHERE id = ?", arguments: [id]) }
    }

    public func blocks(_ runId: String) throws -> [BlockRecord] {
        try queue.read { db in try Data.fetchAll(db, sql: "SELECT record FROM block WHERE runId = ? ORDER BY blockIndex", arguments: [runId]) }
            .map { try Self.decode(BlockRecord.self, $0) }
    }

    public func journalEntries(_ runId: String) throws -> [JournalEntry] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT sequence, at, kind, step, detail FROM journal WHERE runId = ? ORDER BY sequence", arguments: [runId])
                .map { JournalEntry(sequence: $0["sequence"], at: $0["at"], kind: JournalEntry.Kind(rawValue: $0["kind"]) ?? .event, step: $0["step"], detail: $0["detail"]) }
        }
    }
}

extension RunDatabase {
    public func setCalibrationIds(_ runId: String, _ ids: [String]) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE run SET calibrationIds = ? WHERE id = ?", arguments: [String(decoding: try Self.json(ids), as: UTF8.self), runId])
        }
    }
}
