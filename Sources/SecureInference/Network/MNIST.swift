import Foundation
import NumericsKit

/// The MNIST handwritten digits (Y. LeCun and C. Cortes, CC BY-SA 3.0) in LeCun's IDX format,
/// as shipped gzip-compressed in the repository's `Data/mnist/`.
public struct MNISTSet: Sendable {
    /// The images as they were read: the files' 8-bit pixels (a quarter of the memory of the
    /// scaled values: 7.8 MB instead of 31 MB for the 10,000 test images), or values given
    /// directly (tests, augmented training sets).
    enum Storage: Sendable {
        case pixels([UInt8])
        case values([Float])
    }
    let storage: Storage
    public let count: Int
    public let pixelsPerImage: Int
    public let labels: [UInt8]

    /// Callers pass images and labels of one count (`parse` and `subset` build them so), or no
    /// labels at all (a client's own pictures: `ClientImageFiles`); an unequal pair is a
    /// programming error, never the content of a file.
    public init(images: Matrix, labels: [UInt8]) {
        precondition(labels.isEmpty || images.rows == labels.count, "\(images.rows) images but \(labels.count) labels")
        storage = .values(images.values); count = images.rows; pixelsPerImage = images.cols; self.labels = labels
    }

    /// Images of `pixelsPerImage` 8-bit pixels each, row after row.
    public init(pixels: [UInt8], pixelsPerImage: Int, labels: [UInt8]) {
        precondition(pixelsPerImage > 0 && pixels.count % pixelsPerImage == 0, "\(pixels.count) pixels are not whole images of \(pixelsPerImage)")
        let n = pixels.count / pixelsPerImage
        precondition(labels.isEmpty || n == labels.count, "\(n) images but \(labels.count) labels")
        storage = .pixels(pixels); count = n; self.pixelsPerImage = pixelsPerImage; self.labels = labels
    }

    /// A pixel scaled to [−1, 1]: (p/255 − 0.5)/0.5 (PROTOCOL.md §4).
    @inline(__always) static func scaled(_ p: UInt8) -> Float { Float(p) / 127.5 - 1 }

    /// One row per image, `pixelsPerImage` values scaled to [−1, 1] (PROTOCOL.md §4). Built on
    /// each call from the stored pixels: take a `subset` first when only some images are needed.
    public var images: Matrix {
        switch storage {
        case .values(let v): return Matrix(rows: count, cols: pixelsPerImage, values: v)
        case .pixels(let p): return Matrix(rows: count, cols: pixelsPerImage, values: p.map(Self.scaled))
        }
    }

    /// Image `k`'s values, scaled to [−1, 1].
    public func image(_ k: Int) -> [Float] {
        precondition(k >= 0 && k < count, "image \(k) of \(count)")
        let range = (k * pixelsPerImage)..<((k + 1) * pixelsPerImage)
        switch storage {
        case .values(let v): return Array(v[range])
        case .pixels(let p): return p[range].map(Self.scaled)
        }
    }

    public enum Split: String, Sendable { case train, test }

    public enum LoadError: Error, CustomStringConvertible {
        case missing(path: String)
        case malformed(path: String, reason: String)
        public var description: String {
            switch self {
            case let .missing(p): "MNIST file \(p) not found: run qbench from the repository (it ships Data/mnist/) or pass --data DIR"
            case let .malformed(p, r): "MNIST file \(p) is malformed: \(r)"
            }
        }
    }

    /// Loads `train` (60,000) or `test` (10,000) from a directory holding the four `.gz` files.
    public static func load(_ split: Split, directory: URL, limit: Int? = nil) throws -> MNISTSet {
        let prefix = split == .train ? "train" : "t10k"
        let imageURL = directory.appendingPathComponent("\(prefix)-images-idx3-ubyte.gz")
        let labelURL = directory.appendingPathComponent("\(prefix)-labels-idx1-ubyte.gz")
        let imageBytes = try readGzip(imageURL, maximumBytes: maximumImageFileBytes) { head in
            // "count × rows × cols pixels follow": the file may not inflate beyond that.
            guard head.count >= 16 else { return nil }
            let b = [UInt8](head.prefix(16))
            let n = bigEndian32(b, 4), rows = bigEndian32(b, 8), cols = bigEndian32(b, 12)
            guard n <= maximumImages, rows <= maximumPixels, cols <= maximumPixels else { return nil }
            return 16 + n * rows * cols
        }
        let labelBytes = try readGzip(labelURL, maximumBytes: maximumLabelFileBytes) { head in
            head.count >= 8 ? 8 + min(bigEndian32([UInt8](head.prefix(8)), 4), maximumImages) : nil
        }
        return try parse(images: imageBytes, labels: labelBytes, imagePath: imageURL.path, labelPath: labelURL.path, limit: limit)
    }

    /// Pixels of an MNIST image (28 × 28): the input size every qbench model must take.
    public static let standardPixels = 28 * 28
    /// The most images an idx file may hold (MNIST's training set has 60,000).
    public static let maximumImages = 100_000
    /// The most pixels per image (MNIST's are 28 × 28).
    public static let maximumPixels = 4096
    /// Bounds on the inflated files, from the two limits above: a gzip stream that inflates beyond
    /// them is refused while inflating, not after.
    static let maximumImageFileBytes = 16 + maximumImages * maximumPixels
    static let maximumLabelFileBytes = 8 + maximumImages

