import BenchKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The engine's half of the safety guard (docs/safety-guard.md).
///
/// Before a qbench process opens a bench with real instruments, it starts a guard: a small
/// `qbench guard` process, in its own session (a closed terminal does not reach it), that holds
/// the read end of a pipe whose only write end is this process's. The kernel closes that end when
/// this process ends, however it ends: a return, an error, SIGKILL, a crash, the OOM killer. The
/// guard then reads end-of-file and, unless this process said first that it left the bench safe
/// (`release()`, after a command returned normally), opens the bench's instruments itself and runs
/// the bench's safe-state sequence.
enum SafetyGuard {
    struct StartError: Error, CustomStringConvertible {
        let reason: String
        var description: String {
            "the safety guard did not start (\(reason)); qbench drives real instruments only with a guard that makes them safe if this process dies: check that the qbench binary is still where it was started from and that processes can be created, then run again"
        }
    }

    /// glibc's POSIX_SPAWN_SETSID (<spawn.h>, glibc ≥ 2.26, behind _GNU_SOURCE so not imported).
    private static let posixSpawnSetSID: Int32 = 0x80

    private static let lock = NSLock()
    nonisolated(unsafe) private static var pipes: [Int32] = []   // write ends, under `lock`

    /// Starts a guard for `description` (a bench file with at least one real instrument) and waits
    /// until it is ready. A bench that is all twin needs none: the twin dies with the process.
    static func arm(for description: BenchDescription, station: Station?) throws {
        guard description.bindings.values.contains(where: { $0.driver != "sim" }) else { return }
        let file = URL(fileURLWithPath: description.file).standardizedFileURL.path
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw StartError(reason: "bench '\(description.name)' is not read from a file the guard could read again (\(file))")
        }
        var toGuard: [Int32] = [-1, -1], fromGuard: [Int32] = [-1, -1]
        guard cloexecPipe(&toGuard) else { throw StartError(reason: "pipe: \(String(cString: strerror(errno)))") }
        guard cloexecPipe(&fromGuard) else {
            close(toGuard[0]); close(toGuard[1])
            throw StartError(reason: "pipe: \(String(cString: strerror(errno)))")
        }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let arguments = [executable, "guard", "--bench", file, "--station", station?.rawValue ?? "all",
                         "--engine-pid", "\(getpid())"]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toGuard[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromGuard[1], 1)
        // Its own session from the first instruction (a terminal's SIGINT/SIGHUP never reaches it),
        // default dispositions for the signals this process may ignore, nothing blocked.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t(), none = sigset_t()
        sigemptyset(&defaults); sigemptyset(&none)
        for sig in [SIGTERM, SIGUSR1, SIGUSR2] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(posixSpawnSetSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        close(toGuard[0]); close(fromGuard[1])
        guard spawned == 0 else {
            close(toGuard[1]); close(fromGuard[0])
            throw StartError(reason: "posix_spawn \(executable): \(String(cString: strerror(spawned)))")
        }
        // Ready means: in its own session, signals set, waiting on the pipe.
        let ready = readLine(fromGuard[0], timeout: .seconds(10))
        close(fromGuard[0])
        guard ready?.hasPrefix("armed") == true else {
            kill(pid, SIGKILL)
            close(toGuard[1])
            throw StartError(reason: ready.map { "it said '\($0)'" } ?? "it did not answer within 10 s")
        }
        lock.lock(); pipes.append(toGuard[1]); lock.unlock()
    }

    /// Tells the guard which run to journal in if it has to act.
    static func note(run runId: String, database: URL) {
        send("run \(database.path)\t\(runId)\n")
    }

    /// The command returned normally: its bench is in its safe state; the guards stand down.
    static func release() {
        send("safe\n")
        lock.lock(); let open = pipes; pipes = []; lock.unlock()
        for fd in open { close(fd) }
    }

    private static func send(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        let bytes = Array(line.utf8)
        for fd in pipes { _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
    }

    /// A pipe whose ends are not inherited by any process this one starts (the spawn's dup2 onto
    /// the guard's standard input and output clears the flag on those copies only).
    private static func cloexecPipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return true
    }

    /// One line (without its newline) from `fd`, or nil at end of file or after `timeout`.
    private static func readLine(_ fd: Int32, timeout: Duration) -> String? {
        var bytes: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        while bytes.last != UInt8(ascii: "\n"), bytes.count < 256 {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            let r = poll(&p, 1, ms)
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { return nil }
            var byte: UInt8 = 0
            let n = read(fd, &byte, 1)
            guard n == 1 else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return String(decoding: bytes.filter { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    }
}
