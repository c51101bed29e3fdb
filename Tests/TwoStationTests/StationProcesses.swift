import Foundation
import Sequencer

/// The `qbench` program of this checkout, run as the stations' processes (scripts/test.sh builds it
/// before the tests).
enum QBench {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var binary: URL { root.appendingPathComponent(".build/debug/qbench") }
    static var simBench: String { root.appendingPathComponent("Devices/benches/sim.yaml").path }

    /// Runs a program to its end: its exit status (128 + the signal when one ended it), stdout, stderr.
    @discardableResult
    static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: Data, stderr: String) {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.currentDirectoryURL = root
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes while it runs (a full pipe would block it).
        let errorText = LockedData()
        let reader = Thread { errorText.set(err.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !errorText.done { Thread.sleep(forTimeInterval: 0.01) }
        // A signal shows as 128 + its number, as a shell reports it.
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        return (status, stdout, String(decoding: errorText.value, as: UTF8.self))
    }

    /// Starts `qbench` in the background with `arguments` (stdout discarded; stderr to `stderr`, or
    /// discarded): for tests that act while it runs.
    static func start(_ arguments: [String], environment: [String: String] = [:], stderr: URL? = nil) throws -> Process {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.currentDirectoryURL = root
        p.standardOutput = FileHandle.nullDevice
        if let stderr {
            FileManager.default.createFile(atPath: stderr.path, contents: nil)
            p.standardError = try FileHandle(forWritingTo: stderr)
        } else {
            p.standardError = FileHandle.nullDevice
        }
        try p.run()
        return p
    }

    /// `scripts/two-stations.sh` with `arguments`: the two stations' reports.
    static func twoStations(_ arguments: [String]) throws -> StationPair {
        let r = try run(URL(fileURLWithPath: "/bin/bash"), [root.appendingPathComponent("scripts/two-stations.sh").path] + arguments,
                        environment: ["QBENCH": binary.path])
        guard r.status == 0 else { throw HarnessError("two-stations.sh \(arguments) exited with \(r.status): \(r.stderr.suffix(2000))") }
        return try JSONDecoder().decode(StationPair.self, from: r.stdout)
    }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data(), finished = false
    func set(_ d: Data) { lock.lock(); data = d; finished = true; lock.unlock() }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return finished }
    var value: Data { lock.lock(); defer { lock.unlock() }; return data }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// What a station prints with `--json` (qbench's StationReport).
struct StationReport: Decodable {
    let station: String
    let database: String
    let sessionId: String
    let decision: String
    let status: String
    let certified: Bool
    let aborted: Bool
    let abortReason: String?
    let images: Int
    let accuracy: Double?
    let weightLeakageUpperBoundBitsPerMode: Double
}

struct StationPair: Decodable {
    let server: StationReport
    let client: StationReport
}

/// A server and a client station started by hand (for the kill -9 cases): a lab PKI, a home per
/// station, the one-table sim bench split at a fibre on loopback.
final class StationProcesses: @unchecked Sendable {
    let work: URL
    let grpcPort: Int, fiberPort: Int
    var server: Process?, client: Process?
    var serverHome: URL { work.appendingPathComponent("server") }
    var clientHome: URL { work.appendingPathComponent("client") }
    private var allow = ""

    init() throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-two-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        grpcPort = 20_000 + Int.random(in: 0..<20_000)
        fiberPort = grpcPort + 1
        let pki = work.appendingPathComponent("pki").path
        try QBench.run(QBench.binary, ["pki", "init", "--dir", pki])
        try QBench.run(QBench.binary, ["pki", "issue", "--dir", pki, "--name", "server-a", "--role", "server", "--san", "127.0.0.1"])
        try QBench.run(QBench.binary, ["pki", "issue", "--dir", pki, "--name", "client-b", "--role", "client", "--san", "127.0.0.1"])
        let fp = String(decoding: try QBench.run(QBench.binary, ["pki", "fingerprint", "\(pki)/client-b.pem"]).stdout, as: UTF8.self)
        allow = fp.split(separator: "\n").first { $0.hasPrefix("cert-sha256:") }.map(String.init) ?? ""
        // The link, measured jointly first: the client's decoder needs its part.
        try startServer(images: 1, log: "server-link", calibrateLink: true)
        try startClient(log: "client-link", calibrateLink: true)
        client?.waitUntilExit()
        server?.waitUntilExit()
        guard client?.terminationStatus == 0 else { throw HarnessError("the joint link calibration failed: \(log("client-link")) \(log("server-link"))") }
    }

    deinit {
        server?.terminate(); client?.terminate()
        try? FileManager.default.removeItem(at: work)
    }

    private func launch(_ arguments: [String], home: URL, log name: String) throws -> Process {
        let p = Process()
        p.executableURL = QBench.binary
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(["QBENCH_HOME": home.path]) { $1 }
        p.currentDirectoryURL = QBench.root
        FileManager.default.createFile(atPath: work.appendingPathComponent("\(name).json").path, contents: nil)
        FileManager.default.createFile(atPath: work.appendingPathComponent("\(name).log").path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: work.appendingPathComponent("\(name).json"))
        p.standardError = try FileHandle(forWritingTo: work.appendingPathComponent("\(name).log"))
        try p.run()
        return p
    }

    func log(_ name: String) -> String { (try? String(contentsOf: work.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? "" }
    func report(_ name: String) throws -> StationReport {
        try JSONDecoder().decode(StationReport.self, from: try Data(contentsOf: work.appendingPathComponent("\(name).json")))
    }

    /// Starts `qbench serve` (resuming `resume` if given) and waits until it listens.
    func startServer(images: Int, resume: String? = nil, log name: String = "server", calibrateLink: Bool = false,
                     sessions: Int = 1, extra: [String] = []) throws {
        var args = ["serve", "--bench", QBench.simBench, "--fiber", "127.0.0.1:\(fiberPort)", "--pki", work.appendingPathComponent("pki").path,
                    "--name", "server-a", "--listen", "127.0.0.1:\(grpcPort)", "--allow", allow, "--images", "\(images)", "--sessions", "\(sessions)", "--json"] + extra
        if let resume { args += ["--resume", resume] }
        if calibrateLink { args.append("--calibrate-link") }
        let p = try launch(args, home: serverHome, log: name)
        server = p
        let deadline = Date().addingTimeInterval(120)
        while !log(name).contains("serving on") {
            guard p.isRunning, Date() < deadline else { throw HarnessError("the server station did not start: \(log(name))") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    func startClient(log name: String = "client", calibrateLink: Bool = false, extra: [String] = []) throws {
        client = try launch(["client", "--bench", QBench.simBench, "--fiber", "127.0.0.1:\(fiberPort)", "--pki", work.appendingPathComponent("pki").path,
                             "--name", "client-b", "--connect", "127.0.0.1:\(grpcPort)", "--json"] + (calibrateLink ? ["--calibrate-link"] : []) + extra,
                            home: clientHome, log: name)
    }

    /// Waits until the server's database holds `blocks` committed blocks of its newest session; its id.
    func waitForServerBlocks(_ blocks: Int, timeout: TimeInterval = 300) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let db = try? RunDatabase(directory: serverHome, readOnly: true), let run = try? db.runs(limit: 1).first,
               let done = try? db.blocks(run.id).count, done >= blocks {
                return run.id
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("the server committed fewer than \(blocks) blocks in \(timeout) s: \(log("server"))")
    }

    static func kill9(_ p: Process?) {
        guard let p else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }
}
