import Foundation
import Testing

/// Options and files that once trapped the `qbench` process (docs/trap-audit.md): each must be
/// refused with a message, the process ending by exit, never by a signal.
@Suite("qbench refuses bad options and files without trapping")
struct CommandRefusalTests {
    /// MNIST-format training and test files of 10 × 10-pixel images (valid IDX, gzip).
    static func smallImages() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-small-mnist-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func idx(images n: Int) -> Data {
            var d = Data([0, 0, 8, 3]); for v in [UInt32(n), 10, 10] { withUnsafeBytes(of: v.bigEndian) { d.append(contentsOf: $0) } }
            d.append(contentsOf: (0..<(n * 100)).map { UInt8($0 % 251) }); return d
        }
        func labels(_ n: Int) -> Data {
            var d = Data([0, 0, 8, 1]); withUnsafeBytes(of: UInt32(n).bigEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: (0..<n).map { UInt8($0 % 10) }); return d
        }
        for (name, data) in [("train-images-idx3-ubyte", idx(images: 20)), ("train-labels-idx1-ubyte", labels(20)),
                             ("t10k-images-idx3-ubyte", idx(images: 5)), ("t10k-labels-idx1-ubyte", labels(5))] {
            let raw = folder.appendingPathComponent(name)
            try data.write(to: raw)
            let gzip = Process()
            gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
            gzip.arguments = ["-f", raw.path]
            try gzip.run(); gzip.waitUntilExit()
        }
        return folder
    }

    static let cases: [(arguments: [String], says: String)] = [
        (["bench", "server-check", "--images=-5", "--seeds", "1"], "--images"),
        (["bench", "server-check", "--seeds", "0"], "--seeds"),
        (["bench", "calibration", "--seeds", "0"], "--seeds"),
        (["bench", "attacks", "--seeds", "0"], "--seeds"),
        (["bench", "attacks", "--images", "0"], "--images"),
        (["bench", "curious-server", "--images=-1"], "--images"),
        (["bench", "run", "--block-images", "0"], "--block-images"),
        // A negative number is the option's value, refused with its range (it was "Missing value").
        (["run", "--budget", "-1", "--images", "10"], "--budget is refused"),
        (["run", "--delta", "-1e-3", "--images", "10"], "--delta is refused"),
        (["leakage", "--gain", "-2"], "gain"),
        // How long a run pauses: a duration with its unit, at most a day.
        (["run", "--reconnect-timeout", "ten", "--images", "10"], "--reconnect-timeout 'ten' is not a duration"),
        (["run", "--interlock-timeout", "100000 s", "--images", "10"], "--interlock-timeout '100000 s' is not a duration"),
        (["client", "--bench", "x.yaml", "--connect", "h:1", "--pki", "p", "--name", "n", "--reconnect-timeout", "60"], "--reconnect-timeout '60' is not a duration"),
        (["train", "--data", "SMALL", "--validation-images", "5", "--epochs", "1", "--batch-size", "4", "--curve-snrs", "none", "--output", "SMALL/never.qbm"], "28 × 28"),
    ]

    @Test("refused with a message, not a signal", arguments: cases)
    func refused(_ c: (arguments: [String], says: String)) throws {
        let small = try Self.smallImages()
        defer { try? FileManager.default.removeItem(at: small) }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-refusal-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let r = try QBench.run(QBench.binary, c.arguments.map { $0.replacingOccurrences(of: "SMALL", with: small.path) }, environment: ["QBENCH_HOME": home.path])
        #expect(r.status != 0 && r.status < 128, "\(c.arguments) ended with \(r.status): \(r.stderr.suffix(1500))")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("precondition") && !r.stderr.contains("Program crashed"), "\(r.stderr.suffix(1500))")
        #expect(r.stderr.contains(c.says), "\(c.arguments): \(r.stderr.suffix(800))")
    }
}