    static func readGzip(_ url: URL, maximumBytes: Int, promisedSize: @escaping (Data) -> Int?) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw LoadError.missing(path: url.path) }
        return [UInt8](try gunzip(data, name: url.lastPathComponent, maximumOutput: maximumBytes, promisedSize: promisedSize))
    }

    static func bigEndian32(_ b: [UInt8], _ offset: Int) -> Int {
        Int(b[offset]) << 24 | Int(b[offset + 1]) << 16 | Int(b[offset + 2]) << 8 | Int(b[offset + 3])
    }

    /// Parses IDX: magic 0x00000803 (images: count, rows, cols, then u8 pixels) and 0x00000801
    /// (labels: count, then u8 labels), all header integers big-endian.
    public static func parse(images img: [UInt8], labels lab: [UInt8], imagePath: String = "images",
                             labelPath: String = "labels", limit: Int? = nil) throws -> MNISTSet {
        guard img.count >= 16, bigEndian32(img, 0) == 0x0803 else {
            throw LoadError.malformed(path: imagePath, reason: "no IDX image header (magic 0x00000803)")
        }
        guard lab.count >= 8, bigEndian32(lab, 0) == 0x0801 else {
            throw LoadError.malformed(path: labelPath, reason: "no IDX label header (magic 0x00000801)")
        }
        let n = bigEndian32(img, 4), rows = bigEndian32(img, 8), cols = bigEndian32(img, 12)
        let nl = bigEndian32(lab, 4)
        guard n == nl else { throw LoadError.malformed(path: labelPath, reason: "\(nl) labels for \(n) images") }
        // Header counts are up to 2^32 − 1 each: bound them before multiplying.
        guard n <= maximumImages else {
            throw LoadError.malformed(path: imagePath, reason: "header claims \(n) images; at most \(maximumImages) are read: is this an MNIST file?")
        }
        guard rows >= 1, cols >= 1, rows <= maximumPixels, cols <= maximumPixels, rows * cols <= maximumPixels else {
            throw LoadError.malformed(path: imagePath, reason: "header claims \(rows)×\(cols)-pixel images; expected 1 … \(maximumPixels) pixels (MNIST's are 28×28)")
        }
        guard img.count == 16 + n * rows * cols else {
            throw LoadError.malformed(path: imagePath, reason: "expected \(16 + n * rows * cols) bytes, found \(img.count)")
        }
        guard lab.count == 8 + n else { throw LoadError.malformed(path: labelPath, reason: "expected \(8 + n) bytes, found \(lab.count)") }
        let count = min(n, limit ?? n)
        let pixels = rows * cols
        let labels = Array(lab[8..<(8 + count)])
        guard labels.allSatisfy({ $0 < 10 }) else { throw LoadError.malformed(path: labelPath, reason: "a label outside 0…9") }
        return MNISTSet(pixels: Array(img[16..<(16 + count * pixels)]), pixelsPerImage: pixels, labels: labels)
    }

    public struct SubsetError: Error, CustomStringConvertible, Equatable {
        public let index: Int
        public let count: Int
        public var description: String {
            "image \(index) was asked for, but the MNIST file holds \(count) images (0…\(count - 1)): ask for at most \(count) images (--images) or use the full data set in Data/mnist/"
        }
    }

    /// Refuses a set whose images are not MNIST's 28 × 28 pixels: every network here takes 784
    /// inputs (PROTOCOL.md §4), and a product of mismatched sizes is a trap, not an answer.
    public func requireStandardPixels(from path: String) throws(LoadError) {
        guard pixelsPerImage == Self.standardPixels else {
            throw .malformed(path: path, reason: "its images have \(pixelsPerImage) pixels, not 28 × 28 = \(Self.standardPixels): pass --data with the MNIST files")
        }
    }

    /// The images with indices `indices`, in that order, refusing an index outside the set: for
    /// counts that come from outside (an option, a run record, a file).
    public func subset(checked indices: some Collection<Int>) throws(SubsetError) -> MNISTSet {
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) { throw SubsetError(index: bad, count: count) }
        return subset(indices)
    }

    /// The images with indices `indices`, in that order. Every index must be within the set (the
    /// training and inference loops derive theirs from `count`); indices from outside go through
    /// `subset(checked:)`.
    public func subset(_ indices: some Collection<Int>) -> MNISTSet {
        if let bad = indices.first(where: { $0 < 0 || $0 >= count }) {
            preconditionFailure(SubsetError(index: bad, count: count).description)
        }
        let labs = labels.isEmpty ? [] : indices.map { labels[$0] }
        let w = pixelsPerImage
        switch storage {
        case .pixels(let p):
            var out = [UInt8](); out.reserveCapacity(indices.count * w)
            for i in indices { out += p[(i * w)..<((i + 1) * w)] }
            return MNISTSet(pixels: out, pixelsPerImage: w, labels: labs)
        case .values(let v):
            var out = [Float](); out.reserveCapacity(indices.count * w)
            for i in indices { out += v[(i * w)..<((i + 1) * w)] }
            return MNISTSet(images: Matrix(rows: indices.count, cols: w, values: out), labels: labs)
        }
    }
}
