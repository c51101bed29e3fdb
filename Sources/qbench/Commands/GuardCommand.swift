import ArgumentParser
import BenchKit
import Foundation
import Sequencer
#if canImport(Glibc)
import Glibc
#endif

/// The guard's half of the safety guard (`SafetyGuard` starts it; docs/safety-guard.md). Not for
/// people to type: it waits on its standard input until the engine that started it ends, and if
/// the engine did not say it left the bench safe, makes the bench safe itself.
struct GuardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard",
        abstract: "Internal: the safety guard a qbench process starts before it drives real instruments.",
        discussion: "Runs the bench's safe-state sequence when the process that started it dies without confirming the bench safe (SIGKILL, a crash, the OOM killer, an error). docs/safety-guard.md.",
        shouldDisplay: false)

    @Option(help: "The bench file whose safe-state sequence to run.") var bench: String
    @Option(help: "server | client | all: whose safe-state steps.") var station = "all"
    @Option(name: .customLong("engine-pid"), parsing: .unconditional, help: "The process being guarded (for the messages).") var enginePid: Int32

    /// One record of what the guard did, appended to $QBENCH_HOME/guard.log (one JSON object per line).
    struct LogEntry: Codable {
        let at: Date
        let enginePid: Int32
        let bench: String
        let station: String
        let run: String?
        let unopened: [String: String]
        let steps: [Bench.SafeStateRecord]
    }

    func run() async throws {
        let which: Station? = station == "all" ? nil : Station(rawValue: station)
        guard which != nil || station == "all" else { throw ValidationError("--station must be server, client or all") }
        // The engine started it in a session of its own (POSIX_SPAWN_SETSID): a closed terminal
        // (SIGHUP) or Ctrl-C (SIGINT to the foreground group) is for the engine, which handles
        // them; the guard must outlive it. Ignored as well, should one be sent to it directly.
        for sig in [SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGTSTP] { signal(sig, SIG_IGN) }
        let description = try BenchDescription.load(URL(fileURLWithPath: bench))
        let registry = try BenchOpening.registry()
        say(toEngine: "armed \(getpid())\n")

        var run: (database: URL, id: String)?
        var released = false
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(STDIN_FILENO, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }                         // end of file: the engine is gone
            pending += buffer[..<n]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if line == "safe" { released = true }
                if line.hasPrefix("run "), let tab = line.firstIndex(of: "\t") {
                    run = (URL(fileURLWithPath: String(line[line.index(line.startIndex, offsetBy: 4)..<tab])), String(line[line.index(after: tab)...]))
                }
                if pending.count > 65_536 { pending.removeAll() }
            }
        }
        if released { return }

        warn("qbench guard: qbench (pid \(enginePid)) ended without confirming bench '\(description.name)' safe (killed, crashed or stopped by an error); running its safe-state sequence")
        let opening = await Bench.openForSafeState(description, registry: registry, station: which)
        for (role, why) in opening.unopened.sorted(by: { $0.key < $1.key }) {
            warn("qbench guard: \(role.rawValue) could not be opened: \(why)")
        }
        let steps = await opening.bench.enterSafeState(of: which) { step in
            warn("qbench guard: \(step.succeeded ? "done" : "FAILED") \(step.step)\(step.error.map { ": \($0)" } ?? "")")
        }
        let failed = steps.filter { !$0.succeeded }
        warn(failed.isEmpty
             ? "qbench guard: bench '\(description.name)' is in its safe state"
             : "qbench guard: \(failed.count) safe-state step(s) failed on bench '\(description.name)': make those instruments safe by hand (\(failed.map(\.step).joined(separator: "; ")))")
        record(LogEntry(at: Date(), enginePid: enginePid, bench: description.name, station: station, run: run?.id,
                        unopened: Dictionary(uniqueKeysWithValues: opening.unopened.map { ($0.key.rawValue, $0.value) }), steps: steps), run: run)
    }

    private func say(toEngine text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
        // The engine reads one line; the guard keeps no way back to it.
        close(STDOUT_FILENO)
    }

    private func warn(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// In the guard log always, and in the run's journal when the engine named its run.
    private func record(_ entry: LogEntry, run: (database: URL, id: String)?) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        if var line = try? encoder.encode(entry) {
            line.append(UInt8(ascii: "\n"))
            let url = QBenchHome.directory.appendingPathComponent("guard.log")
            try? FileManager.default.createDirectory(at: QBenchHome.directory, withIntermediateDirectories: true)
            let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd >= 0 {
                _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                fsync(fd)
                close(fd)
            } else {
                warn("qbench guard: cannot append to \(url.path): \(String(cString: strerror(errno)))")
            }
        }
        guard let run else { return }
        do {
            let db = try RunDatabase(directory: run.database)
            for step in entry.steps {
                _ = try db.journal(run.id, kind: .safeState, step: "\(step.step) (by the safety guard)", detail: step.error)
            }
            _ = try db.journal(run.id, kind: .event, step: "the safety guard made the bench safe after qbench (pid \(enginePid)) ended without doing so",
                               detail: entry.unopened.isEmpty ? nil : "not opened: \(entry.unopened.map { "\($0.key): \($0.value)" }.sorted().joined(separator: "; "))")
        } catch {
            warn("qbench guard: could not journal in run \(run.id) (\(run.database.path)): \(error)")
        }
    }
}
