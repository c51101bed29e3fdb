import Foundation
import NumericsKit
import Testing
@testable import SecureInference

/// Issue 11: model, MNIST and gzip files from outside are refused with a reason, never trap and
/// never inflate without bound.
@Suite("Hostile model, MNIST and gzip files")
struct HostileFileTests {
    /// A model file whose header claims `layers` (rows, cols), followed by `weightBytes` bytes.
    func model(layers: [(Int, Int)], weightBytes: Int = 16) -> Data {
        let header = """
        {"architecture":[2,2],"codeVersion":"t","createdAt":"t","formatVersion":1,"layers":[\
        \(layers.map { "{\"rows\":\($0.0),\"cols\":\($0.1)}" }.joined(separator: ",") )],\
        "preprocessing":"t","weightsCRC32":"00000000"}
        """
        var d = Data("QBNM".utf8)
        withUnsafeBytes(of: UInt32(1).littleEndian) { d.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(count: weightBytes))
        return d
    }

    /// `rows * cols` used to overflow (2^62 × 4) and trap before any length check.
    @Test(arguments: [[(1 << 62, 4)], [(4, 1 << 62)], [(Int.max, Int.max)], [(1 << 31, 1 << 31)], [(2, 2), (3, 1 << 61)], [(-1, 4)], [(0, 4)]])
    func modelHeaderWithHugeOrBadShapeIsRefused(_ layers: [(Int, Int)]) {
        do { _ = try ModelFile.decode(model(layers: layers)); Issue.record("accepted \(layers)") } catch {
            guard case let .malformed(_, reason)? = error as? ModelFile.FormatError else { Issue.record("\(error)"); return }
            #expect(reason.contains("layer"))
        }
    }

    @Test func modelHeaderLengthPastTheEndIsRefused() {
        var d = Data("QBNM".utf8) + Data([1, 0, 0, 0]) + Data([0xFF, 0xFF, 0xFF, 0xFF])
        d.append(Data(count: 8))
        #expect(throws: ModelFile.FormatError.self) { try ModelFile.decode(d) }
    }

    func be(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }

    /// `16 + n*rows*cols` used to overflow with counts of 0xFFFFFFFF.
    @Test(arguments: [(0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF), (1, 0xFFFF_FFFF, 0xFFFF_FFFF), (0xFFFF_FFFF, 28, 28), (2, 0, 4), (2, 65, 65)])
    func idxHeaderWithHugeCountsIsRefused(_ n: Int, _ rows: Int, _ cols: Int) {
        let images = [0, 0, 8, 3] + be(n) + be(rows) + be(cols) + [UInt8](repeating: 0, count: 64)
        let labels = [0, 0, 8, 1] + be(n) + [UInt8](repeating: 0, count: 4)
        #expect(throws: MNISTSet.LoadError.self) { try MNISTSet.parse(images: images, labels: labels) }
    }

    /// A file with fewer images than asked: `subset` used to index out of range.
    @Test func subsetBeyondTheSetIsRefused() throws {
        let set = try MNISTSet.parse(images: [0, 0, 8, 3] + be(3) + be(2) + be(2) + [UInt8](repeating: 7, count: 12),
                                     labels: [0, 0, 8, 1] + be(3) + [1, 2, 3])
        #expect(try set.subset(checked: 0..<3).count == 3)
        do { _ = try set.subset(checked: 0..<10_000); Issue.record("accepted 10,000 of 3") } catch {
            #expect(error == MNISTSet.SubsetError(index: 3, count: 3))
            #expect(error.description.contains("--images"))
        }
        #expect(throws: MNISTSet.SubsetError.self) { try set.subset(checked: [-1]) }
    }

    func gzip(_ data: Data) throws -> Data {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-gz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("x")
        try data.write(to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-9", "-n", file.path]
        try p.run(); p.waitUntilExit()
        return try Data(contentsOf: dir.appendingPathComponent("x.gz"))
    }

    /// A small stream that inflates far beyond what the caller allows stops at the limit.
    @Test func inflatingBeyondTheLimitStops() throws {
        let bomb = try gzip(Data(count: 64 << 20))   // 64 MiB of zeros: ~65 kB compressed
        #expect(bomb.count < 100_000)
        #expect(throws: GunzipError.tooLarge(file: "bomb", limit: 1 << 20)) { try gunzip(bomb, name: "bomb", maximumOutput: 1 << 20) }
        #expect(try gunzip(bomb, name: "bomb").count == 64 << 20)
    }

    /// The trailer's ISIZE is a promise: a stream that inflates beyond it is refused.
    @Test func inflatingBeyondTheTrailersSizeIsRefused() throws {
        var gz = try gzip(Data(repeating: 65, count: 5 << 20))
        let n = gz.count
        gz[n - 4] = 0x10; gz[n - 3] = 0; gz[n - 2] = 0; gz[n - 1] = 0   // ISIZE = 16
        #expect(throws: GunzipError.tooLarge(file: "lie", limit: 16)) { try gunzip(gz, name: "lie") }
    }

    /// An images file whose IDX header promises 10 images but whose stream inflates to 64 MiB is
    /// stopped near the promise, not at the end of the stream.
    @Test func mnistImagesInflatingBeyondTheirHeaderAreRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-mnist-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var images = Data([0, 0, 8, 3] + be(10) + be(28) + be(28))
        images.append(Data(count: 64 << 20))
        try gzip(images).write(to: dir.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        try gzip(Data([0, 0, 8, 1] + be(10) + [UInt8](repeating: 1, count: 10))).write(to: dir.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        do { _ = try MNISTSet.load(.test, directory: dir); Issue.record("accepted a bomb") } catch {
            #expect(error as? GunzipError == .tooLarge(file: "t10k-images-idx3-ubyte.gz", limit: 16 + 10 * 784))
        }
    }
}

@Suite("Model and images of different shapes")
struct ModelInputTests {
    /// A valid model file for 6 inputs used with 784-pixel images used to trap in the encoder.
    @Test func modelForOtherInputsIsRefused() throws {
        let file = ModelFile(network: MNISTNetwork.initialised(sizes: [6, 5, 3], seed: 4), training: nil, history: nil,
                             testDigitalAccuracy: nil, codeVersion: "t")
        do { try file.checkInputs(pixels: MNISTSet.standardPixels); Issue.record("accepted") } catch {
            #expect(error.modelInputs == 6 && error.imagePixels == 784)
            #expect(error.description.contains("qbench train"))
        }
        try file.checkInputs(pixels: 6)
    }
}

@Suite("Normal quantile from outside")
struct CheckedQuantileTests {
    @Test(arguments: [0, 1, -0.5, 1.5, Double.nan, Double.infinity, -Double.infinity])
    func probabilitiesOutsideTheOpenIntervalThrow(_ p: Double) {
        #expect(throws: Normal.ProbabilityError.self) { try Normal.quantile(checked: p) }
    }

    @Test func insideTheIntervalMatchesTheUncheckedQuantile() throws {
        #expect(try Normal.quantile(checked: 0.975) == Normal.quantile(0.975))
        #expect(try Normal.quantile(checked: 1e-300) < -37)
    }
}
