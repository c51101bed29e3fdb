import Foundation
import Testing
@testable import SecureInference

/// The client's own images (`qbench client --images`): IDX, PGM (P5, P2) and PNG (grey, RGB with
/// every scanline filter) read to the very pixels of the MNIST test images they were written from;
/// malformed files refused with the reason, never trapped on.
@Suite("The client's own image files")
struct ClientImageFileTests {
    static let mnist = try! MNISTSet.load(.test, directory: repositoryRoot.appendingPathComponent("Data/mnist"), limit: 6)
    /// Test image k's 8-bit pixels, back from [−1, 1].
    static func pixels(_ k: Int) -> [UInt8] { mnist.image(k).map { UInt8((($0 + 1) * 127.5).rounded()) } }

    static func directory() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-images-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }

    /// A zlib stream of stored (uncompressed) deflate blocks, with its Adler-32.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var at = 0
        repeat {
            let n = min(65_535, data.count - at)
            let last: UInt8 = at + n == data.count ? 1 : 0
            out += [last, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)] + data[at..<(at + n)]
            at += n
        } while at < data.count
        var a = 1, b = 0
        for x in data { a = (a + Int(x)) % 65_521; b = (b + a) % 65_521 }
        return out + be32(b << 16 | a)
    }

    /// A PNG of 28 × 28 pixels with `channels` (1 grey, 3 RGB) and scanline filter `filter`.
    static func png(_ px: [UInt8], channels: Int, filter: UInt8) -> [UInt8] {
        let stride = 28 * channels
        let line = { (y: Int) in (0..<stride).map { px[y * 28 + $0 / channels] } }
        var raw: [UInt8] = []
        for y in 0..<28 {
            let cur = line(y), prev = y > 0 ? line(y - 1) : [UInt8](repeating: 0, count: stride)
            raw.append(filter)
            for x in 0..<stride {
                let a = x >= channels ? Int(cur[x - channels]) : 0, up = Int(prev[x]), c = x >= channels ? Int(prev[x - channels]) : 0
                let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                let predicted = [0, a, up, (a + up) / 2, pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)][Int(filter)]
                raw.append(UInt8((Int(cur[x]) - predicted) & 255))
            }
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] { be32(data.count) + Array(type.utf8) + data + [0, 0, 0, 0] }
        return [137, 80, 78, 71, 13, 10, 26, 10] + chunk("IHDR", be32(28) + be32(28) + [8, channels == 1 ? 0 : 2, 0, 0, 0])
            + chunk("IDAT", zlibStored(raw)) + chunk("IEND", [])
    }

    @Test func everyFormatReadsTheSamePixels() throws {
        let d = try Self.directory()
        defer { try? FileManager.default.removeItem(at: d) }
        try Data(Array("P5\n# a comment\n28 28\n255\n".utf8) + Self.pixels(0)).write(to: d.appendingPathComponent("a.pgm"))
        try Data(Array(("P2 28 28 255\n" + Self.pixels(1).map(String.init).joined(separator: " ")).utf8)).write(to: d.appendingPathComponent("b.pgm"))
        for (k, (channels, filter)) in [(1, 0), (1, 1), (3, 2), (3, 3)].enumerated() {
            try Data(Self.png(Self.pixels(2 + k), channels: channels, filter: UInt8(filter))).write(to: d.appendingPathComponent("c\(k).png"))
        }
        let set = try ClientImageFiles.load(d)
        #expect(set.count == 6 && set.labels.isEmpty)
        for k in 0..<6 { #expect(set.image(k) == Self.mnist.image(k), "image \(k)") }
        // Paeth (4) on its own, and one file on its own.
        try Data(Self.png(Self.pixels(5), channels: 3, filter: 4)).write(to: d.appendingPathComponent("paeth.png"))
        #expect(try ClientImageFiles.load(d.appendingPathComponent("paeth.png")).image(0) == Self.mnist.image(5))
        // IDX with labels.
        let idx = [0, 0, 8, 3] + Self.be32(2) + Self.be32(28) + Self.be32(28) + Self.pixels(0) + Self.pixels(1)
        try Data(idx).write(to: d.appendingPathComponent("images.idx"))
        try Data([0, 0, 8, 1] + Self.be32(2) + Self.mnist.labels.prefix(2)).write(to: d.appendingPathComponent("labels.idx"))
        let labelled = try ClientImageFiles.load(d.appendingPathComponent("images.idx"), labels: d.appendingPathComponent("labels.idx"))
        #expect(labelled.labels == Array(Self.mnist.labels.prefix(2)) && labelled.image(1) == Self.mnist.image(1))
    }

    struct Bad: Sendable, CustomStringConvertible {
        let name: String, file: String, bytes: [UInt8], says: String
        var description: String { name }
    }

    static let bad: [Bad] = [
        Bad(name: "PGM of 27 × 28", file: "x.pgm", bytes: Array("P5 27 28 255\n".utf8) + [UInt8](repeating: 0, count: 27 * 28), says: "27×28"),
        Bad(name: "PGM cut short", file: "x.pgm", bytes: Array("P5 28 28 255\n".utf8) + [0, 1, 2], says: "ends before"),
        Bad(name: "PGM pixel above maxval", file: "x.pgm", bytes: Array(("P2 28 28 10\n" + Array(repeating: "11", count: 784).joined(separator: " ")).utf8), says: "outside"),
        Bad(name: "not a PGM", file: "x.pgm", bytes: Array("P6 28 28 255\n".utf8), says: "not a PGM"),
        Bad(name: "PNG signature", file: "x.png", bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9], says: "signature"),
        Bad(name: "16-bit PNG", file: "x.png", bytes: [137, 80, 78, 71, 13, 10, 26, 10] + be32(13) + Array("IHDR".utf8) + be32(28) + be32(28) + [16, 0, 0, 0, 0] + [0, 0, 0, 0], says: "bit depth 16"),
        Bad(name: "PNG chunk past the end", file: "x.png", bytes: [137, 80, 78, 71, 13, 10, 26, 10] + be32(1 << 30) + Array("IDAT".utf8), says: "past the end"),
        Bad(name: "IDX of 27 × 27", file: "x.idx", bytes: [0, 0, 8, 3] + be32(1) + be32(27) + be32(27) + [UInt8](repeating: 0, count: 729), says: "27×27"),
        Bad(name: "IDX count beyond its bytes", file: "x.idx", bytes: [0, 0, 8, 3] + be32(5) + be32(28) + be32(28) + [UInt8](repeating: 0, count: 784), says: "claims 5"),
        Bad(name: "not IDX", file: "x.idx", bytes: Array("hello".utf8), says: "not an IDX"),
    ]

    @Test(arguments: bad)
    func malformedFilesAreRefusedWithTheReason(_ c: Bad) throws {
        let d = try Self.directory()
        defer { try? FileManager.default.removeItem(at: d) }
        let url = d.appendingPathComponent(c.file)
        try Data(c.bytes).write(to: url)
        do {
            _ = try ClientImageFiles.load(url)
            Issue.record("\(c.name) was accepted")
        } catch {
            #expect("\(error)".contains(c.says), "\(c.name): \(error)")
        }
    }
}
