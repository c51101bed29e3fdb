import Foundation
import NumericsKit

/// The client's own images (`qbench client --images PATH [--labels FILE]`): 28 × 28 grey pictures
/// in MNIST's convention (a white digit on black), as
/// - an IDX image file (magic 0x00000803, raw or gzip), any number of images;
/// - a binary or plain PGM (P5 or P2, maxval ≤ 65535) or an 8-bit PNG (grey, grey + alpha, RGB or
///   RGBA, not interlaced; colour is turned grey by Rec. 601 luma, alpha ignored);
/// - a directory of such PGM and PNG files, taken in file-name order.
/// Labels, when the client has them, are an IDX label file (magic 0x00000801, raw or gzip) with one
/// label per image; without them the set has none and a session reports predictions only.
/// Pixels map to [−1, 1] as the training set's did (p / 127.5 − 1). Everything read is checked: a
/// file that is not what it claims is refused with its path and the reason, never trapped on.
public enum ClientImageFiles {
    public static let side = 28

    public static func load(_ url: URL, labels labelURL: URL? = nil) throws -> MNISTSet {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { throw MNISTSet.LoadError.missing(path: url.path) }
        var pixels: [UInt8] = [], count = 0
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: url.path)
                .filter { ["pgm", "png"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            guard !names.isEmpty else { throw MNISTSet.LoadError.malformed(path: url.path, reason: "holds no .pgm or .png image") }
            guard names.count <= MNISTSet.maximumImages else { throw MNISTSet.LoadError.malformed(path: url.path, reason: "holds \(names.count) images; at most \(MNISTSet.maximumImages) are read") }
            for name in names { pixels += try picture(url.appendingPathComponent(name)); count += 1 }
        } else if ["pgm", "png"].contains(url.pathExtension.lowercased()) {
            pixels = try picture(url); count = 1
        } else {
            let bytes = try contents(url, maximum: 16 + MNISTSet.maximumImages * side * side)
            guard bytes.count >= 16, MNISTSet.bigEndian32(bytes, 0) == 0x0803 else {
                throw MNISTSet.LoadError.malformed(path: url.path, reason: "not an IDX image file (magic 0x00000803), nor a .pgm, .png or a directory of them")
            }
            let n = MNISTSet.bigEndian32(bytes, 4), rows = MNISTSet.bigEndian32(bytes, 8), cols = MNISTSet.bigEndian32(bytes, 12)
            guard rows == side, cols == side else { throw MNISTSet.LoadError.malformed(path: url.path, reason: "\(rows)×\(cols)-pixel images; the model takes 28×28") }
            guard n >= 1, n <= MNISTSet.maximumImages, bytes.count == 16 + n * side * side else {
                throw MNISTSet.LoadError.malformed(path: url.path, reason: "header claims \(n) images, the file holds \(bytes.count) bytes")
            }
            pixels = Array(bytes[16...]); count = n
        }
        var labels: [UInt8] = []
        if let labelURL {
            let lab = try contents(labelURL, maximum: 8 + MNISTSet.maximumImages)
            guard lab.count >= 8, MNISTSet.bigEndian32(lab, 0) == 0x0801, MNISTSet.bigEndian32(lab, 4) == count, lab.count == 8 + count else {
                throw MNISTSet.LoadError.malformed(path: labelURL.path, reason: "not an IDX label file (magic 0x00000801) with one label for each of the \(count) images")
            }
            labels = Array(lab[8...])
            guard labels.allSatisfy({ $0 < 10 }) else { throw MNISTSet.LoadError.malformed(path: labelURL.path, reason: "a label outside 0…9") }
        }
        return MNISTSet(pixels: pixels, pixelsPerImage: side * side, labels: labels)
    }

