import Foundation
import NumericsKit

/// The model file (`.qbm`), format version 1, documented in docs/model-format.md:
///
///     bytes 0–3    magic "QBNM"
///     bytes 4–7    format version, UInt32 little-endian (1)
///     bytes 8–11   header length H, UInt32 little-endian
///     12 ..< 12+H  header: UTF-8 JSON (`ModelFile.Header`)
///     then         for each layer in order: rows × cols Float32 little-endian, row-major
///
/// The header carries the architecture, the preprocessing, how the weights were trained and a
/// CRC-32 of the weight bytes, so a truncated or edited file is refused with a clear error.
public struct ModelFile: Sendable {
    public static let magic: [UInt8] = Array("QBNM".utf8)
    public static let formatVersion: UInt32 = 1

    public struct Header: Codable, Sendable, Equatable {
        public struct Layer: Codable, Sendable, Equatable { public let rows: Int; public let cols: Int }
        public var formatVersion: UInt32
        public var architecture: [Int]
        public var layers: [Layer]
        public var preprocessing: String
        public var training: Trainer.Configuration?
        public var history: [Trainer.EpochReport]?
        public var testDigitalAccuracy: Double?
        public var createdAt: String
        public var codeVersion: String
        public var weightsCRC32: String
        // Optional keys added without a new format version (docs/model-format.md): files written
        // before them load with these absent.
        /// Accuracy against the inference SNR F on the test set, measured after training.
        public var noiseCurve: NoiseCurve?
        /// Wall-clock training time in seconds and the cores it ran on.
        public var trainingSeconds: Double?
        public var trainingCores: Int?
        /// Free text: why this model exists, what it was selected for, the command that made it.
        public var provenance: String?
    }

    public var header: Header
    public var network: MNISTNetwork

    /// A stable identifier: architecture and the weights' CRC-32.
    public var modelID: String { "mnist-" + header.architecture.map(String.init).joined(separator: "-") + "-" + header.weightsCRC32 }

    public enum FormatError: Error, CustomStringConvertible {
        case unreadable(path: String)
        case notAModel(path: String)
        case unsupportedVersion(path: String, version: UInt32)
        case malformed(path: String, reason: String)
        case checksum(path: String, expected: String, found: String)
        public var description: String {
            switch self {
            case let .unreadable(p): "cannot read model file \(p): check the path (the shipped model is Models/mnist-784-784-10.qbm)"
            case let .notAModel(p): "\(p) is not a qbench model file (no QBNM magic)"
            case let .unsupportedVersion(p, v): "\(p) has model format version \(v); this qbench reads version \(ModelFile.formatVersion): retrain with `qbench train` or update qbench"
            case let .malformed(p, r): "model file \(p) is malformed: \(r)"
            case let .checksum(p, e, f): "model file \(p) is corrupt: weights CRC-32 is \(f), header says \(e); restore it from git or retrain with `qbench train`"
            }
        }
    }

    public init(network: MNISTNetwork, training: Trainer.Configuration?, history: [Trainer.EpochReport]?,
                testDigitalAccuracy: Double?, codeVersion: String, createdAt: Date = Date(),
                noiseCurve: NoiseCurve? = nil, trainingSeconds: Double? = nil, trainingCores: Int? = nil, provenance: String? = nil) {
        self.network = network
        let formatter = ISO8601DateFormatter()
        header = Header(formatVersion: ModelFile.formatVersion,
                        architecture: [network.inputSize] + network.layers.map(\.rows),
                        layers: network.layers.map { .init(rows: $0.rows, cols: $0.cols) },
                        preprocessing: "pixels p/127.5 − 1 in [−1, 1]; L2-normalised before every layer; ReLU between layers; no biases",
                        training: training, history: history, testDigitalAccuracy: testDigitalAccuracy,
                        createdAt: formatter.string(from: createdAt), codeVersion: codeVersion,
                        weightsCRC32: ModelFile.checksum(network),
                        noiseCurve: noiseCurve, trainingSeconds: trainingSeconds, trainingCores: trainingCores, provenance: provenance)
    }

