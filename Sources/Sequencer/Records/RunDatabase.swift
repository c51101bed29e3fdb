import Foundation
import GRDB
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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

/// Why the run database cannot be opened or read: each case says what to do.
public enum RunDatabaseError: Error, CustomStringConvertible, Equatable {
    /// The file exists but is not a qbench run database (empty, another file, another schema).
    case notARunDatabase(path: String, reason: String)
    /// SQLite's integrity check failed: pages are damaged.
    case damaged(path: String, detail: String)
    /// A row of the database does not decode (a flipped byte, a hand edit).
    case damagedRecord(path: String, what: String, detail: String)
    /// A run's stored configuration is out of range (`images = 1e9`, `blockImages = 0`, …).
    case invalidConfiguration(path: String, runId: String, problem: String)
    /// A checkpoint's checksum does not match its bytes.
    case damagedCheckpoint(path: String, runId: String, sequence: Int)
    /// Read-only commands found no database.
    case missing(path: String)
    /// Another process held the database locked longer than the busy timeout.
    case busy(path: String, seconds: Double)
    /// A run must journal every step before it acts, and QBENCH_HOME cannot be written.
    case notWritable(path: String, detail: String)
    /// The file system is full, even after the database's reserve was given back.
    case full(path: String)

    public var description: String {
        switch self {
        case let .notARunDatabase(p, r):
            "\(p) is not a qbench run database (\(r)); qbench leaves it untouched: move it aside (`mv \(p) \(p).bad`) to start a new database, or point QBENCH_HOME at the right directory"
        case let .damaged(p, d):
            "the run database \(p) is damaged (SQLite integrity check: \(d)); qbench leaves it untouched: copy it aside, try `sqlite3 \(p) .recover > recovered.sql`, then move it away (`mv \(p) \(p).damaged`) to start a new one"
        case let .damagedRecord(p, w, d):
            "the run database \(p) has a damaged \(w) (\(d)); other runs are unaffected: inspect it with `sqlite3 \(p)`, or start a new run"
        case let .invalidConfiguration(p, id, problem):
            "run \(id) in \(p) has a damaged configuration (\(problem)); it cannot be resumed or reported: start a new run with `qbench run`"
        case let .damagedCheckpoint(p, id, seq):
            "run \(id) in \(p): the checkpoint of journal entry \(seq) fails its checksum (damaged on disk); resuming from it would give wrong results: start a new run with `qbench run`"
        case let .missing(p):
            "no run database at \(p) yet: `qbench run` creates it (set QBENCH_HOME to use another directory)"
        case let .notWritable(p, d):
            "the run database's folder \(p) cannot be written (\(d)), and a run journals every step before it acts: set QBENCH_HOME to a writable folder, or fix the folder (`ls -ld \(p)`, a read-only or full file system); `qbench runs`, `journal` and `report` still read what is there"
        case let .full(p):
            "the file system holding \(p) is full (a run keeps a small reserve there for its safe state and status; it is used up): free space there (`df -h \(p)`), then `qbench runs` shows what was recorded and `qbench run --resume RUN_ID` continues an interrupted run"
        case let .busy(p, s):
            "the run database \(p) stayed locked by another qbench process for \(s) s: wait for it to finish, or check for a hung process (`fuser \(p)`)"
        }
    }
}

/// The run database (SQLite through GRDB, WAL, synchronous = FULL: a journaled step survives a
/// SIGKILL the instant its transaction commits). Opening checks that an existing file is an
/// intact qbench database and never re-initialises one that is not. Concurrent writers (two runs
/// on one QBENCH_HOME) wait up to `busyTimeout` for each other's transactions.
public final class RunDatabase: Sendable {
    public let url: URL
    let queue: DatabaseQueue
    public let readOnly: Bool

    /// How long a write waits for another process's transaction before failing.
    public static let busyTimeout: TimeInterval = 30