    /// A file's bytes, inflated when it is gzip.
    static func contents(_ url: URL, maximum: Int) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw MNISTSet.LoadError.missing(path: url.path) }
        if data.count >= 2, data[data.startIndex] == 0x1F, data[data.startIndex + 1] == 0x8B {
            return [UInt8](try gunzip(data, name: url.lastPathComponent, maximumOutput: maximum))
        }
        guard data.count <= maximum else { throw MNISTSet.LoadError.malformed(path: url.path, reason: "\(data.count) bytes: larger than any image set qbench reads") }
        return [UInt8](data)
    }

    /// One 28 × 28 picture's 8-bit grey pixels.
    static func picture(_ url: URL) throws -> [UInt8] {
        let bytes = try contents(url, maximum: 1 << 20)
        let bad = { (reason: String) in MNISTSet.LoadError.malformed(path: url.path, reason: reason) }
        let grey = url.pathExtension.lowercased() == "png" ? try png(bytes, bad) : try pgm(bytes, bad)
        return grey
    }

    /// PGM: "P5" or "P2", width, height, maxval (comments after '#'), then the pixels.
    static func pgm(_ b: [UInt8], _ bad: (String) -> Error) throws -> [UInt8] {
        var at = 0
        func token() -> String? {
            while at < b.count {
                if b[at] == UInt8(ascii: "#") { while at < b.count, b[at] != 10, b[at] != 13 { at += 1 } }
                else if [9, 10, 13, 32].contains(b[at]) { at += 1 }
                else { break }
            }
            let start = at
            while at < b.count, ![9, 10, 13, 32].contains(b[at]) { at += 1 }
            return at > start ? String(decoding: b[start..<at], as: UTF8.self) : nil
        }
        guard let magic = token(), magic == "P5" || magic == "P2" else { throw bad("not a PGM (P5 or P2) picture") }
        guard let w = token().flatMap(Int.init), let h = token().flatMap(Int.init), let maxval = token().flatMap(Int.init),
              (1...65_535).contains(maxval) else { throw bad("a PGM header needs width, height and maxval (1…65535)") }
        guard w == side, h == side else { throw bad("\(w)×\(h) pixels; the model takes 28×28 (resize it first)") }
        let n = side * side
        var values = [Int]()
        if magic == "P5" {
            at += 1  // the single whitespace after maxval
            let width = maxval > 255 ? 2 : 1
            guard b.count - at >= n * width else { throw bad("ends before its \(n) pixels") }
            for k in 0..<n { values.append(width == 2 ? Int(b[at + 2 * k]) << 8 | Int(b[at + 2 * k + 1]) : Int(b[at + k])) }
        } else {
            for _ in 0..<n {
                guard let v = token().flatMap(Int.init), (0...maxval).contains(v) else { throw bad("a pixel outside 0…\(maxval), or fewer than \(n) pixels") }
                values.append(v)
            }
        }
        guard values.allSatisfy({ $0 <= maxval }) else { throw bad("a pixel above its maxval \(maxval)") }
        return values.map { UInt8(($0 * 255 + maxval / 2) / maxval) }
    }

    /// PNG: the signature, IHDR (8-bit, colour type 0, 2, 4 or 6, not interlaced), the IDAT data
    /// inflated, every scanline unfiltered (filters 0–4 of the PNG specification §9).
    static func png(_ b: [UInt8], _ bad: (String) -> Error) throws -> [UInt8] {
        guard b.count > 8, Array(b[0..<8]) == [137, 80, 78, 71, 13, 10, 26, 10] else { throw bad("not a PNG (its signature is missing)") }
        var at = 8, idat: [UInt8] = []
        var width = 0, height = 0, channels = 0, sawHeader = false
        while at + 8 <= b.count {
            let length = MNISTSet.bigEndian32(b, at), type = String(decoding: b[(at + 4)..<(at + 8)], as: UTF8.self)
            guard length <= b.count - at - 12 else { throw bad("a chunk runs past the end of the file") }
            let data = Array(b[(at + 8)..<(at + 8 + length)])
            switch type {
            case "IHDR":
                guard length == 13 else { throw bad("a malformed IHDR chunk") }
                width = MNISTSet.bigEndian32(data, 0); height = MNISTSet.bigEndian32(data, 4)
                let depth = data[8], colour = data[9], interlace = data[12]
                guard depth == 8, interlace == 0, let c = [0: 1, 2: 3, 4: 2, 6: 4][Int(colour)] else {
                    throw bad("a PNG of bit depth \(depth), colour type \(colour), interlace \(interlace): save it as an 8-bit non-interlaced grey or RGB PNG")
                }
                channels = c; sawHeader = true
            case "IDAT": idat += data
            case "IEND": at = b.count
            default: break
            }
            at += 12 + length
        }
        guard sawHeader else { throw bad("no IHDR chunk") }
        guard width == side, height == side else { throw bad("\(width)×\(height) pixels; the model takes 28×28 (resize it first)") }
        let stride = side * channels
        let raw = [UInt8](try gunzip(Data(idat), name: "PNG image data", maximumOutput: side * (stride + 1), zlibWrapped: true))
        guard raw.count == side * (stride + 1) else { throw bad("its image data holds \(raw.count) bytes, expected \(side * (stride + 1))") }
        var rows = [UInt8](repeating: 0, count: side * stride)
        for y in 0..<side {
            let filter = raw[y * (stride + 1)]
            for x in 0..<stride {
                let v = Int(raw[y * (stride + 1) + 1 + x])
                let a = x >= channels ? Int(rows[y * stride + x - channels]) : 0
                let up = y > 0 ? Int(rows[(y - 1) * stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(rows[(y - 1) * stride + x - channels]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = up
                case 3: predicted = (a + up) / 2
                case 4:
                    let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)
                default: throw bad("an unknown scanline filter \(filter)")
                }
                rows[y * stride + x] = UInt8((v + predicted) & 0xFF)
            }
        }
        return (0..<(side * side)).map { k in
            let p = k * channels
            switch channels {
            case 1, 2: return rows[p]
            default:
                let r: Int = 299 * Int(rows[p]), g: Int = 587 * Int(rows[p + 1]), bl: Int = 114 * Int(rows[p + 2])
                return UInt8((r + g + bl + 500) / 1000)
            }
        }
    }
}