    static func weightBytes(_ network: MNISTNetwork) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(network.layers.reduce(0) { $0 + $1.values.count } * 4)
        for layer in network.layers {
            for v in layer.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        }
        return bytes
    }

    static func checksum(_ network: MNISTNetwork) -> String {
        String(format: "%08x", weightBytes(network).withUnsafeBytes { crc32Checksum($0) })
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let json = try encoder.encode(header)
        var data = Data(ModelFile.magic)
        withUnsafeBytes(of: ModelFile.formatVersion.littleEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        data.append(contentsOf: ModelFile.weightBytes(network))
        return data
    }

    public func write(to url: URL) throws {
        try encoded().write(to: url, options: .atomic)
    }

    public static func read(from url: URL) throws -> ModelFile {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw FormatError.unreadable(path: url.path) }
        return try decode(data, path: url.path)
    }

    public static func decode(_ data: Data, path: String = "model") throws -> ModelFile {
        let bytes = [UInt8](data)
        guard bytes.count >= 12, Array(bytes[0..<4]) == magic else { throw FormatError.notAModel(path: path) }
        func u32(_ o: Int) -> UInt32 { UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24 }
        let version = u32(4)
        guard version == formatVersion else { throw FormatError.unsupportedVersion(path: path, version: version) }
        let headerLength = Int(u32(8))   // ≤ 2^32 − 1: no overflow in 12 + headerLength on 64-bit
        guard bytes.count - 12 >= headerLength else { throw FormatError.malformed(path: path, reason: "header runs past the end of the file") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[12..<(12 + headerLength)])) } catch {
            throw FormatError.malformed(path: path, reason: "header is not valid JSON: \(error)")
        }
        guard !header.layers.isEmpty else { throw FormatError.malformed(path: path, reason: "no layers") }
        var offset = 12 + headerLength
        var layers: [Matrix] = []
        for (k, l) in header.layers.enumerated() {
            guard l.rows > 0, l.cols > 0 else {
                throw FormatError.malformed(path: path, reason: "layer \(k) is \(l.rows)×\(l.cols); every layer needs at least one row and one column")
            }
            // rows·cols·4 from the header is checked against the bytes left before any
            // arithmetic that could overflow (a header may claim 2^62 rows).
            let (count, overflow) = l.rows.multipliedReportingOverflow(by: l.cols)
            guard !overflow, count <= (bytes.count - offset) / 4 else {
                throw FormatError.malformed(path: path, reason: "layer \(k) (\(l.rows)×\(l.cols)) needs more weight bytes than the file's \(bytes.count - offset) remaining: the file is truncated or its header is wrong; restore it from git or retrain with `qbench train`")
            }
            var values = [Float](repeating: 0, count: count)
            for i in 0..<count { values[i] = Float(bitPattern: u32(offset + 4 * i)) }
            offset += 4 * count
            if k > 0, l.cols != header.layers[k - 1].rows {
                throw FormatError.malformed(path: path, reason: "layer \(k) takes \(l.cols) inputs but layer \(k - 1) gives \(header.layers[k - 1].rows)")
            }
            layers.append(Matrix(rows: l.rows, cols: l.cols, values: values))
        }
        guard offset == bytes.count else { throw FormatError.malformed(path: path, reason: "\(bytes.count - offset) trailing bytes after the weights") }
        // MNISTNetwork's preconditions (non-empty, matching shapes) hold: both are checked above.
        let network = MNISTNetwork(layers: layers)
        let crc = checksum(network)
        guard crc == header.weightsCRC32 else { throw FormatError.checksum(path: path, expected: header.weightsCRC32, found: crc) }
        return ModelFile(header: header, network: network)
    }

    init(header: Header, network: MNISTNetwork) { self.header = header; self.network = network }

    /// A model whose first layer does not take one input per pixel of the images.
    public struct InputMismatch: Error, CustomStringConvertible, Equatable {
        public let modelID: String
        public let modelInputs: Int
        public let imagePixels: Int
        public var description: String {
            "model \(modelID) takes \(modelInputs) inputs but the images have \(imagePixels) pixels: use a model trained on these images (the shipped one is Models/mnist-784-784-10.qbm) or retrain with `qbench train`"
        }
    }

    /// Refuses images of `pixels` pixels if this model cannot take them (before any matrix
    /// product or encoder would trap on the shapes).
    public func checkInputs(pixels: Int) throws(InputMismatch) {
        guard network.inputSize == pixels else {
            throw InputMismatch(modelID: modelID, modelInputs: network.inputSize, imagePixels: pixels)
        }
    }
}