    /// Opens (and creates, unless `readOnly`) the run database in `directory`. Read-only opens
    /// neither create nor migrate anything, so `runs`, `journal` and `report` work on a
    /// read-only QBENCH_HOME.
    public init(directory: URL = QBenchHome.directory, readOnly: Bool = false) throws {
        url = directory.appendingPathComponent("runs.sqlite")
        self.readOnly = readOnly
        let fm = FileManager.default
        let existed = fm.fileExists(atPath: url.path)
        if existed {
            try Self.checkHeader(url)
        } else if readOnly {
            throw RunDatabaseError.missing(path: url.path)
        } else {
            do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
                throw RunDatabaseError.notWritable(path: directory.path, detail: "\((error as NSError).localizedDescription)")
            }
        }
        // A read-only mount stops even root (EROFS); permissions stop others.
        if !readOnly, access(directory.path, W_OK) != 0 {
            throw RunDatabaseError.notWritable(path: directory.path, detail: String(cString: strerror(errno)))
        }
        var config = Configuration()
        config.busyMode = .timeout(Self.busyTimeout)
        config.readonly = readOnly
        config.prepareDatabase { db in
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        do {
            queue = try Self.open(path: url.path, configuration: config, existed: existed, readOnly: readOnly, reportedPath: url.path)
            if !readOnly { Self.keepReserve(at: reserveURL) }
        } catch let error as DatabaseError where !readOnly && [.SQLITE_FULL, .SQLITE_IOERR].contains(error.resultCode) {
            // A full file system: SQLite cannot even create its WAL index to open.
            throw RunDatabaseError.full(path: url.path)
        } catch let error as DatabaseError where readOnly && [.SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM].contains(error.resultCode) {
            // A WAL database in a directory this user cannot write (a read-only QBENCH_HOME):
            // SQLite cannot create the -shm file it needs even to read. Read a snapshot copy.
            let copy = try Self.snapshot(of: url)
            queue = try Self.open(path: copy.path, configuration: config, existed: true, readOnly: true, reportedPath: url.path)
        }
    }

