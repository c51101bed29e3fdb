import CZlib
import Foundation

public enum GunzipError: Error, CustomStringConvertible, Equatable {
    case corrupt(file: String, zlibCode: Int32, message: String)
    /// The stream inflates beyond what its trailer or the caller allows (a "zip bomb", or a damaged file).
    case tooLarge(file: String, limit: Int)
    public var description: String {
        switch self {
        case let .corrupt(file, code, message):
            "\(file) is not a valid gzip stream (zlib error \(code): \(message)): re-copy it from the repository's Data/ folder"
        case let .tooLarge(file, limit):
            "\(file) inflates beyond \(limit) bytes, more than its gzip trailer declares or such a file can hold: it is damaged or not the expected file; re-copy it from the repository's Data/ folder"
        }
    }
}

/// Inflates a gzip (RFC 1952) stream with zlib. The output is bounded by the size the trailer
/// declares (ISIZE, the length modulo 2^32), by `maximumOutput`, and by what the inflated data's
/// own header promises once `promisedSize` can read it from the output so far (it returns nil
/// until it has enough bytes); inflating stops, with `.tooLarge`, as soon as it would pass any.
///
/// `zlibWrapped`: the data is a zlib stream (RFC 1950: a PNG's image data) instead of gzip.
public func gunzip(_ data: Data, name: String = "data", maximumOutput: Int = 1 << 30,
                   promisedSize: ((Data) -> Int?)? = nil, zlibWrapped: Bool = false) throws(GunzipError) -> Data {
    var limit = maximumOutput
    var promiseRead = promisedSize == nil
    if !zlibWrapped, data.count >= 18 {
        let b = [UInt8](data.suffix(4))
        let declared = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16 | Int(b[3]) << 24
        // ISIZE is exact for streams under 4 GiB; a bigger limit is never needed here.
        limit = min(limit, declared)
    }
    var stream = z_stream()
    var status = inflateInit2_(&stream, zlibWrapped ? MAX_WBITS : 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else { throw .corrupt(file: name, zlibCode: status, message: "inflateInit2 failed") }
    defer { inflateEnd(&stream) }
    var output = Data()
    let chunk = 1 << 20
    var buffer = [UInt8](repeating: 0, count: chunk)
    let input = [UInt8](data)
    var failure: GunzipError?
    input.withUnsafeBufferPointer { inp in
        stream.next_in = UnsafeMutablePointer(mutating: inp.baseAddress)
        stream.avail_in = uInt(inp.count)
        repeat {
            buffer.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(chunk)
                status = inflate(&stream, Z_NO_FLUSH)
                if let base = out.baseAddress { output.append(base, count: chunk - Int(stream.avail_out)) }
            }
            if !promiseRead, let promised = promisedSize?(output) {
                limit = min(limit, promised)
                promiseRead = true
            }
            if output.count > limit {
                failure = .tooLarge(file: name, limit: limit)
                return
            }
            if status != Z_OK && status != Z_STREAM_END {
                let message = stream.msg.map { String(cString: $0) } ?? "truncated or corrupt stream"
                failure = .corrupt(file: name, zlibCode: status, message: message)
                return
            }
        } while status != Z_STREAM_END && (stream.avail_in > 0 || stream.avail_out == 0)
        if status != Z_STREAM_END && failure == nil {
            failure = .corrupt(file: name, zlibCode: status, message: "stream ends before the gzip trailer")
        }
    }
    if let failure { throw failure }
    return output
}

/// CRC-32 (the zlib/PNG polynomial) of a byte buffer: the integrity check of model files.
public func crc32Checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    UInt32(crc32(0, bytes.bindMemory(to: Bytef.self).baseAddress, uInt(bytes.count)))
}
