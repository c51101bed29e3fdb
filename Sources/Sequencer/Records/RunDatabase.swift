import Foundation
import GRDB

/// Where run records live: `$QBENCH_HOME`, else `$XDG_DATA_HOME/qbench`, else
/// `~/.local/share/qbench`. Never inside the repository.
public enum QBenchHome {
    public static var directory: URL {
        let env = ProcessInfo.processInfo.environment
        if let home = env["QBENCH_HOME"], !home.isEmpty { return URL(fileURLWithPath: home) }
        if let xdg = env["XDG_DATA_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("qbench") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/qbench")
    }
}

/// The run database (SQLite through GRDB, WAL, synchronous = FULL: a journaled step survives a
/// SIGKILL the instant its transaction commits).
public final class RunDatabase: Sendable {
    public let url: URL
    let queue: DatabaseQueue

    public init(directory: URL = QBenchHome.directory) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        url = directory.appendingPathComponent("runs.sqlite")
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        queue = try DatabaseQueue(path: url.path, configuration: config)
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        try Self.migrator.migrate(queue)
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.create(table: "run") { t in
                t.primaryKey("id", .text)
                t.column("createdAt", .datetime).notNull()
                t.column("finishedAt", .datetime)
                t.column("status", .text).notNull()
                t.column("bench", .text).notNull()
                t.column("benchSnapshot", .blob)
                t.column("calibrationIds", .text).notNull()
                t.column("modelId", .text).notNull()
                t.column("codeVersion", .text).notNull()
                t.column("arguments", .text).notNull()
                t.column("seed", .integer).notNull()
                t.column("configuration", .blob).notNull()
                t.column("result", .blob)
            }
            try db.create(table: "block") { t in
                t.column("runId", .text).notNull().references("run", onDelete: .cascade)
                t.column("blockIndex", .integer).notNull()
                t.column("record", .blob).notNull()
                t.primaryKey(["runId", "blockIndex"])
            }
            try db.create(table: "journal") { t in
                t.column("runId", .text).notNull().references("run", onDelete: .cascade)
                t.column("sequence", .integer).notNull()
                t.column("at", .datetime).notNull()
                t.column("kind", .text).notNull()
                t.column("step", .text).notNull()
                t.column("detail", .text)
                t.column("checkpoint", .blob)
                t.primaryKey(["runId", "sequence"])
            }
            try db.create(table: "rawSamples") { t in
                t.column("runId", .text).notNull().references("run", onDelete: .cascade)
                t.column("blockIndex", .integer).notNull()
                t.column("kind", .text).notNull()
                t.column("samples", .blob).notNull()
            }
        }
        return m
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.dateEncodingStrategy = .iso8601
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }()

    static func json(_ v: some Encodable) throws -> Data { try encoder.encode(v) }
    static func decode<T: Decodable>(_ t: T.Type, _ d: Data) throws -> T { try decoder.decode(t, from: d) }
}
