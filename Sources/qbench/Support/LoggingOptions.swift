import ArgumentParser
import BenchIO
import Foundation
import Logging

/// `--log-level` and `--io-trace FILE` for every command that talks to instruments (swift-log).
/// Messages at the level and above go to stderr; the I/O trace (every SCPI command and reply,
/// with a timestamp and the instrument, as QCoDeS's communication log) goes to FILE as one JSON
/// object per line, switched on per run.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: "trace | debug | info | notice | warning | error | critical: what qbench logs to stderr (default: warning).")
    var logLevel: String = "warning"
    @Option(name: .customLong("io-trace"), help: "Write every instrument command and reply, with a timestamp and the instrument, to this file (JSON lines).")
    var ioTrace: String?

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got '\(logLevel)'")
        }
    }

    /// Sets up logging for this process (once; a second call changes nothing).
    func bootstrap() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        let trace: IOTraceFile?
        if let ioTrace {
            do { trace = try IOTraceFile(path: ioTrace) } catch {
                throw CLIError("--io-trace: cannot write \(ioTrace) (\(error)): give a path in a writable folder")
            }
        } else {
            trace = nil
        }
        LoggingBootstrap.once {
            LoggingSystem.bootstrap { label in
                var stderr = StreamLogHandler.standardError(label: label)
                stderr.logLevel = level
                guard label == SCPISession.ioLabel, let trace else { return stderr }
                return MultiplexLogHandler([stderr, IOTraceHandler(file: trace)])
            }
        }
    }
}

/// LoggingSystem.bootstrap may run once per process.
enum LoggingBootstrap {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var done = false
    static func once(_ body: () -> Void) {
        lock.lock(); defer { lock.unlock() }
        guard !done else { return }
        done = true
        body()
    }
}

/// The trace file: appended under a lock, one line per message.
final class IOTraceFile: @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()
    init(path: String) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 0)
    }
    func append(_ line: Data) {
        lock.lock(); defer { lock.unlock() }
        handle.write(line)
    }
}

/// Every message of the I/O logger, at every level, as {"at", "instrument", "message"}.
struct IOTraceHandler: LogHandler {
    let file: IOTraceFile
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    struct Line: Encodable { let at: String; let instrument: String; let message: String }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let line = Line(at: ISO8601DateFormatter.traceFormatter.string(from: Date()),
                        instrument: all["instrument"].map { "\($0)" } ?? "", message: "\(event.message)")
        guard var data = try? JSONEncoder().encode(line) else { return }
        data.append(0x0A)
        file.append(data)
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let traceFormatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}