    static func open(path: String, configuration: Configuration, existed: Bool, readOnly: Bool, reportedPath: String) throws -> DatabaseQueue {
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
        } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            throw RunDatabaseError.notARunDatabase(path: reportedPath, reason: "SQLite: \(error.message ?? "\(error.resultCode)")")
        }
        do {
            if existed { try checkIntact(queue, path: reportedPath) }
            if !readOnly {
                try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
                try migrator.migrate(queue)
            }
        } catch let error as DatabaseError where readOnly && [.SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM].contains(error.resultCode) {
            throw error
        } catch let error as DatabaseError {
            throw translate(error, path: reportedPath)
        }
        return queue
    }

    /// A private copy of the database (and its WAL, whose committed transactions belong to it)
    /// in a temporary directory, for reading where the database's own directory is read-only.
    static func snapshot(of url: URL) throws -> URL {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("qbench-readonly-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let copy = dir.appendingPathComponent("runs.sqlite")
        try fm.copyItem(at: url, to: copy)
        let wal = URL(fileURLWithPath: url.path + "-wal")
        if fm.fileExists(atPath: wal.path) { try fm.copyItem(at: wal, to: URL(fileURLWithPath: copy.path + "-wal")) }
        return copy
    }

    /// SQLite files start with this 16-byte header; an empty or foreign file is refused before
    /// SQLite would treat it as a new, empty database.
    static let sqliteMagic = Array("SQLite format 3\u{0}".utf8)

    static func checkHeader(_ url: URL) throws {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw RunDatabaseError.notARunDatabase(path: url.path, reason: "cannot be opened for reading: check its permissions")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 16)) ?? Data()
        if head.isEmpty {
            throw RunDatabaseError.notARunDatabase(path: url.path, reason: "the file is empty (0 bytes), perhaps cut short by a full disk or a copy")
        }
        guard [UInt8](head) == sqliteMagic else {
            throw RunDatabaseError.notARunDatabase(path: url.path, reason: "the file does not start with the SQLite header")
        }
    }

    /// `PRAGMA quick_check` and the qbench schema (the migrations table and the run table).
    static func checkIntact(_ queue: DatabaseQueue, path: String) throws {
        try queue.read { db in
            let results = try String.fetchAll(db, sql: "PRAGMA quick_check")
            guard results == ["ok"] else {
                throw RunDatabaseError.damaged(path: path, detail: results.prefix(3).joined(separator: "; "))
            }
            let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
            guard tables.contains("grdb_migrations"), tables.isSuperset(of: ["run", "block", "journal", "rawSamples"]) else {
                throw RunDatabaseError.notARunDatabase(path: path, reason: tables.isEmpty
                    ? "an SQLite file without tables"
                    : "an SQLite file with tables \(tables.sorted().joined(separator: ", ")), not qbench's run, block, journal, rawSamples")
            }
        }
    }

    static func translate(_ error: DatabaseError, path: String) -> Error {
        switch error.resultCode {
        case .SQLITE_NOTADB: RunDatabaseError.notARunDatabase(path: path, reason: "SQLite: \(error.message ?? "not a database")")
        case .SQLITE_CORRUPT: RunDatabaseError.damaged(path: path, detail: error.message ?? "corrupt")
        case .SQLITE_BUSY, .SQLITE_LOCKED: RunDatabaseError.busy(path: path, seconds: busyTimeout)
        default: error
        }
    }

    /// A write, with SQLite's damage and lock errors turned into `RunDatabaseError`. On a full
    /// file system the reserve is given back and the write tried once more: the steps that end a
    /// run (its safe state, its status) still reach the journal.
    func write<T>(_ updates: (Database) throws -> T) throws -> T {
        do { return try queue.write(updates) } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            guard (try? FileManager.default.removeItem(at: reserveURL)) != nil else { throw RunDatabaseError.full(path: url.path) }
            reserve.withLock { $0 = true }
            do { return try queue.write(updates) } catch let again as DatabaseError {
                throw again.resultCode == .SQLITE_FULL ? RunDatabaseError.full(path: url.path) : Self.translate(again, path: url.path)
            }
        } catch let error as DatabaseError { throw Self.translate(error, path: url.path) }
    }

    private let reserve = Mutex(false)
    /// True once a write on a full disk used the reserve: a run stops at its next safe point.
    public var usedReserve: Bool { reserve.withLock { $0 } }

    /// Space kept beside the database for the end of a run on a full disk: a file of
    /// `reserveBytes` that a write failing with SQLITE_FULL deletes before it tries again.
    public static let reserveBytes = 512 << 10
    var reserveURL: URL { url.deletingLastPathComponent().appendingPathComponent("runs.sqlite.reserve") }

    /// Creates the reserve (really allocated, not a sparse file) when it is missing and there is room.
    static func keepReserve(at url: URL) {
        if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int, size >= reserveBytes { return }
        let fd = Glibc.open(url.path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if posix_fallocate(fd, 0, off_t(reserveBytes)) != 0 {
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// A read, with SQLite's damage and lock errors turned into `RunDatabaseError`.
    func read<T>(_ value: (Database) throws -> T) throws -> T {
        do { return try queue.read(value) } catch let error as DatabaseError { throw Self.translate(error, path: url.path) }
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
        m.registerMigration("v2-ledger") { db in
            // The server's per-client ledger of weight leakage served (issue 10): one row per
            // session, updated at every commit.
            try db.create(table: "ledger") { t in
                t.primaryKey("runId", .text)
                t.column("client", .text).notNull()
                t.column("at", .datetime).notNull()
                t.column("images", .integer).notNull()
                t.column("boundBitsPerMode", .double).notNull()
                t.column("chargeBitsPerSymbol", .double).notNull()
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
