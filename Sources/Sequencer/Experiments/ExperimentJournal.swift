import Foundation

/// The experiment's journal: one JSON object per line in `<experiment>/journal.jsonl`, appended
/// and flushed to disk (fsync) before the experiment goes on, so a SIGKILL loses at most the line
/// being written; a torn last line is ignored when the journal is read back. The state of an
/// experiment (which points are finished, which session a point started, which benches were
/// calibrated) is a replay of its journal.
public final class ExperimentJournal: @unchecked Sendable {
    public struct Entry: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable {
            case created, resumed, calibrated, driftCheck = "drift-check", pointStarted = "point-started"
            case pointFinished = "point-finished", pointFailed = "point-failed", stopped, finished
        }
        public var at: Date
        public var kind: Kind
        public var point: Int?
        public var runId: String?
        /// The bench the entry is about (the twin's seed as text, or "bench file").
        public var bench: String?
        public var detail: String?
        public var row: ExperimentRow?
        public var drift: DriftOutcome?

        public init(kind: Kind, point: Int? = nil, runId: String? = nil, bench: String? = nil, detail: String? = nil,
                    row: ExperimentRow? = nil, drift: DriftOutcome? = nil, at: Date = Date()) {
            self.at = at; self.kind = kind; self.point = point; self.runId = runId; self.bench = bench
            self.detail = detail; self.row = row; self.drift = drift
        }
    }

    public let url: URL
    private let lock = NSLock()
    private let handle: FileHandle
    private(set) public var entries: [Entry]

    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    /// Opens (creating) the journal and reads what it holds. A damaged line before the last is an
    /// error (the journal was edited or the disk is failing); a torn last line is dropped.
    public init(url: URL) throws {
        self.url = url
        let fm = FileManager.default
        if !fm.fileExists(atPath: url.path) {
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard fm.createFile(atPath: url.path, contents: nil) else {
                throw ExperimentError.journal(path: url.path, line: 0, problem: "cannot be created (is the folder writable?)")
            }
        }
        let data = try Data(contentsOf: url)
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let torn = !(lines.last?.isEmpty ?? true)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var read: [Entry] = []
        for (k, line) in lines.enumerated() {
            do { read.append(try Self.decoder.decode(Entry.self, from: Data(line))) } catch {
                if k == lines.count - 1 && torn { break }
                throw ExperimentError.journal(path: url.path, line: k + 1, problem: "is not a journal entry (\(error))")
            }
        }
        entries = read
        handle = try FileHandle(forUpdating: url)
        // Drop a torn tail so the next entry starts on a line of its own.
        let good = lines.prefix(read.count).reduce(0) { $0 + $1.count + 1 }
        try handle.truncate(atOffset: UInt64(good))
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    /// Appends an entry and waits until it is on disk.
    public func append(_ entry: Entry) throws {
        var line = try Self.encoder.encode(entry)
        line.append(UInt8(ascii: "\n"))
        lock.lock(); defer { lock.unlock() }
        try handle.write(contentsOf: line)
        try handle.synchronize()
        entries.append(entry)
    }

    public var snapshot: [Entry] { lock.lock(); defer { lock.unlock() }; return entries }

    /// Each point's last finished row (by point index).
    public var finishedRows: [Int: ExperimentRow] {
        var out: [Int: ExperimentRow] = [:]
        for e in snapshot where e.kind == .pointFinished { if let p = e.point, let r = e.row { out[p] = r } }
        return out
    }

    /// The session a point last started (and has not finished).
    public func startedRun(point: Int) -> String? {
        var id: String?
        for e in snapshot where e.point == point {
            if e.kind == .pointStarted { id = e.runId }
            if e.kind == .pointFinished { id = nil }
        }
        return id
    }

    /// Benches whose first-use calibration is done.
    public var calibratedBenches: Set<String> {
        Set(snapshot.filter { $0.kind == .calibrated && $0.detail?.hasPrefix("initial") == true }.compactMap(\.bench))
    }

    public var isFinished: Bool { snapshot.last?.kind == .finished }
}
