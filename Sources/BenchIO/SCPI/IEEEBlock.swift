/// IEEE 488.2 arbitrary block data (IEEE 488.2 §7.7.6 program data, §8.7.9/§8.7.10 response
/// data): definite length `#<n><len><bytes>` with n = 1…9 digits of length, or indefinite
/// length `#0<bytes>` ended by NL with END (over USBTMC: EOM).
public enum IEEEBlock {
    /// Encodes a definite-length block (for waveform uploads), using the fewest length digits.
    /// Throws for more than 999 999 999 bytes (nine digits is the maximum).
    public static func encode<C: Collection>(_ payload: C) throws(IEEEBlockError) -> [UInt8] where C.Element == UInt8 {
        let count = payload.count
        guard count <= 999_999_999 else { throw .tooLarge(count) }
        let digits = Array(String(count).utf8)
        var bytes: [UInt8] = [UInt8(ascii: "#"), UInt8(ascii: "0") + UInt8(digits.count)]
        bytes.reserveCapacity(2 + digits.count + count)
        bytes += digits
        bytes += payload
        return bytes
    }

    /// Decodes a complete block at the start of `bytes` (after optional leading whitespace).
    /// Returns the payload and the bytes after it (typically the `\n` terminator).
    public static func decode(_ bytes: [UInt8], endOfMessage: Bool = true) throws(IEEEBlockError) -> (payload: [UInt8], rest: [UInt8]) {
        var decoder = IEEEBlockDecoder()
        _ = try decoder.feed(bytes)
        if !decoder.isComplete && endOfMessage { try decoder.finish() }
        guard decoder.isComplete else { throw .truncated(expected: decoder.expectedLength, received: decoder.payload.count) }
        return (decoder.payload, decoder.trailing)
    }
}

/// Incremental decoder for one block, fed with the pieces as they arrive (e.g. one
/// DEV_DEP_MSG_IN transfer at a time): state `#` → digit count → length digits → payload.
public struct IEEEBlockDecoder: Sendable {
    private enum Stage: Sendable {
        case hash, digitCount, lengthDigits(remaining: Int), payload, indefinite, done
    }

    private var stage = Stage.hash
    private var lengthText: [UInt8] = []
    /// The payload bytes received so far.
    public private(set) var payload: [UInt8] = []
    /// Bytes that arrived after the block (usually the `\n` terminator).
    public private(set) var trailing: [UInt8] = []
    /// The announced length (nil before it is known, or for `#0`).
    public private(set) var expectedLength: Int?
    /// Set once a definite block has all its bytes, or an indefinite one was finished.
    public var isComplete: Bool {
        if case .done = stage { return true }
        return false
    }
    /// True for an indefinite-length `#0` block, which ends only with the message.
    public var isIndefinite: Bool {
        if case .indefinite = stage { return true }
        return false
    }

    public init() {}

    /// Bytes of the block still missing, when known.
    public var remaining: Int? {
        guard let expectedLength else { return nil }
        return Swift.max(0, expectedLength - payload.count)
    }

    /// Consumes bytes; returns true when the block is complete.
    public mutating func feed<C: Collection>(_ bytes: C) throws(IEEEBlockError) -> Bool where C.Element == UInt8 {
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            switch stage {
            case .hash:
                if byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A { break }   // leading whitespace
                guard byte == UInt8(ascii: "#") else { throw .missingHash(found: byte) }
                stage = .digitCount
            case .digitCount:
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .invalidDigitCount(byte) }
                let n = Int(byte - UInt8(ascii: "0"))
                stage = n == 0 ? .indefinite : .lengthDigits(remaining: n)
            case .lengthDigits(let remaining):
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else {
                    throw .invalidLengthDigits(String(decoding: lengthText + [byte], as: UTF8.self))
                }
                lengthText.append(byte)
                if remaining == 1 {
                    let length = Int(String(decoding: lengthText, as: UTF8.self)) ?? 0
                    expectedLength = length
                    payload.reserveCapacity(length)
                    stage = length == 0 ? .done : .payload
                } else {
                    stage = .lengthDigits(remaining: remaining - 1)
                }
            case .payload:
                let needed = expectedLength! - payload.count
                let available = bytes.distance(from: index, to: bytes.endIndex)
                let take = Swift.min(needed, available)
                let end = bytes.index(index, offsetBy: take)
                payload.append(contentsOf: bytes[index..<end])
                index = end
                if payload.count == expectedLength { stage = .done }
                continue
            case .indefinite:
                payload.append(contentsOf: bytes[index...])
                return false
            case .done:
                trailing.append(contentsOf: bytes[index...])
                return true
            }
            index = bytes.index(after: index)
        }
        return isComplete
    }

    /// Ends the block at the end of the message: required for `#0` blocks (the final NL is
    /// removed, IEEE 488.2 §8.7.10); for a definite block it throws if bytes are missing.
    public mutating func finish() throws(IEEEBlockError) {
        switch stage {
        case .done: return
        case .indefinite:
            if payload.last == 0x0A { payload.removeLast() }
            stage = .done
        case .payload: throw .truncated(expected: expectedLength, received: payload.count)
        default: throw .truncated(expected: nil, received: 0)
        }
    }
}

/// A malformed IEEE 488.2 block.
public enum IEEEBlockError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingHash(found: UInt8)
    case invalidDigitCount(UInt8)
    case invalidLengthDigits(String)
    case truncated(expected: Int?, received: Int)
    case tooLarge(Int)

    public var description: String {
        switch self {
        case .missingHash(let b):
            return "the reply does not start with an IEEE 488.2 block: expected '#', found \(describeBytes([b])); was the data format set to binary (e.g. FORM REAL / WAV:FORM BYTE)?"
        case .invalidDigitCount(let b):
            return "the block header digit count is \(describeBytes([b])), not 0–9"
        case .invalidLengthDigits(let text):
            return "the block length \"\(text)\" contains a non-digit"
        case .truncated(let expected, let received):
            return "the message ended after \(received) block bytes" + (expected.map { " of \($0) announced" } ?? "") + "; increase the timeout or the read limit"
        case .tooLarge(let n):
            return "\(n) bytes do not fit a definite-length block (at most 999 999 999); split the upload"
        }
    }
}
