/// Renders bytes for error messages: printable ASCII as is, common control characters
/// escaped (`\n`, `\r`, `\t`), everything else as `\xNN`; long inputs are elided in the middle.
public func describeBytes<C: Collection>(_ bytes: C, limit: Int = 160) -> String where C.Element == UInt8 {
    var text = "\""
    let count = bytes.count
    let head = count > limit ? limit * 2 / 3 : count
    let tail = count > limit ? limit - head : 0
    func append(_ byte: UInt8) {
        switch byte {
        case 0x0A: text += "\\n"
        case 0x0D: text += "\\r"
        case 0x09: text += "\\t"
        case 0x22: text += "\\\""
        case 0x5C: text += "\\\\"
        case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = String(byte, radix: 16, uppercase: true)
            text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    for byte in bytes.prefix(head) { append(byte) }
    if count > limit {
        text += "\" … (\(count - head - tail) more bytes) … \""
        for byte in bytes.suffix(tail) { append(byte) }
    }
    text += "\""
    return count > limit ? text + " (\(count) bytes)" : text
}

/// Hex dump of bytes separated by spaces: `01 01 FE 00`.
public func hexBytes<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    bytes.map { byte in
        let hex = String(byte, radix: 16, uppercase: true)
        return hex.count == 1 ? "0" + hex : hex
    }.joined(separator: " ")
}
